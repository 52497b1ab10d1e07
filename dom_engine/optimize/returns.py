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
from collections.abc import Mapping, Sequence
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


@dataclass
class ReturnProblem:
    """A return as the optimizer's Problem, its options, and the constant the costs were shifted by."""

    request: ReturnRequest
    problem: Problem
    options: list[ReturnOption]
    shift: float


def return_options(request: ReturnRequest, network: Network, rate_card: RateCard, setup: ReturnSetup,
                   stock_of: Mapping[str, np.ndarray] | None = None,
                   prices_of: Mapping[str, np.ndarray] | None = None) -> list[ReturnOption]:
    """Every (site, route) option of `request` with its per-line costs. `stock_of[sku]` (units per
    node) raises restock recovery at sites short of the SKU; `prices_of[sku]` (opportunity prices
    per node) replaces that bonus with the site's price of the SKU."""
    lines = request.lines
    origin = request.origin
    sites = [(network.index_of(nid), site) for nid, site in sorted(setup.sites.items())
             if network.has(nid) and nid not in request.options.excluded_nodes]
    sites = [(n, s) for n, s in sites if network.enabled[n]]
    if not sites:
        return []
    nodes = np.array([n for n, _ in sites], dtype=np.int64)
    weights = np.full(len(lines), rate_card.default_unit_weight_kg)
    km = haversine_km(origin.latitude, origin.longitude, network.latitudes, network.longitudes)
    prices: ServicePrices = price(rate_card, network, nodes, origin.latitude, origin.longitude, weights, km)
    out: list[ReturnOption] = []
    for row, (n, site) in enumerate(sites):
        recovery, disposition = _recovery(request, site, n, setup.recovery, stock_of, prices_of)
        if request.options.pickup_allowed:
            for s, service in enumerate(rate_card.services):
                if prices.available[row, s]:
                    out.append(ReturnOption(
                        n, service.name, float(prices.package[row, s] + prices.package_distance[row, s]),
                        prices.unit[row, s] + prices.unit_distance[row, s], site.handling_per_unit,
                        recovery, disposition, int(prices.transit_days[row, s])))
        if request.options.dropoff_allowed and site.dropoff and km[n] <= request.options.dropoff_radius_km:
            out.append(ReturnOption(n, DROPOFF, 0.0, np.zeros(len(lines)), site.handling_per_unit, recovery,
                                    disposition))
    return out


def _recovery(request: ReturnRequest, site: ReturnSite, node: int, values: RecoveryValues,
              stock_of: Mapping[str, np.ndarray] | None, prices_of: Mapping[str, np.ndarray] | None
              ) -> tuple[np.ndarray, tuple[Disposition | None, ...]]:
    """Per line: the best recovery per unit the site can give it, and that disposition."""
    best = np.full(len(request.lines), -np.inf)
    chosen: list[Disposition | None] = []
    for i, line in enumerate(request.lines):
        pick = None
        if line.condition in site.conditions:
            for d, v in _values(values, line.sku, line.condition, site.dispositions):
                if d is Disposition.RESTOCK:
                    v += _scarcity(line.sku, node, values, stock_of, prices_of)
                if v > best[i]:
                    best[i], pick = v, d
        chosen.append(pick)
    return best, tuple(chosen)


_ORDER = sorted(Disposition, key=lambda d: d.value)   # ties go to the first in this order


def _values(values: RecoveryValues, sku: str, condition, dispositions: frozenset[Disposition]
            ) -> list[tuple[Disposition, float]]:
    """(disposition, recovery) the site may give a unit of `sku` in `condition` (memoised per
    request shape: sites share a few profiles, a return has a few lines)."""
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


def _scarcity(sku: str, node: int, values: RecoveryValues, stock_of: Mapping[str, np.ndarray] | None,
              prices_of: Mapping[str, np.ndarray] | None) -> float:
    if prices_of is not None and sku in prices_of:
        return float(prices_of[sku][node])
    if stock_of is not None and sku in stock_of and stock_of[sku][node] < values.short_below:
        return values.short_bonus
    return 0.0


def build_return_problem(request: ReturnRequest, options: Sequence[ReturnOption], network: Network,
                         now: datetime) -> ReturnProblem:
    """The Problem of routing `request` over `options` (PreconditionError naming the line when no
    option takes one of its lines)."""
    n_lines = len(request.lines)
    for i, line in enumerate(request.lines):
        if not any(o.disposition[i] is not None for o in options):
            raise PreconditionError(f"lines[{i}].condition", f"no return site takes {line.sku!r} in "
                                    f"condition {line.condition.value!r} by an allowed route")
    qty = [line.quantity for line in request.lines]
    A = np.array([[q if o.disposition[i] is not None else 0 for i, q in enumerate(qty)] for o in options],
                 dtype=np.int64).reshape(len(options), n_lines)
    C = np.array([o.carrier_unit + o.handling - np.where(np.isfinite(o.recovery), o.recovery, 0.0)
                  for o in options]).reshape(len(options), n_lines)
    least = np.where(A > 0, C, np.inf).min(axis=0)
    C = np.where(A > 0, C - least, 0.0)
    Q = np.array([line.quantity for line in request.lines], dtype=np.int64)
    shift = float(least @ Q)
    order = Order(request.return_id, tuple(Line(ln.line_id, ln.sku, ln.quantity) for ln in request.lines),
                  request.origin, options=OrderOptions(allow_backorder=False), created_at=request.created_at)
    nodes = np.array([o.node for o in options], dtype=np.int64)
    zeros = np.zeros(len(options))
    problem = Problem(
        order=order, items=[(i,) for i in range(n_lines)], is_kit=np.zeros(n_lines, dtype=bool), Q=Q, A=A,
        C=C,
        f=np.array([o.package for o in options]), split_credit=0.0, P=np.zeros(n_lines), P0=0.0,
        allow_backorder=False, max_shipments=max(1, len(set(nodes.tolist()))), opt_node=nodes,
        opt_service=np.zeros(len(options), dtype=np.int64), opt_price_row=np.arange(len(options)),
        ship_offset=zeros.astype(np.int64), delivery_offset=zeros.astype(np.int64), prices=None,  # type: ignore[arg-type]
        line_sku_col=np.arange(n_lines), atp=np.zeros((len(network), n_lines), dtype=np.int64),
        shared_skus=False, penalty_money_per_unit=np.zeros(n_lines), penalty_money_per_order=0.0,
        cost_weight=1.0, now=now, stats={"nodes": len(network), "options": len(options)})
    return ReturnProblem(request, problem, list(options), shift)


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
        lines = tuple(
            ReturnAllocation(line.line_id, line.sku, int(q), opt.disposition[i],
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
