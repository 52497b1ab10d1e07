"""Routing a return with the outbound optimizer: the same Problem, the same exact search.

Options are (receiving site, route) pairs: each carrier service from the customer to the site
(carrier pickup) and, at sites taking drop-offs within the return's radius, a drop-off (no
carrier cost). Items are the return's lines; every unit must be received somewhere (no
"backorder"). An option's fixed cost is its package; a unit's cost there is the carrier's per-unit
charge + the site's handling - the recovery value of the best disposition the site can give the
unit's condition. Recovery can exceed cost, so each line's unit costs are shifted by their least
value (every unit is received exactly once: the shift is a constant, added back to the plan) to
keep the search's costs non-negative. A site is one node: at most one route per site.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ..domain import Line, Network, Order, OrderOptions, PreconditionError, RateCard
from ..domain.plan import PlanStatus
from ..domain.returns import (
    Disposition,
    RecoveryValues,
    ReturnAllocation,
    ReturnPackage,
    ReturnPlan,
    ReturnRequest,
    ReturnSite,
)
from ..domain.stop import Deadline
from ..network.geo import haversine_km
from ..network.pricing import ServicePrices, price
from .problem import Problem
from .single import solve
from .solution import Solution

DROPOFF = "dropoff"


@dataclass(frozen=True)
class ReturnSetup:
    """The network's return sites (by node id) and recovery values."""

    sites: Mapping[str, ReturnSite]
    recovery: RecoveryValues = field(default_factory=RecoveryValues)


@dataclass(frozen=True)
class ReturnOption:
    """One (site, route) option: its node index, route ("dropoff" or a service name), package cost
    and, per line, carrier cost per unit, handling per unit, recovery per unit and disposition
    (None where the site does not take the line)."""

    node: int
    route: str
    package: float
    carrier_unit: np.ndarray
    handling: float
    recovery: np.ndarray
    disposition: tuple[Disposition | None, ...]
    transit_days: int = 0


_ORDER = sorted(Disposition, key=lambda d: d.value)   # ties go to the first in this order
_CODE = {d: k for k, d in enumerate(_ORDER)}


@dataclass(frozen=True)
class OptionTable:
    """Every (site, route) option of a return as arrays, K options x L lines (ReturnOption per
    row on indexing or iteration). `disposition` holds codes into _ORDER, -1 where the option's
    site does not take the line (recovery -inf there)."""

    node: np.ndarray            # (K,) int64
    route: tuple[str, ...]      # (K,)
    package: np.ndarray         # (K,)
    carrier_unit: np.ndarray    # (K, L)
    handling: np.ndarray        # (K,)
    recovery: np.ndarray        # (K, L)
    disposition: np.ndarray     # (K, L) int64
    transit_days: np.ndarray    # (K,) int64

    def __len__(self) -> int:
        return len(self.route)

    def __getitem__(self, k: int) -> ReturnOption:
        return ReturnOption(int(self.node[k]), self.route[k], float(self.package[k]), self.carrier_unit[k],
                            float(self.handling[k]), self.recovery[k],
                            tuple(_ORDER[c] if c >= 0 else None for c in self.disposition[k].tolist()),
                            int(self.transit_days[k]))

    def __iter__(self) -> Iterator[ReturnOption]:
        return (self[k] for k in range(len(self)))


@dataclass
class ReturnProblem:
    """A return as the optimizer's Problem, its options, and the constant the costs were shifted by."""

    request: ReturnRequest
    problem: Problem
    options: OptionTable
    shift: float


def return_options(request: ReturnRequest, network: Network, rate_card: RateCard, setup: ReturnSetup,
                   stock_of: Mapping[str, np.ndarray] | None = None,
                   prices_of: Mapping[str, np.ndarray] | None = None) -> OptionTable:
    """Every (site, route) option of `request` with its per-line costs, site by site (sites in
    node id order), each site's carrier services in rate card order, then its drop-off.
    `stock_of[sku]` (units per node) raises restock recovery at sites short of the SKU;
    `prices_of[sku]` (opportunity prices per node) replaces that bonus with the site's price."""
    lines, origin, opts = request.lines, request.origin, request.options
    sites = [(network.index_of(nid), site) for nid, site in sorted(setup.sites.items())
             if network.has(nid) and nid not in opts.excluded_nodes]
    sites = [(n, s) for n, s in sites if network.enabled[n]]
    n_lines, n_services = len(lines), len(rate_card.services)
    if not sites:
        none = np.zeros(0, dtype=np.int64)
        return OptionTable(none, (), np.zeros(0), np.zeros((0, n_lines)), np.zeros(0), np.zeros((0, n_lines)),
                           np.zeros((0, n_lines), dtype=np.int64), none)
    nodes = np.array([n for n, _ in sites], dtype=np.int64)
    weights = np.full(n_lines, rate_card.default_unit_weight_kg)
    km = haversine_km(origin.latitude, origin.longitude, network.latitudes, network.longitudes)
    prices: ServicePrices = price(rate_card, network, nodes, origin.latitude, origin.longitude, weights, km)
    recovery, disposition = _recovery(request, sites, nodes, setup.recovery, stock_of, prices_of)
    pickup = prices.available & opts.pickup_allowed
    dropoff = np.array([s.dropoff for _, s in sites]) & (km[nodes] <= opts.dropoff_radius_km) & (
        opts.dropoff_allowed)
    rows, cols = np.nonzero(np.concatenate([pickup, dropoff[:, None]], axis=1))   # site, then route
    by_carrier = cols < n_services
    s = np.where(by_carrier, cols, 0)
    names = [service.name for service in rate_card.services] + [DROPOFF]
    handling = np.array([site.handling_per_unit for _, site in sites])
    return OptionTable(nodes[rows], tuple(names[c] for c in cols.tolist()),
                  np.where(by_carrier, (prices.package + prices.package_distance)[rows, s], 0.0),
                  np.where(by_carrier[:, None], (prices.unit + prices.unit_distance)[rows, s], 0.0),
                  handling[rows], recovery[rows], disposition[rows],
                  np.where(by_carrier, prices.transit_days[rows, s], 0))


def _recovery(request: ReturnRequest, sites: Sequence[tuple[int, ReturnSite]], nodes: np.ndarray,
              values: RecoveryValues, stock_of: Mapping[str, np.ndarray] | None,
              prices_of: Mapping[str, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per site (rows) and line: the best recovery per unit the site can give it and that
    disposition's code (-inf / -1 where the site does not take the line). Sites sharing a profile
    (conditions, dispositions) are worked out together: only restocking varies by node."""
    best = np.full((len(sites), len(request.lines)), -np.inf)
    chosen = np.full(best.shape, -1, dtype=np.int64)
    short_below = np.array([values.short_below if s.short_below is None else s.short_below for _, s in sites])
    profiles: dict[tuple[frozenset, frozenset], list[int]] = {}
    for row, (_, site) in enumerate(sites):
        profiles.setdefault((site.conditions, site.dispositions), []).append(row)
    for (conditions, dispositions), members in profiles.items():
        rows = np.array(members)
        for i, line in enumerate(request.lines):
            if line.condition not in conditions:
                continue
            other, other_code, restock = -np.inf, -1, None
            for d, v in _values(values, line.sku, line.condition, dispositions):
                if d is Disposition.RESTOCK:
                    restock = v
                elif v > other:
                    other, other_code = v, _CODE[d]
            best[rows, i], chosen[rows, i] = other, other_code
            if restock is not None:       # last in _ORDER: it wins only when strictly better
                worth = restock + _scarcity(line.sku, nodes[rows], short_below[rows], values.short_bonus,
                                            stock_of, prices_of)
                wins = worth > other
                best[rows[wins], i], chosen[rows[wins], i] = worth[wins], _CODE[Disposition.RESTOCK]
    return best, chosen


def _values(values: RecoveryValues, sku: str, condition, dispositions: frozenset[Disposition]
            ) -> list[tuple[Disposition, float]]:
    """(disposition, recovery) the site may give a unit of `sku` in `condition`, in _ORDER
    (memoised per request shape: sites share a few profiles, a return has a few lines)."""
    key = (id(values), sku, condition, dispositions)
    got = _MEMO.get(key)
    if got is None or got[0] is not values:
        pairs = [(d, values.value(sku, condition, d)) for d in _ORDER if d in dispositions]
        got = (values, [(d, v) for d, v in pairs if v is not None])
        if len(_MEMO) > 100_000:
            _MEMO.clear()
        _MEMO[key] = got
    return got[1]


_MEMO: dict[tuple, tuple[RecoveryValues, list[tuple[Disposition, float]]]] = {}


def _scarcity(sku: str, nodes: np.ndarray, short_below: np.ndarray, bonus: float,
              stock_of: Mapping[str, np.ndarray] | None,
              prices_of: Mapping[str, np.ndarray] | None) -> np.ndarray:
    """What restocking a unit of `sku` is worth on top of its value at each of `nodes`: its
    opportunity price there, else `bonus` where the node holds fewer than its `short_below`."""
    if prices_of is not None and sku in prices_of:
        return np.asarray(prices_of[sku], dtype=float)[nodes]
    if stock_of is not None and sku in stock_of:
        return np.where(np.asarray(stock_of[sku])[nodes] < short_below, bonus, 0.0)
    return np.zeros(len(nodes))


def build_return_problem(request: ReturnRequest, options: OptionTable, network: Network,
                         now: datetime) -> ReturnProblem:
    """The Problem of routing `request` over `options` (PreconditionError naming the line when no
    option takes one of its lines)."""
    n_lines = len(request.lines)
    taken = options.disposition >= 0
    for i, line in enumerate(request.lines):
        if not taken[:, i].any():
            raise PreconditionError(f"lines[{i}].condition", f"no return site takes {line.sku!r} in "
                                    f"condition {line.condition.value!r} by an allowed route")
    Q = np.array([line.quantity for line in request.lines], dtype=np.int64)
    A = np.where(taken, Q, 0).astype(np.int64)
    C = options.carrier_unit + options.handling[:, None] - np.where(taken, options.recovery, 0.0)
    least = np.where(taken, C, np.inf).min(axis=0)
    C = np.where(taken, C - least, 0.0)
    shift = float(least @ Q)
    order = Order(request.return_id, tuple(Line(ln.line_id, ln.sku, ln.quantity) for ln in request.lines),
                  request.origin, options=OrderOptions(allow_backorder=False), created_at=request.created_at)
    nodes = options.node
    zeros = np.zeros(len(options))
    problem = Problem(
        order=order, items=[(i,) for i in range(n_lines)], is_kit=np.zeros(n_lines, dtype=bool), Q=Q, A=A,
        C=C,
        f=options.package.copy(), split_credit=0.0, P=np.zeros(n_lines), P0=0.0,
        allow_backorder=False, max_shipments=max(1, len(set(nodes.tolist()))), opt_node=nodes,
        opt_service=np.zeros(len(options), dtype=np.int64), opt_price_row=np.arange(len(options)),
        ship_offset=zeros.astype(np.int64), delivery_offset=zeros.astype(np.int64), prices=None,  # type: ignore[arg-type]
        line_sku_col=np.arange(n_lines), atp=np.zeros((len(network), n_lines), dtype=np.int64),
        shared_skus=False, penalty_money_per_unit=np.zeros(n_lines), penalty_money_per_order=0.0,
        cost_weight=1.0, now=now, stats={"nodes": len(network), "options": len(options)})
    return ReturnProblem(request, problem, options, shift)


def route_return(rp: ReturnProblem, network: Network, stop: Deadline) -> ReturnPlan:
    """The cheapest way to receive the return (OPTIMAL when proven; else the best found and a
    bound), with the runner-up on another set of sites."""
    started = time.perf_counter()
    sol = solve(rp.problem, stop)
    return plan_of(rp, sol, network, (time.perf_counter() - started) * 1000)


def plan_of(rp: ReturnProblem, sol: Solution, network: Network, elapsed_ms: float) -> ReturnPlan:
    """The ReturnPlan of a solution of `rp.problem` (costs recomputed from the options)."""
    if not np.isfinite(sol.objective):
        return ReturnPlan(rp.request.return_id, PlanStatus.NO_PLAN_FOUND, (), 0.0, 0.0, 0.0, 0.0, 0.0,
                          elapsed_ms, sol.solver, infeasible_reason="no plan found within the time budget")
    packages = []
    for k, o in enumerate(sol.options.tolist()):
        opt = rp.options[o]
        lines = tuple(     # units go only where the site takes the line: its disposition is set
            ReturnAllocation(line.line_id, line.sku, int(q), _ORDER[int(rp.options.disposition[o, i])],
                             float(opt.carrier_unit[i] * q), float(opt.handling * q),
                             float(opt.recovery[i] * q))
            for i, (line, q) in enumerate(zip(rp.request.lines, sol.x[k].tolist(), strict=True)) if q > 0)
        if lines:
            packages.append(ReturnPackage(network.nodes[opt.node].node_id, opt.route, opt.package, lines,
                                          opt.transit_days))
    shipping = sum(p.package_cost + sum(a.shipping for a in p.lines) for p in packages)
    handling = sum(a.handling for p in packages for a in p.lines)
    recovery = sum(a.recovery for p in packages for a in p.lines)
    runner = None
    if sol.alternative is not None:
        runner = (tuple(network.nodes[n].node_id for n in sol.alternative[0]), sol.alternative[1] + rp.shift)
    status = PlanStatus.OPTIMAL if sol.proven_optimal else PlanStatus.FEASIBLE
    return ReturnPlan(rp.request.return_id, status, tuple(packages), shipping, handling, recovery,
                      shipping + handling - recovery, float(sol.lower_bound) + rp.shift, elapsed_ms,
                      sol.solver, runner)
