"""Replay an order stream against live simulated stock: orders in time order, routed step by step
by the scenario's policy (policies.py: one order at a time, waves, or whole days) and their units
taken from stock at once (held and committed through the same store and Engine RouteOrder uses:
one code path, not a copy), node daily capacities resetting at midnight (the store's clock is the
stream's clock), receipts arriving at their time, nodes closing or opening on their dates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np

from ..app.engine import Engine
from ..app.opportunity_config import OpportunityConfig
from ..domain import DomainError, Limits, Mode, Network, Order, Plan
from ..domain.reservation import StockDelta
from ..inventory.memory import MemoryStore
from ..network.geo import haversine_km
from ..optimize.problem import unfilled_penalties
from ..optimize.stream_kernel import ChunkOutcomes
from .fast_replay import FastReplay, chunks, fast_replay_applies
from .policies import HOLD_TTL_S, OnlinePolicy, Policy, SimClock, make_policy
from .receipts import Receipt
from .rejections import Rejections
from .returns import ReturnFlow, ReturnOutcome
from .world import Stock, World


@dataclass(frozen=True, slots=True)     # slots: a year's stream keeps millions of these
class Outcome:
    """What happened to one order (the KPIs are sums and means of these)."""

    order_id: str
    day: str
    channel: str
    status: str
    units_ordered: int
    units_shipped: int
    shipments: int
    total_cost: float
    shipping_cost: float
    penalty_cost: float
    co2e_kg: float
    distance_km: float
    on_time: bool
    delivery_days: float
    nodes: str = ""          # the nodes that shipped, ";"-separated in shipment order
    rejections: int = 0      # nodes that refused their shipment (re-routed as RejectShipment)
    unserved_penalty: float = 0.0   # an order routed without a plan: what leaving it all unfilled costs


@dataclass(frozen=True)
class Run:
    """One replay: the outcomes in stream order and the stock before and after
    (start + received = end + shipped, per node and SKU)."""

    outcomes: tuple[Outcome, ...]
    start: Stock
    end_on_hand: np.ndarray
    shipped: np.ndarray      # units shipped per (node, SKU), the same shape as the stock
    received: np.ndarray     # units received per (node, SKU)
    stockouts: dict[tuple[str, str], str]   # (node, SKU) that ran out -> the first day it did
    returns: tuple[ReturnOutcome, ...] = ()  # with the scenario's returns: what each return became


class _Ledger:
    """Units in and out per (node, SKU), and where and when stock first ran out."""

    def __init__(self, world: World) -> None:
        self.network = world.network
        self.start = world.stock.on_hand
        self.col = {sku: j for j, sku in enumerate(world.stock.skus)}
        self.shipped = np.zeros_like(self.start)
        self.received = np.zeros_like(self.start)
        self.stockouts: dict[tuple[str, str], str] = {}

    def receive(self, receipt: Receipt) -> None:
        self.received[self.network.index_of(receipt.node_id), self.col[receipt.sku]] += receipt.units

    def ship(self, plan: Plan, day: str) -> None:
        for shipment in plan.shipments:
            i = self.network.index_of(shipment.node_id)
            for line in shipment.lines:
                j = self.col[line.sku]
                self.shipped[i, j] += line.quantity
                if self.start[i, j] + self.received[i, j] == self.shipped[i, j]:    # nothing left
                    self.stockouts.setdefault((shipment.node_id, line.sku), day)


def replay(world: World, orders: Sequence[Order], time_budget_ms: float,
           progress: Callable[[int, int], None] | None = None, receipts: Sequence[Receipt] = (),
           policy: Policy | None = None, seed: int = 0, fast: bool = True, sink: Sink | None = None) -> Run:
    """Route `orders` (sorted by arrival here) through `world` with `policy` (default: the
    scenario's mode) and account for every unit; `receipts` (in time order) arrive before the
    first step routed at or after their time. Nodes refuse shipments at the scenario's
    reject_rate (rejections.py, draws seeded by `seed`). The online policy takes the fast path
    (fast_replay.py: the same decisions, compiled) unless `fast` is False. With a `sink`, the
    outcomes go to it in batches as the replay goes (a year's stream need not be held) and
    Run.outcomes is empty."""
    orders = sorted(orders, key=lambda o: o.created_at)
    clock = SimClock(orders[0].created_at if orders else datetime.now(UTC))
    stock = world.stock
    store = MemoryStore.from_arrays(world.network, stock.skus, stock.on_hand, stock.safety, clock=clock,
                                    hold_ttl_s=HOLD_TTL_S)
    engine = _engine(world, world.network, store, clock, time_budget_ms)
    changes = list(world.changes)          # the network from each date on (nodes closing / opening)
    online = world.scenario.mode == "online" if policy is None else type(policy) is OnlinePolicy
    returns = world.scenario.returns if world.scenario.returns and world.scenario.returns.active else None
    if fast and online and returns is None and fast_replay_applies(world, orders):
        return _replay_fast(world, orders, engine, changes, time_budget_ms, receipts,
                            _Outcomes(len(orders), progress, sink))
    policy = policy or make_policy(world.scenario.mode, world.scenario.wave_minutes,
                                   ranking=world.scenario.ranking,
                                   refresh_days=world.scenario.price_refresh_days,
                                   forecast_days=world.scenario.forecast_days)
    rejections = Rejections(world.scenario.reject_rate, seed) if world.scenario.reject_rate else None
    ledger = _Ledger(world)
    replenishing = replenish_dates(world, orders)
    arriving = iter(receipts)
    pending = next(arriving, None)
    outcomes = _Outcomes(len(orders), progress, sink)
    flow = None if returns is None else ReturnFlow(returns, seed, time_budget_ms, world.network,
                                                   ledger.receive)
    for at, step in policy.steps(orders):
        clock.now = at
        while pending is not None and pending.at <= at:
            store.adjust(pending.node_id, pending.sku, pending.units)
            ledger.receive(pending)
            pending = next(arriving, None)
        while changes and at.date() >= changes[0][0]:
            engine = _engine(world, changes.pop(0)[1], store, clock, time_budget_ms)
        if replenishing and at.date() >= replenishing[0]:
            while replenishing and at.date() >= replenishing[0]:
                replenishing.pop(0)
            _replenish(store, world, ledger, at)
        if flow is not None:
            flow.until(at, engine)
        for order, result in zip(step, policy.route(engine, step), strict=True):
            if isinstance(result, DomainError):
                outcomes.append(_invalid(order, result))
                continue
            refused = 0
            if result.reservation_id and rejections is not None:
                result, refused = rejections.apply(engine, order, result)
            if result.reservation_id:
                store.commit(result.reservation_id)
                ledger.ship(result, order.created_at.date().isoformat())
                if flow is not None:
                    flow.shipped(order, result)
            outcomes.append(_outcome(order, result, refused, _unserved(engine, order, result)))
        outcomes.step_done()
    if flow is not None:
        flow.drain(engine)
    _, on_hand, _, _ = store.arrays()
    return Run(outcomes.kept(), stock, on_hand[:, :len(stock.skus)], ledger.shipped, ledger.received,
               ledger.stockouts, tuple(flow.outcomes) if flow is not None else ())


Sink = Callable[[list[Outcome]], object]     # what it returns is ignored


class _Outcomes:
    """A replay's outcomes: kept for its Run, or handed to a sink every FLUSH_OUTCOMES (and at the
    end); progress reported every 500 orders."""

    FLUSH_OUTCOMES = 20_000

    def __init__(self, total: int, progress: Callable[[int, int], None] | None, sink: Sink | None) -> None:
        self.total, self.progress, self.sink = total, progress, sink
        self.batch: list[Outcome] = []
        self.done = self.reported = 0

    def append(self, outcome: Outcome) -> None:
        self.batch.append(outcome)
        self.done += 1

    def step_done(self) -> None:
        if self.sink is not None and len(self.batch) >= self.FLUSH_OUTCOMES:
            self.sink(self.batch)
            self.batch = []
        if self.progress is not None and self.done - self.reported >= 500:
            self.reported = self.done
            self.progress(self.done, self.total)

    def kept(self) -> tuple[Outcome, ...]:
        """The outcomes for the Run: all of them, or none once the last batch went to the sink."""
        if self.sink is None:
            return tuple(self.batch)
        if self.batch:
            self.sink(self.batch)
            self.batch = []
        return ()


def _replay_fast(world: World, orders: Sequence[Order], engine: Engine, changes: list,
                 time_budget_ms: float, receipts: Sequence[Receipt], outcomes: _Outcomes) -> Run:
    """replay() through fast_replay.FastReplay: chunks between events (receipts, network changes)."""
    store, clock = engine.store, engine.clock
    assert isinstance(store, MemoryStore) and isinstance(clock, SimClock)
    fast = FastReplay(world, engine, time_budget_ms)
    node_ids = [node.node_id for node in world.network.nodes]
    dated = [[when for when, _ in changes], replenish_dates(world, orders)]
    for due, (n_changes, n_replenish), chunk in chunks(orders, receipts, dated):
        for receipt in due:
            fast.receive(receipt)
        for _ in range(n_changes):
            engine = _engine(world, changes.pop(0)[1], store, clock, time_budget_ms)
            fast.engine = engine
        if n_replenish:
            fast.replenish()
        for order, result in fast.route(chunk):
            if isinstance(result, DomainError):
                outcomes.append(_invalid(order, result))
            elif isinstance(result, Plan):
                outcomes.append(_outcome(order, result, 0, _unserved(engine, order, result)))
            else:
                outcomes.append(_kernel_outcome(order, fast.out, result, node_ids))
        outcomes.step_done()
    return Run(outcomes.kept(), world.stock, fast.state.on_hand, fast.state.shipped, fast.received,
               fast.stockouts())


def _kernel_outcome(order: Order, out: ChunkOutcomes, k: int, node_ids: list[str]) -> Outcome:
    """The outcome of an order the fast path's kernel routed (as _outcome of its plan)."""
    day = order.created_at.date().isoformat()
    if out.infeasible[k]:
        return Outcome(order.order_id, day, order.channel, "INFEASIBLE", order.total_units, 0, 0, 0.0, 0.0,
                       0.0, 0.0, 0.0, False, float("nan"), unserved_penalty=float(out.unserved[k]))
    ships, units, last = int(out.shipments[k]), int(out.units[k]), int(out.last_delivery[k])
    on_time = (last >= 0 and units == order.total_units
               and (order.deliver_by is None or last <= (order.deliver_by - order.created_at.date()).days))
    money, penalty = float(out.money[k]), float(out.penalty[k])
    return Outcome(order.order_id, day, order.channel, "OPTIMAL", order.total_units, units, ships,
                   money + penalty, money, penalty, float(out.co2e[k]), float(out.distance[k]), on_time,
                   float(last) if last >= 0 else float("nan"),
                   ";".join(node_ids[n] for n in out.nodes[k, :ships].tolist()))


def replenish_dates(world: World, orders: Sequence[Order]) -> list[date]:
    """The days (from the stream's first day, every scenario.replenish_every_days) whose first
    step tops every node x SKU back up to its starting level; none without replenishment."""
    every = world.scenario.replenish_every_days or 0
    if not every or not orders:
        return []
    first, last = orders[0].created_at.date(), orders[-1].created_at.date()
    return [first + timedelta(days=k) for k in range(every, (last - first).days + 1, every)]


def _replenish(store: MemoryStore, world: World, ledger: _Ledger, at: datetime) -> None:
    """The engine path's replenishment: each cell's shortfall against its starting on-hand level,
    added to the store as one batch of deltas."""
    skus, on_hand, _, _ = store.arrays()
    short = (world.stock.on_hand - on_hand[:, :len(world.stock.skus)]).clip(0)
    nodes = world.network.nodes
    tag = f"replenish:{at.date().isoformat()}"
    deltas = [StockDelta(f"{tag}:{i}:{j}", nodes[i].node_id, skus[j], adjust=int(q))
              for i, j, q in zip(*np.nonzero(short), short[short > 0].tolist(), strict=True)]
    if deltas:
        store.apply_deltas(deltas)
    ledger.received += short


def _engine(world: World, network: Network, store: MemoryStore, clock: SimClock,
            time_budget_ms: float) -> Engine:
    policies = dict(world.policies)
    # Zones by destination region (else 1-degree cells): what dilated rounding's shares are kept by.
    prices = OpportunityConfig(max_age_s=2 * 86_400 * world.scenario.price_refresh_days, zoning="region")
    if world.scenario.mode == "inventory_aware":   # its cost policies route on the prices too
        policies = {name: replace(p, mode=Mode.INVENTORY_AWARE) if p.mode is Mode.COST else p
                    for name, p in policies.items()}
    return Engine(network, world.rate_card, store, policies=policies,
                  default_policy=_default_policy(world), limits=Limits(time_budget_ms=time_budget_ms),
                  clock=clock, opportunity_config=prices, returns_config=world.returns_config)


def _default_policy(world: World) -> str:
    return "default" if "default" in world.policies else next(iter(world.policies))


def _unserved(engine: Engine, order: Order, plan: Plan) -> float:
    """An order the engine found no plan for (no stock and no backorders, or no time) costs
    nothing in its plan, yet the customer is lost: charge it what its policy prices a wholly
    unfilled order at (per order + per unit, with the order's overrides and the per-distance part
    over the farthest enabled node), so scenarios that serve fewer orders do not look cheaper."""
    if plan.status.has_plan:
        return 0.0
    network = engine.network
    distances = haversine_km(order.destination.latitude, order.destination.longitude, network.latitudes,
                             network.longitudes)
    per_order, per_unit = unfilled_penalties(order, engine.policy_for(order), network, distances)
    return float(per_order + per_unit * order.total_units)


def _outcome(order: Order, plan: Plan, refused: int = 0, unserved: float = 0.0) -> Outcome:
    shipped = sum(line.quantity for s in plan.shipments for line in s.lines)
    last = max((s.delivery_date for s in plan.shipments), default=None)
    on_time = (last is not None and shipped == order.total_units
               and (order.deliver_by is None or last <= order.deliver_by))
    return Outcome(order.order_id, order.created_at.date().isoformat(), order.channel, plan.status.name,
                   order.total_units, shipped, len(plan.shipments), plan.total_cost, plan.shipping_cost,
                   plan.penalty_cost, plan.co2e_kg, sum(s.distance_km for s in plan.shipments), on_time,
                   float((last - order.created_at.date()).days) if last is not None else float("nan"),
                   ";".join(s.node_id for s in plan.shipments), refused, unserved)


def _invalid(order: Order, exc: DomainError) -> Outcome:
    return Outcome(order.order_id, order.created_at.date().isoformat(), order.channel, "INVALID",
                   order.total_units, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, False, float("nan"))
