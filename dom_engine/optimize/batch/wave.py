"""One entry point for a batch: `solve_batch(BatchProblem(...), stop, params) -> BatchResult`.

Builds every order's problem on the batch's stock read (the same filters, kits, promise dates and
shipment limits as single-order routing), raises each order's penalty per unfilled unit by its
priority points, allocates jointly (solver.py) and turns the chosen columns into plans and KPIs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from ...domain import Network, Order, Plan, PlanStatus, PolicyProfile, RateCard
from ...domain.batch import BatchKpis, BatchResult, BatchSettings, BatchStatus, PriorityRule
from ...domain.stock import StockView
from ...domain.stop import Deadline
from ...network.geo import haversine_km
from ..params import SolverParams
from ..plan_builder import build_plan, infeasible_plan
from ..problem import build_problem
from ..single import explain
from ..solution import Solution
from .builder import build_problems
from .columns import Column, Entry, Layout
from .compiled_pricing import warm_up_batch
from .executors import ExecutorSpec
from .solver import Progress, allocate

# Relative gap under which a batch counts as OPTIMAL (floating point); when the exact joint model
# ran, the larger absolute tolerance of its integer-scaled costs (Allocation.tolerance) applies.
OPTIMAL_TOLERANCE = 1e-6
# Orders built at once (optimize/batch/builder.py): the budget is checked between chunks.
BUILD_CHUNK = 1000
DEFAULT_PARAMS = SolverParams()


def _silent(phase: str, done: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class BatchProblem:
    """A wave of orders to allocate jointly: `policies[k]` is order k's; `stock` covers every SKU
    of the wave with the shipments left per node (`stock.capacity_left`); `unit_capacity_left`
    caps the units per node (None: unlimited); `settings` price priorities; `now` is the clock."""

    orders: Sequence[Order]
    stock: StockView
    network: Network
    rate_card: RateCard
    policies: Sequence[PolicyProfile]
    settings: BatchSettings
    now: datetime
    unit_capacity_left: np.ndarray | None = None


def solve_batch(problem: BatchProblem, stop: Deadline | None = None, params: SolverParams = DEFAULT_PARAMS,
                progress: Progress | None = None) -> BatchResult:
    """Plans for all the problem's orders sharing its stock and the nodes' shipment and unit
    capacities, minimising the total objective before `stop` (the caller's deadline and
    cancellation; None: no limit), with a proven lower bound. `progress(phase, done, total)` is called now and
    then (phases "build", "solve", "improve"). `params` tunes every phase (optimize/params.py).

    Every phase counts: building the orders' problems, solving, building the plans. When time
    runs out while building, the orders not reached get a NO_PLAN_FOUND plan (nothing shipped,
    objective and lower bound 0, `stats["unreached"]` counts them): the batch's objective and
    bound cover the orders reached, and the bound stays valid (objectives are never negative);
    the batch is then FEASIBLE, never OPTIMAL."""
    warm_up_batch()   # compiled kernels: no-op once loaded (a server loads them before it listens)
    started = time.perf_counter()
    stop = stop or Deadline()
    report = progress or _silent
    orders, stock, network, rate_card = problem.orders, problem.stock, problem.network, problem.rate_card
    batch = prepare_batch(problem, stop, params, report)
    entries, layout, cap, points = batch.entries, batch.layout, batch.cap, batch.points
    build_s = time.perf_counter() - started
    report("build", len(entries), len(orders))
    # Turning the chosen plans into Plan objects takes 50-120 µs per order (measured): keep it inside.
    plans_s = params.budget.plan_seconds_per_order * len(entries)
    settings = problem.settings
    executor = ExecutorSpec(settings.executor, settings.pricing_workers, settings.ray_address)
    result = allocate(entries, layout, cap, stop.until(stop.end - plans_s), points, report, params, executor)
    elapsed_ms = (time.perf_counter() - started) * 1000
    t0 = time.perf_counter()
    plans = tuple(_plan(e, c, network, rate_card, stock, elapsed_ms, lb)
                  for e, c, lb in zip(entries, result.chosen, result.order_bounds, strict=True))
    unreached = len(orders) - len(entries)
    plans += tuple(_unreached(o, stock, network, elapsed_ms) for o in orders[len(entries):])
    result.stats["plans_s"] = time.perf_counter() - t0
    objective = result.objective
    proven = objective - result.lower_bound <= max(OPTIMAL_TOLERANCE * max(1.0, abs(objective)),
                                                   result.tolerance)
    status = BatchStatus.OPTIMAL if proven and not unreached else BatchStatus.FEASIBLE
    stats = dict(result.stats, build_s=build_s, priority_point_value=batch.point_value,
                 # the budget cut the work short: orders left unbuilt, or the time ran out
                 unreached=float(unreached), stopped=float(unreached > 0 or stop.expired()))
    return BatchResult(status, plans, objective, min(result.lower_bound, objective),
                       kpis(plans, orders, network), (time.perf_counter() - started) * 1000, stock.version,
                       stats)


def _unreached(order: Order, stock: StockView, network: Network, elapsed_ms: float) -> Plan:
    """The plan of an order the batch had no time to look at: nothing shipped, nothing proven."""
    return Plan(order.order_id, PlanStatus.NO_PLAN_FOUND, snapshot_version=stock.version,
                staleness_s=stock.staleness_s, stock_from_cache=stock.degraded, currency=network.currency,
                solver="batch", solve_time_ms=elapsed_ms,
                infeasible_reason="not reached within the batch's time budget: route it again")


@dataclass
class PreparedBatch:
    """A batch as numbers: one Entry per order (priority in its penalties), the resource layout,
    every resource's capacity, each order's priority points and the value of one point."""

    entries: list[Entry]
    layout: Layout
    cap: np.ndarray
    points: np.ndarray
    point_value: float


def prepare_batch(problem: BatchProblem, stop: Deadline | None = None, params: SolverParams = DEFAULT_PARAMS,
                  progress: Progress | None = None) -> PreparedBatch:
    """Each order's problem on the batch's stock read (as single-order routing builds it) and
    the shared resources; exact models in tests start from this too. With `stop`, building ends
    early, leaving time to turn the orders built into plans: then `entries` covers a prefix of
    `orders` only."""
    stop = stop or Deadline()
    report = progress or _silent
    orders, stock, network, rate_card = problem.orders, problem.stock, problem.network, problem.rate_card
    policies, settings, now = problem.policies, problem.settings, problem.now
    layout = Layout(len(network), len(stock.skus))
    col_of = {sku: j for j, sku in enumerate(stock.skus)}
    problems, glines = [], []
    # Destination-to-node distances of the whole batch in one numpy call, not one per order.
    lat = np.array([o.destination.latitude for o in orders])[:, None]
    lon = np.array([o.destination.longitude for o in orders])[:, None]
    distances = haversine_km(lat, lon, network.latitudes[None, :], network.longitudes[None, :])
    cap = _capacities(stock, network, policies, layout, problem.unit_capacity_left)
    for k in range(0, len(orders), BUILD_CHUNK):
        report("build", k, len(orders))
        end = min(k + BUILD_CHUNK, len(orders))
        if stop.remaining_s() <= (params.budget.after_build_seconds_per_order * end
                                  + params.budget.build_seconds_per_order * (end - k)
                                  + params.budget.unreached_seconds_per_order * (len(orders) - end)):
            break   # the orders built so far need solving and plans, the rest their plans
        chunk = build_problems(orders[k:end], policies[k:end], stock, network, rate_card, now,
                               distances[k:end])
        for j, built in enumerate(chunk, start=k):
            cols = np.array([col_of[line.sku] for line in orders[j].lines], dtype=np.int64)
            if built is None:    # kits and shared SKUs: one by one, on the order's SKUs
                uniq = np.unique(cols)
                view = StockView(stock.version, tuple(stock.skus[c] for c in uniq), stock.atp[:, uniq],
                                 stock.staleness_s, stock.capacity_left, degraded=stock.degraded)
                built = build_problem(orders[j], view, network, rate_card, policies[j], now, distances[j])
            problems.append(built)
            glines.append(cols)
    points = np.array([settings.points(order, now) for order in orders[:len(problems)]])
    entries = [Entry.of(k, p, g, layout, params)
               for k, (p, g) in enumerate(zip(problems, glines, strict=True))]
    step = _point_value(entries, settings)
    for e in entries:
        if points[e.index]:
            e.p = replace(e.p, P=e.p.P + step * points[e.index] * e.item_units)
    return PreparedBatch(entries, layout, cap, points, step)


def _point_value(entries: Sequence[Entry], settings: BatchSettings) -> float:
    """Objective per unfilled unit that one priority point adds. STRICT: more than moving one unit
    between two orders can ever save: a shipment's fixed cost plus the dearest unit cost in the
    batch (what serving the unit costs) plus the largest per-order penalty (what the order losing
    it may start to pay). So a point always wins the unit, whatever the costs."""
    if settings.priority_rule is PriorityRule.WEIGHTED:
        weight = max((e.p.cost_weight for e in entries), default=1.0)
        return settings.penalty_per_point * weight
    worst = 0.0
    for e in entries:
        if e.p.n_options:
            worst = max(worst, float(e.p.f.max() + (e.p.C / e.item_units[None, :]).max()))
    worst_p0 = max((float(e.p.P0) for e in entries), default=0.0)
    return worst + worst_p0 + 1.0


def _capacities(stock: StockView, network: Network, policies: Sequence[PolicyProfile], layout: Layout,
                unit_capacity_left: np.ndarray | None) -> np.ndarray:
    """Capacity of every resource: ATP after the strictest stock buffer of the batch's policies,
    shipments left today, units left today (inf where unlimited)."""
    atp = stock.atp.astype(np.float64, copy=True)
    buffers: dict = {}
    for policy in {id(p): p for p in policies}.values():
        for kind, buffer in policy.min_stock_buffer.items():
            buffers[kind] = max(buffers.get(kind, 0), buffer)
    for kind, buffer in buffers.items():
        atp[network.kinds == kind] -= buffer
    np.clip(atp, 0, None, out=atp)
    unlimited = np.full(layout.n_nodes, np.inf)
    ships = unlimited if stock.capacity_left is None else stock.capacity_left.astype(float)
    units = unlimited if unit_capacity_left is None else unit_capacity_left.astype(float)
    return np.concatenate([atp.ravel(), ships, units])


def _plan(e: Entry, col: Column, network: Network, rate_card: RateCard,
          stock: StockView, elapsed_ms: float, lower_bound: float) -> Plan:
    p = e.p
    optimal = col.cost <= lower_bound + OPTIMAL_TOLERANCE * max(1.0, abs(col.cost))
    if not len(col.options):
        if p.infeasible_reason or not p.allow_backorder:
            # Not allocating is what the batch's objective charged it: the full penalty.
            reason = p.infeasible_reason or ("not allocated in this batch: its stock went to orders "
                                             "of higher priority or value")
            plan = infeasible_plan(p, stock, reason, elapsed_ms, "batch", explain(p, None, network))
            penalty = p.penalty_money_per_order + float(p.penalty_money_per_unit @ _line_quantities(p))
            return replace(plan, penalty_cost=penalty, total_cost=penalty, objective=col.cost,
                           lower_bound=min(lower_bound, col.cost))
    sol = Solution(col.options, col.x, col.unfilled, col.cost, min(lower_bound, col.cost), optimal, "batch")
    return build_plan(p, sol, network, rate_card, stock, elapsed_ms, explain(p, sol, network))


def kpis(plans: Sequence[Plan], orders: Sequence[Order], network: Network) -> BatchKpis:
    units_by_node: dict[str, int] = {}
    ships_by_node: dict[str, int] = {}
    for plan in plans:
        for s in plan.shipments:
            units_by_node[s.node_id] = units_by_node.get(s.node_id, 0) + s.units
            ships_by_node[s.node_id] = ships_by_node.get(s.node_id, 0) + 1
    ordered = sum(o.total_units for o in orders)
    return BatchKpis(
        orders=len(plans),
        orders_complete=sum(1 for pl, o in zip(plans, orders, strict=True)
                            if pl.units_shipped == o.total_units),
        orders_unallocated=sum(1 for pl in plans if not pl.shipments),
        units_ordered=ordered,
        units_shipped=sum(pl.units_shipped for pl in plans),
        shipments=sum(len(pl.shipments) for pl in plans),
        shipping_cost=sum(pl.shipping_cost for pl in plans),
        penalty_cost=sum(pl.penalty_cost for pl in plans),
        units_by_node=dict(sorted(units_by_node.items())),
        shipments_by_node=dict(sorted(ships_by_node.items())),
    )


def _line_quantities(p) -> np.ndarray:
    return np.array([line.quantity for line in p.order.lines], dtype=np.float64)
