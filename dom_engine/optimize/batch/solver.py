"""Joint allocation of a batch: column generation over per-order plans, with an honest bound.

Why this formulation: per-shipment package costs make the plain LP over units weak (REFERENCES:
>= 1.9 % below the optimum on a 120-order wave). The LP over per-order *plans* (columns, Amil,
Makhdoumi & Wei 2025) is as strong as a Lagrangian relaxation with exact per-order subproblems,
and the exact single-order search is exactly that subproblem. So:

1. Every order alone on the full stock, exactly. Their sum is a lower bound; where no resource is
   over-subscribed it is also the optimum (most waves are mostly uncontested).
2. Only orders whose plans touch an over-subscribed resource enter the master LP ("active"); an
   order that needs none keeps its plan, which stays optimal for it under any prices of the
   contested resources. Each active order starts with its cheapest plans and its best plan
   avoiding every contested resource. Before each master solve, every resource that the plans in
   the pools could over-subscribe joins the master, with the orders whose plans use it.
3. Column generation: the master's duals (dual.py), averaged with the prices of the best bound
   so far (Wentges smoothing), price the contested resources, every active order is re-solved
   exactly at those prices (only when a price it could pay changed), and its plan joins
   the master when its reduced cost is negative. Each round gives a valid Lagrangian bound
       sum_o v_o(lam) - lam . cap
   (v_o: the order's exact priced optimum, or a proven lower bound on it), whatever the master did.
4. Rounding, restricted-master MIP and local search (rounding.py) turn the LP into plans.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ...domain.stop import Deadline
from ..params import SolverParams
from .column_generation import OVER_EPS, ColumnGeneration
from .columns import Column, Entry, Layout, solve_exact
from .exact import model_size, solve_joint
from .executors import ExecutorSpec
from .finish import finish
from .rounding import fits, reoptimize, route_on, take
from .router import WaveRouter

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]   # (phase, done, total)

# Orders solved alone per call of the kernel: the deadline is looked at between calls.
ALONE_SLICE = 2000



@dataclass
class BatchAllocation:
    """The batch solver's answer: one column per entry, the bound, and what it took."""

    chosen: list[Column]           # per entry
    lower_bound: float
    objective: float
    order_bounds: np.ndarray       # per entry: its optimum alone on the full stock (a lower bound)
    stats: dict[str, float] = field(default_factory=dict)
    # Absolute: how far above the optimum a plan may be that the exact model proved optimal (its
    # costs are scaled to integers; exact.rounding_tolerance). 0 when it did not run.
    tolerance: float = 0.0


def usage_of(columns: Sequence[Column], size: int) -> np.ndarray:
    """Total use of every resource by `columns`."""
    out = np.zeros(size)
    if not columns:
        return out
    np.add.at(out, np.concatenate([c.res for c in columns]), np.concatenate([c.use for c in columns]))
    return out


def allocate(entries: Sequence[Entry], layout: Layout, cap: np.ndarray, deadline: Deadline,
             priority: np.ndarray, progress: Progress, params: SolverParams,
             executor: ExecutorSpec | None = None) -> BatchAllocation:
    """Choose one column per entry within `cap` (per resource; inf = unlimited), minimising the
    total objective, by `deadline` (a Deadline, or a time.perf_counter() value). `priority` orders
    the rounding. A cancelled deadline ends every phase at its next look at the clock; the plans
    and bound so far are returned (orders not yet solved alone ship nothing, bound 0). The
    orders' searches run on `executor` (threads of this process by default)."""
    router = WaveRouter(entries, layout, executor)
    try:
        return _allocate(entries, layout, cap, deadline, priority, progress, params, router)
    finally:
        router.close()


def _allocate(entries: Sequence[Entry], layout: Layout, cap: np.ndarray, deadline: Deadline,
              priority: np.ndarray, progress: Progress, params: SolverParams, router: WaveRouter
              ) -> BatchAllocation:
    started = time.perf_counter()
    n = len(entries)
    stats: dict[str, float] = {"orders": n}
    chosen, sequential, starts, lb0, left, regret, rerouted = _alone_then_in_turn(
        entries, layout, cap, deadline, priority, progress, router)
    stats["independent_s"] = time.perf_counter() - started
    stats["sequential_rerouted"] = rerouted
    usage = usage_of(chosen, layout.size)
    over = np.flatnonzero(usage > cap + OVER_EPS)
    stats["contested_resources"] = len(over)
    stats["sequential_objective"] = float(sum(c.cost for c in sequential))
    if len(over) == 0:
        return BatchAllocation(chosen, float(lb0.sum()), float(sum(c.cost for c in chosen)), lb0, stats)

    progress("solve", n, n)
    is_over = np.zeros(layout.size, dtype=bool)
    is_over[over] = True
    touching = sum(1 for c in chosen if is_over[c.res].any())
    round_s = params.rounding.round_seconds_per_order
    if round_s * touching >= deadline.remaining_s():
        # No time for column generation (not even to round once): improve the sequential plans
        # by re-routing single orders while time is left; the bound is the orders' optima alone.
        movable = [k for k in np.lexsort((-regret, -priority)).tolist()
                   if sequential[k].cost > lb0[k] + 1e-9]
        stats["local_moves"] = reoptimize(entries, sequential, movable, left, layout, deadline, router)
        stats["independent_bound"] = float(lb0.sum())
        objective = float(sum(c.cost for c in sequential))
        return BatchAllocation(sequential, float(lb0.sum()), objective, lb0, stats)
    t0 = time.perf_counter()
    cg = ColumnGeneration(entries, layout, cap, chosen, lb0, starts, usage, params, router)
    # Start and escape plans only while rounding keeps the time to round every touching order.
    cg.contest(over, deadline.until(deadline.end - round_s * touching))
    stats["contest_s"] = time.perf_counter() - t0
    now = time.perf_counter()
    left_s = deadline.end - now
    # Rounding re-routes orders one by one: leave it the time to do so.
    reserve = round_s * len(cg.active)
    cg_deadline = deadline.until(min(now + params.columns.cg_share * left_s, deadline.end - reserve))
    # The first round may run longer: only a complete pricing pass gives a bound (and its plans
    # guide rounding); on the 10k wave in 10 s it is the only round and ends just past cg_share.
    first_deadline = deadline.until(max(cg_deadline.end, deadline.end - reserve
                                        - max(params.columns.finish_min_seconds,
                                              params.columns.finish_min_share * left_s)))
    cg.run(cg_deadline, first_deadline)
    progress("improve", 0, 1)
    size = model_size(entries)
    exact = size <= params.exact.max_vars and _joint_fits(size, deadline, params)
    now = time.perf_counter()
    # The exact joint model only improves on the rounding's plans: when it follows, it gets most of
    # the time left (it had what rounding's last phases left, 0.03-0.5 s of 2 s on 12-36 orders).
    finish_s = params.exact.finish_share * deadline.remaining_s()
    finish_deadline = (deadline.until(max(now + finish_s, now + reserve))
                       if exact else deadline)
    final = finish(cg, finish_deadline, priority)
    if sum(c.cost for c in sequential) < sum(c.cost for c in final):
        final = sequential
    bound, tolerance = cg.bound, 0.0
    if exact and _joint_fits(size, deadline, params):
        # Small enough to finish exactly: the joint model, from the rounding's plans.
        t0 = time.perf_counter()
        plans, exact_bound, tolerance = solve_joint(entries, layout, cap, final, deadline)
        if plans is not None and sum(c.cost for c in plans) < sum(c.cost for c in final):
            final = plans
        bound = max(bound, exact_bound)
        cg.stats["exact_s"] = time.perf_counter() - t0
        cg.stats["exact_tolerance"] = tolerance
    progress("improve", 1, 1)
    stats.update(cg.stats)
    stats["independent_bound"] = float(lb0.sum())
    stats["rounds"] = cg.rounds
    return BatchAllocation(final, bound, float(sum(c.cost for c in final)), lb0, stats, tolerance)


def _alone_then_in_turn(entries: Sequence[Entry], layout: Layout, cap: np.ndarray, deadline: Deadline,
                        priority: np.ndarray, progress: Progress, router: WaveRouter) -> tuple:
    """Each order's optimum alone (chosen, its bound lb0, its next cheapest option sets, its
    regret), then a feasible incumbent routing the orders in turn on what is left (sequential).
    Returns (chosen, sequential, starts, lb0, left, regret, rerouted)."""
    n = len(entries)
    chosen: list[Column] = [e.empty_column() for e in entries]       # each order alone
    sequential: list[Column] = list(chosen)                         # in turn, on what is left
    starts: list[list[tuple[int, ...]]] = [[] for _ in range(n)]   # other cheap option sets
    lb0 = np.zeros(n)
    left = cap.copy()
    rerouted = 0
    regret = np.zeros(n)
    # Each order's optimum alone: the bound, the start of column generation, and where the
    # orders collide. Then a feasible incumbent: in priority order, and within a level the orders
    # with most to lose first (regret: how much dearer their next plan is), each takes its plan
    # if it still fits, else it is re-routed on what is left. Never worse than routing one at a
    # time in the best of those orders.
    for a in range(0, n, ALONE_SLICE):
        progress("solve", a, n)
        if deadline.expired():
            break   # out of time: the rest ship nothing (feasible); their bound stays 0 (costs >= 0)
        batch = range(a, min(a + ALONE_SLICE, n))
        pricing, columns = entries[0].params.pricing, entries[0].params.columns
        solved = router.alone(batch, deadline, pricing.compiled_max_sets, columns.candidates_kept,
                              columns.start_columns) or {}
        for k in batch:
            if k in solved:
                s = solved[k]
                chosen[k], lb0[k], starts[k], regret[k] = s.column, s.bound, s.starts, s.regret
            elif not deadline.expired():   # not held by the kernel, or its search gave up
                chosen[k], lb0[k], starts[k], regret[k] = _best_alone(entries[k], layout)
    for k in np.lexsort((-regret, -priority)).tolist():
        col = chosen[k]
        if len(col.res) and not fits(col, left):
            if deadline.expired():
                col = entries[k].empty_column()
            else:
                # route_on bounds each item by what is left, not items sharing a SKU or a node's
                # unit cap jointly: check, and ship nothing when its plan does not fit after all.
                rerouted += 1
                col = route_on(entries[k], left, layout, router)
                if not fits(col, left):
                    col = entries[k].empty_column()
        sequential[k] = col
        take(col, left)
    return chosen, sequential, starts, lb0, left, regret, rerouted


def _joint_fits(size: int, deadline: Deadline, params: SolverParams) -> bool:
    """Whether building the joint model (Python, not interruptible: ~35 µs per variable) takes at
    most half the time left, so its search gets the other half. Measured on the 2,000-order wave
    with a 100 ms budget: ~125 orders reached, a 3k-variable model built in 110 ms past the end."""
    return size * params.exact.build_seconds_per_var <= 0.5 * deadline.remaining_s()


def _best_alone(e: Entry, layout: Layout) -> tuple[Column, float, list[tuple[int, ...]], float]:
    """The order's optimum on the full stock (or the empty column when cheaper), a bound, the
    next cheapest option sets its search saw (start columns, should the order become active),
    and its regret: how much dearer the next of those (or shipping nothing) is."""
    empty = e.empty_column()
    if e.p.n_options == 0:
        return empty, empty.cost, [], 0.0
    seen: list = []
    sol, bound = solve_exact(e.p, e.params, seen)
    col = e.column(sol, layout) if np.isfinite(sol.objective) else empty
    if empty.cost < col.cost:
        col = empty
    others = [(cost, opts) for cost, opts in seen if opts and tuple(opts) != tuple(sol.options)]
    runner = min([empty.cost] + [cost for cost, _ in others[:1]])
    sets = [opts for _, opts in others[:e.params.columns.start_columns]]
    return col, min(bound, empty.cost), sets, max(0.0, runner - col.cost)
