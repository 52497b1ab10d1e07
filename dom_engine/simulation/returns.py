"""Returns during a replay: every shipped unit comes back with its scenario's probability
(return_spec.py), a delay after its order's last delivery, in a drawn condition; the return is
routed when the customer sends it (Engine.route_return, the RouteReturn code path: by the
optimizer, or restricted to the returns centre by carrier), and its restocked units are added to
the receiving node's stock (Engine.commit_return, the CommitReturn path) once they have travelled
and been processed.

Draws are paired across scenarios: each order's draws come from its own generator (the seed and
the order id), a fixed number per ordered unit, so a unit shipped in two scenarios comes back in
both, at the same time, in the same condition, whichever node shipped it."""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from ..app.engine import Engine
from ..app.returns_config import ReturnsConfig
from ..domain import ConfigError, DomainError, Network, NodeKind, Order, Plan
from ..domain.returns import (
    Disposition,
    RecoveryValues,
    ReturnLine,
    ReturnOptions,
    ReturnPlan,
    ReturnReceipt,
    ReturnRequest,
)
from ..network.geo import haversine_km
from .receipts import Receipt
from .return_spec import CENTRE, ReturnsSpec

UNROUTED = "UNROUTED"     # a return no site would take (or no plan in its budget): nothing restocked


@dataclass(frozen=True, slots=True)
class ReturnOutcome:
    """What became of one order's returned units."""

    return_id: str
    order_id: str
    day: str                  # when the customer sent it (ISO date)
    status: str               # the return plan's status, or UNROUTED
    units: int
    shipping_cost: float
    handling_cost: float
    recovery_value: float     # money: the dispositions' recovery values, without shortage credit
    net_cost: float           # shipping + handling - recovery_value
    units_restocked: int
    restock_unit_days: float  # sum over restocked units of the days from sending to sellable
    dropoff_units: int
    sites: str                # receiving nodes, ";"-separated
    # What the router counted on top of recovery_value for restocking where stock is short (the
    # shortage bonus or opportunity prices): it steers the choice, but it is not money.
    shortage_credit: float = 0.0
    channel: str = ""         # the original order's sales channel


def resolve_returns(spec: ReturnsSpec, network: Network, skus: tuple[str, ...], config: ReturnsConfig,
                    where: str) -> ReturnsSpec:
    """`spec` checked against the base (SKUs and the centre named; errors name the key), with its
    returns centre chosen when routing to one and none is named: the warehouse taking every
    condition that comes back, nearest the centroid of the network's enabled nodes."""
    known = set(skus)
    for sku in spec.by_sku:
        if sku not in known:
            raise ConfigError(f"{where}.returns.by_sku.{sku}", "unknown SKU (not in the base stock)")
    sites = config.sites_of(network)
    needed = {c for c, share in spec.conditions.items() if share > 0}
    taken = {c for s in sites.values() if network.has(s.node_id) for c in s.conditions}
    if needed - taken:
        raise ConfigError(f"{where}.returns.conditions", f"no return site ([returns.sites]) takes "
                                                          f"{sorted(c.value for c in needed - taken)} units")
    if spec.routing != CENTRE:
        return spec
    if spec.centre is not None:
        if not network.has(spec.centre):
            raise ConfigError(f"{where}.returns.centre", f"unknown node {spec.centre!r}")
        site, key = sites.get(spec.centre), f"{where}.returns.centre"
        if site is None:
            raise ConfigError(key, f"node {spec.centre!r} takes no returns ([returns.sites])")
        missing = sorted(c.value for c in needed - site.conditions)
        if missing:
            raise ConfigError(key, f"node {spec.centre!r} does not take {missing} units, which come back "
                                   "(returns.conditions)")
        return spec
    enabled = [n for n in network.nodes if n.enabled]
    lat = float(np.mean([n.latitude for n in enabled])) if enabled else 0.0
    lon = float(np.mean([n.longitude for n in enabled])) if enabled else 0.0
    candidates = [n for n in enabled if n.kind is NodeKind.WAREHOUSE and n.node_id in sites
                  and needed <= sites[n.node_id].conditions]
    if not candidates:
        raise ConfigError(f"{where}.returns.centre", "no warehouse takes every condition that comes back; "
                                                     "name the returns centre")
    km = haversine_km(lat, lon, np.array([n.latitude for n in candidates]),
                      np.array([n.longitude for n in candidates]))
    return replace(spec, centre=candidates[int(np.argmin(km))].node_id)


@dataclass(frozen=True, slots=True)
class _Send:
    """A customer sends a return back (routed then)."""

    request: ReturnRequest
    channel: str          # the original order's


@dataclass(frozen=True, slots=True)
class _Restock:
    """Restocked units of a return become sellable at their sites."""

    return_id: str
    receipts: list[ReturnReceipt]


class ReturnFlow:
    """The returns of one replay: drawn as orders ship, routed when sent, restocked when sellable.
    Events are kept in time order and run by `until` (before each step of the stream) and
    `drain` (after its last order)."""

    def __init__(self, spec: ReturnsSpec, seed: int, time_budget_ms: float, network: Network,
                 received: Callable[[Receipt], None]) -> None:
        self.spec, self.seed, self.time_budget_ms = spec, seed, time_budget_ms
        self.received = received
        self.conditions = list(spec.conditions)
        self.cumulative = np.cumsum([spec.conditions[c] for c in self.conditions])
        self.events: list[tuple[datetime, int, _Send | _Restock]] = []
        self.sequence = 0
        self.outcomes: list[ReturnOutcome] = []
        self.options = ReturnOptions(dropoff_allowed=spec.dropoff, dropoff_radius_km=spec.dropoff_radius_km)
        if spec.routing == CENTRE:     # by carrier to the centre, nowhere else
            others = frozenset(n.node_id for n in network.nodes if n.node_id != spec.centre)
            self.options = ReturnOptions(dropoff_allowed=False, excluded_nodes=others)

    def shipped(self, order: Order, plan: Plan) -> None:
        """Draw which of the units `plan` shipped come back, and when."""
        if not plan.shipments:
            return
        rng = np.random.default_rng([self.seed, zlib.crc32(order.order_id.encode())])
        delay = rng.uniform(*self.spec.delay_days)
        sent: dict[str, int] = {}
        for shipment in plan.shipments:
            for part in shipment.lines:
                sent[part.sku] = sent.get(part.sku, 0) + part.quantity
        lines = []
        for line in order.lines:                 # a fixed number of draws per ordered unit: paired
            back, kind = rng.random(line.quantity), rng.random(line.quantity)
            units = min(sent.get(line.sku, 0), line.quantity)
            sent[line.sku] = sent.get(line.sku, 0) - units
            rate = self.spec.rate_of(line.sku, order.channel)
            returned = kind[:units][back[:units] < rate]
            counts = np.bincount(np.searchsorted(self.cumulative, returned, side="right").clip(
                0, len(self.conditions) - 1), minlength=len(self.conditions))
            for condition, n in zip(self.conditions, counts.tolist(), strict=True):
                if n:
                    lines.append(ReturnLine(f"{line.line_id}:{condition.value}", line.sku, n, condition))
        if not lines:
            return
        delivered = max(s.delivery_date for s in plan.shipments)
        at = datetime.combine(delivered, order.created_at.timetz()) + timedelta(days=delay)
        self._push(at, _Send(ReturnRequest(f"RET-{order.order_id}", tuple(lines), order.destination,
                                           order_id=order.order_id, reason="simulated", options=self.options,
                                           created_at=at), order.channel))

    def until(self, at: datetime, engine: Engine) -> None:
        """Run every event due by `at` in time order, the engine's clock at each event's time."""
        clock = engine.clock
        while self.events and self.events[0][0] <= at:
            when, _, event = heapq.heappop(self.events)
            clock.now = max(when, clock.now)        # type: ignore[attr-defined]
            if isinstance(event, _Send):
                self.outcomes.append(self._route(event.request, event.channel, engine))
            else:
                engine.commit_return(event.return_id, event.receipts)
                for r in event.receipts:
                    self.received(Receipt(when, r.node_id, r.sku, r.quantity))
        clock.now = max(at, clock.now)             # type: ignore[attr-defined]

    def drain(self, engine: Engine) -> None:
        """Every return still to be sent or restocked (after the stream's last order)."""
        while self.events:      # routing schedules restocks later than every event left
            self.until(max(e[0] for e in self.events), engine)

    def _route(self, request: ReturnRequest, channel: str, engine: Engine) -> ReturnOutcome:
        units = sum(line.quantity for line in request.lines)
        day = request.created_at.date().isoformat()
        try:
            plan = engine.route_return(request, time_budget_ms=self.time_budget_ms)
        except DomainError:
            plan = None
        if plan is None or not plan.status.has_plan:
            return ReturnOutcome(request.return_id, request.order_id, day, UNROUTED, units, 0.0, 0.0, 0.0,
                                 0.0, 0, 0.0, 0, "", channel=channel)
        return self._restock(request, plan, day, units, engine.returns_config.recovery, channel)

    def _restock(self, request: ReturnRequest, plan: ReturnPlan, day: str, units: int,
                 values: RecoveryValues, channel: str) -> ReturnOutcome:
        """The outcome of a routed return (its money recovery from `values`, without the shortage
        credit the plan's recovery counts); its restocked units scheduled to become sellable."""
        condition = {line.line_id: line.condition for line in request.lines}
        money = sum(a.quantity * (values.value(a.sku, condition[a.line_id], a.disposition) or 0.0)
                    for p in plan.packages for a in p.lines)
        restocked, unit_days, dropped = 0, 0.0, 0
        for p in plan.packages:
            if p.route == "dropoff":
                dropped += sum(a.quantity for a in p.lines)
            receipts = [ReturnReceipt(a.line_id, p.node_id, a.sku, a.quantity, a.disposition)
                        for a in p.lines if a.disposition is Disposition.RESTOCK]
            if not receipts:
                continue
            days = p.transit_days + self.spec.processing_days
            self._push(request.created_at + timedelta(days=days), _Restock(request.return_id, receipts))
            n = sum(r.quantity for r in receipts)
            restocked += n
            unit_days += n * days
        return ReturnOutcome(request.return_id, request.order_id, day, plan.status.name, units,
                             plan.shipping_cost, plan.handling_cost, money,
                             plan.shipping_cost + plan.handling_cost - money, restocked, unit_days, dropped,
                             ";".join(p.node_id for p in plan.packages), plan.recovery_value - money, channel)

    def _push(self, at: datetime, event: _Send | _Restock) -> None:
        self.sequence += 1          # ties keep the order they were made in
        heapq.heappush(self.events, (at, self.sequence, event))


def return_kpis(returns: Iterable[ReturnOutcome], cost_with_unserved: float) -> dict[str, float]:
    """Return KPIs of a run (zeros without returns): money, units restocked, days to restock, and
    the run's cost with the returns' net cost added (what a planner compares scenarios on)."""
    n = units = restocked = unrouted = dropped = 0
    shipping = handling = recovery = net = unit_days = credit = 0.0
    for r in returns:
        n += 1
        units += r.units
        restocked += r.units_restocked
        unrouted += r.status == UNROUTED
        dropped += r.dropoff_units
        shipping += r.shipping_cost
        handling += r.handling_cost
        recovery += r.recovery_value
        net += r.net_cost
        unit_days += r.restock_unit_days
        credit += r.shortage_credit
    return {
        "returns": float(n), "units_returned": float(units), "returns_unrouted": float(unrouted),
        "return_shipping_cost": shipping, "return_handling_cost": handling, "return_recovery_value": recovery,
        "return_net_cost": net, "return_shortage_credit": credit,
        # carrier + handling per returned unit (what receiving it costs), and net of recovery
        "return_cost_per_unit": (shipping + handling) / units if units else 0.0,
        "return_net_cost_per_unit": net / units if units else 0.0,
        "units_restocked": float(restocked),
        "mean_days_to_restock": unit_days / restocked if restocked else 0.0,
        "dropoff_share": dropped / units if units else 0.0,
        "cost_with_returns": cost_with_unserved + net,
    }

