"""Batch routing, the use case behind RouteBatch and `dom batch`: validate a wave of orders, read
their stock once, allocate them jointly (optimize.batch) and, when asked, hold every plan through
the same store as single orders (through OrderRouting's public methods).

Reservations of a batch, order by order (each all or nothing, as `Engine.route(reserve=True)`):
- an order that already holds a reservation (a retried batch) is left out of the solve and gets
  the plan of its held units (`OrderRouting.plan_of_reservation`): nothing is ever held twice, and the
  units it holds no longer count against the batch's unit caps;
- every other plan with shipments is held in one `store.reserve_many` call;
- an order whose hold meets a ReservationConflict (stock moved since the read) is re-routed alone
  with `OrderRouting.route(reserve=True)` in what is left of the time budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..domain import DomainError, Order, Plan, PlanStatus, check_skus
from ..domain.batch import BatchResult, BatchSettings, BatchStatus, validate_batch
from ..domain.errors import under_field
from ..domain.reservation import Reservation, ReservationConflict
from ..domain.stop import Deadline, Stopped
from ..optimize.batch import BatchProblem, solve_batch
from ..optimize.batch.wave import OPTIMAL_TOLERANCE
from ..optimize.batch.wave import kpis as batch_kpis
from .routing import OrderRouting, plan_allocations, skus_of

# progress(phase, done, total) of a batch: phases "build", "solve", "improve", "reserve".
BatchProgress = Callable[[str, int, int], None]

# Holding a batch's plans (one reserve_many): time kept for it per order (measured ~20 µs per
# order on the memory store, more on Redis; with a margin).
RESERVE_SECONDS_PER_ORDER = 50e-6


@dataclass(frozen=True)
class BatchRouting:
    """Routes waves of orders jointly, holding through `routing` (its store, network and policies)."""

    routing: OrderRouting
    settings: BatchSettings

    def route_batch(self, orders: Sequence[Order], *, reserve: bool = False,
                    time_budget_ms: float | None = None, progress: BatchProgress | None = None,
                    stop: Deadline | None = None) -> BatchResult:
        """See `dom_engine.app.engine.Engine.route_batch`."""
        return _route_batch(self.routing, self.settings, orders, reserve, time_budget_ms, progress, stop)


def _route_batch(routing: OrderRouting, settings: BatchSettings, orders: Sequence[Order], reserve: bool,
                time_budget_ms: float | None, progress: BatchProgress | None,
                stop: Deadline | None = None) -> BatchResult:
    """See `Engine.route_batch` (app/engine.py). Validation and the stock read come first (an
    invalid order must be named); when they used the budget up the orders get NO_PLAN_FOUND plans (see
    optimize.batch.solve_batch). A cancelled call (the client is gone) raises Stopped instead.
    Re-routes after lost races get what is left of the budget."""
    started = time.perf_counter()
    budget = settings.time_budget_ms if time_budget_ms is None else time_budget_ms
    stop = Deadline.after_ms(budget, stop)
    orders = list(orders)
    validate_batch(orders, settings)
    policies = []
    for k, order in enumerate(orders):
        if k % 256 == 255 and stop.cancelled:
            raise Stopped(f"cancelled while validating {len(orders)} orders", cancelled=True)
        with under_field(f"orders[{k}]"):
            routing.check_request(order)
            policies.append(routing.policy_for(order))
    held = _confirmed_holds(routing, orders, policies) if reserve else {}
    stock = routing.store.read(list(dict.fromkeys(line.sku for o in orders for line in o.lines)))
    for k, order in enumerate(orders):
        with under_field(f"orders[{k}]"):
            check_skus(order, stock.unknown)

    todo = [k for k, o in enumerate(orders) if o.order_id not in held]
    plans: list[Plan | None] = [None] * len(orders)
    solved = None
    if todo:
        if stop.cancelled:
            raise Stopped(f"cancelled before routing {len(todo)} orders", cancelled=True)
        # Holding the plans takes time too (one reserve_many): the optimizer leaves it that.
        solve_stop = stop
        if reserve:
            solve_stop = stop.within(stop.remaining_s() - RESERVE_SECONDS_PER_ORDER * len(todo))
        wave = BatchProblem([orders[k] for k in todo], stock, routing.network, routing.rate_card,
                            [policies[k] for k in todo], settings, routing.clock(),
                            _unit_caps(routing, held.values()))
        solved = solve_batch(wave, solve_stop, routing.solver, progress)
        for k, plan in zip(todo, solved.plans, strict=True):
            plans[k] = plan
    # A retried batch: orders holding a reservation get the plan of exactly those units.
    for k, order in enumerate(orders):
        if order.order_id in held:
            plans[k] = routing.plan_of_reservation(order, held[order.order_id], skus_of(order), policies[k])
    changed: dict[int, Plan] = {}   # order index -> the solver's plan it replaced
    counts = {"held": float(len(held)), "rerouted": 0.0, "unreserved": 0.0}
    if reserve and todo:
        if stop.cancelled:   # the caller is gone: holds now would never be seen
            raise Stopped("the call was cancelled before its plans were reserved", cancelled=True)
        _hold(routing, orders, plans, todo, policies, stop, changed, counts, progress)
    return _result(routing, orders, plans, solved, held, changed, counts, stock.version, started)


def _hold(routing: OrderRouting, orders: list[Order], plans: list, todo: list[int], policies: list,
          stop: Deadline, changed: dict[int, Plan], counts: dict[str, float],
          progress: BatchProgress | None) -> None:
    """Hold the solved plans (one reserve_many call); re-route the orders that lost a race."""
    want = [k for k in todo if plans[k].status.has_plan and plans[k].shipments]
    if progress is not None:
        progress("reserve", 0, len(want))
    # the batch planned with the strictest buffer of its policies (optimize.batch), so holds keep that
    buffers: dict[str, int] = {}
    for policy in (policies[k] for k in todo):
        for kind, buffer in policy.min_stock_buffer.items():
            buffers[kind] = max(buffers.get(kind, 0), buffer)
    outcomes = routing.store.reserve_many(
        [(orders[k].order_id, routing.with_buffers(plan_allocations(plans[k]), buffers)) for k in want])
    lost = []
    for k, outcome in zip(want, outcomes, strict=True):
        if isinstance(outcome, ReservationConflict):
            lost.append(k)
        elif isinstance(outcome, DomainError):
            with under_field(f"orders[{k}]"):
                raise outcome
        elif isinstance(outcome, Exception):
            raise outcome
        elif _units(outcome.allocations) == _units(plan_allocations(plans[k])):
            plans[k] = replace(plans[k], reservation_id=outcome.reservation_id)
        else:
            # Another request reserved this order between our look-up and our hold (a retry
            # racing its original): the order keeps the units that request holds.
            changed[k] = plans[k]
            plans[k] = routing.plan_of_reservation(orders[k], outcome, skus_of(orders[k]), policies[k])
    if progress is not None:
        progress("reserve", len(want), len(want))
    for k in lost:
        changed[k] = plans[k]
        counts["rerouted"] += 1
        try:
            plans[k] = routing.route(orders[k], reserve=True, time_budget_ms=stop.remaining_ms(), stop=stop)
        except ReservationConflict as exc:
            counts["unreserved"] += 1
            before = changed[k]
            reason = f"could not be reserved: stock kept moving ({exc}); retry the order"
            plans[k] = Plan(orders[k].order_id, PlanStatus.NO_PLAN_FOUND, objective=before.objective,
                            snapshot_version=before.snapshot_version, currency=before.currency,
                            solver="batch", infeasible_reason=reason)


def _result(routing: OrderRouting, orders: list[Order], plans: list, solved: BatchResult | None,
            held: dict[str, Reservation], changed: dict[int, Plan], counts: dict[str, float],
            version: int, started: float) -> BatchResult:
    """The batch's result over the plans returned. Held plans add their objective to the objective
    and to the bound (nothing was decided for them); replaced plans change the objective only."""
    elapsed_ms = _ms_since(started)
    stats = dict(solved.stats) if solved is not None else {}
    stats.update(counts, solver_ms=solved.solve_time_ms if solved is not None else 0.0)
    if solved is not None and not held and not changed:
        return replace(solved, plans=tuple(plans), solve_time_ms=elapsed_ms, stats=stats)
    fixed = sum(plans[k].objective for k, o in enumerate(orders) if o.order_id in held)
    objective = (solved.objective if solved is not None else 0.0) + fixed
    objective += sum(plans[k].objective - before.objective for k, before in changed.items())
    lower_bound = min(objective, (solved.lower_bound if solved is not None else 0.0) + fixed)
    proven = objective - lower_bound <= OPTIMAL_TOLERANCE * max(1.0, abs(objective))
    return BatchResult(BatchStatus.OPTIMAL if proven else BatchStatus.FEASIBLE, tuple(plans), objective,
                       lower_bound, batch_kpis(plans, orders, routing.network), elapsed_ms, version, stats)


def _confirmed_holds(routing: OrderRouting, orders: list[Order], policies: list) -> dict[str, Reservation]:
    """The reservations a retried batch finds, each reserved again with its own units (idempotent,
    one reserve_many): the store finishes what a lost reply cut short, e.g. a Cluster counts the
    shipment against the day's capacity. One the store gave back because the day is full is
    routed afresh with the batch."""
    held = routing.store.reservations_for_orders([o.order_id for o in orders])
    buffers = {o.order_id: p.min_stock_buffer for o, p in zip(orders, policies, strict=True)}
    again = [(oid, routing.with_buffers(r.allocations, buffers[oid])) for oid, r in held.items()
             if not r.committed and r.allocations]
    if again:
        for (oid, _), outcome in zip(again, routing.store.reserve_many(again), strict=True):
            if isinstance(outcome, Reservation):
                held[oid] = outcome
            elif isinstance(outcome, ReservationConflict):
                still = routing.store.reservation_for_order(oid)
                if still is None:
                    del held[oid]
                else:
                    held[oid] = still
    return held


def _unit_caps(routing: OrderRouting, held: Iterable[Reservation]) -> np.ndarray | None:
    """Units each node may still ship in this batch: its daily_unit_capacity (inf when None) less
    the units the batch's orders already hold there (a retried batch). None when nothing is capped."""
    caps = routing.network.daily_unit_capacities
    if np.isinf(caps).all():
        return None
    caps = caps.copy()
    for reservation in held:
        for a in reservation.allocations:
            caps[routing.network.index_of(a.node_id)] -= a.quantity
    return np.clip(caps, 0, None)


def _units(allocations) -> list[tuple[str, str, int]]:
    return sorted((a.node_id, a.sku, a.quantity) for a in allocations)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
