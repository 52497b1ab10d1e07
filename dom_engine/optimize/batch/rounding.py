"""From the master LP to one plan per order, within the shared resources.

1. Orders the LP gives wholly to one column keep it (together they fit: the LP's usage does).
2. The fractional rest take, by priority, their cheapest generated column that still fits
   (shipping nothing always fits): a feasible incumbent at once.
3. CP-SAT then solves the restricted master over those orders' columns exactly (price-and-branch)
   within what is left of the budget, starting from that incumbent.
4. Local search re-routes single orders against the stock the others leave, with the exact
   single-order search, so a plan outside the generated columns can still be found
   (the order-reassignment neighbourhood of Xu, Allgor & Graves 2009).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

from ...domain.stop import Deadline
from ..problem import Problem
from ..stop import stopping
from .columns import Column, Entry, Layout, solve_exact

if TYPE_CHECKING:   # the router uses this module's one-order paths as its fallback
    from .router import WaveRouter

# Objective scaling for CP-SAT (integer coefficients): 1e-4 of the objective unit is kept.
CPSAT_SCALE = 1e4


def fits(col: Column, left: np.ndarray) -> bool:
    return bool((col.use <= left[col.res] + 1e-6).all())


def take(col: Column, left: np.ndarray, sign: float = 1.0) -> None:
    left[col.res] -= sign * col.use


def greedy_fill(orders: Sequence[int], pools: dict[int, list[Column]], weight: dict[int, np.ndarray],
                left: np.ndarray, entries: Sequence[Entry], layout: Layout, deadline: Deadline,
                floor: np.ndarray, router: WaveRouter | None = None) -> dict[int, Column]:
    """Plans order by order on what is left: the column the LP leans to (weight > 1/2) when it
    still fits, else the better of the cheapest generated column that fits and a fresh exact
    route on the remaining stock (which joins the order's pool: the MIP can use it) — unless that
    column already costs the order's lower bound `floor[o]` (its optimum alone: nothing beats it).
    After the deadline only generated columns are used. Updates `left`."""
    chosen: dict[int, Column] = {}
    for o in orders:
        cols = pools[o]
        lean = int(np.argmax(weight[o])) if len(weight[o]) else -1
        if lean >= 0 and weight[o][lean] > 0.5 and fits(cols[lean], left):
            pick = cols[lean]
        else:
            pick = min((c for c in cols if fits(c, left)), key=lambda c: c.cost)
            if pick.cost > floor[o] + 1e-9 * max(1.0, abs(pick.cost)) and not deadline.expired():
                fresh = route_on(entries[o], left, layout, router)
                if fresh.cost < pick.cost - 1e-9 * max(1.0, abs(pick.cost)) and fits(fresh, left):
                    pick = fresh
                    cols.append(fresh)
        take(pick, left)
        chosen[o] = pick
    return chosen


def route_on(e: Entry, left: np.ndarray, layout: Layout, router: WaveRouter | None = None) -> Column:
    """The order's best plan on the resources `left` (exact single-order search), or the empty
    column when that is cheaper or nothing fits. With the wave's `router`, its compiled kernel
    answers for the orders it holds."""
    if router is not None:
        routed = router.route_on(e, left)
        if routed is not None:
            return routed
    sub, keep = restricted_problem(e, left, layout)
    best = e.empty_column()
    if sub.n_options:
        sol, _ = solve_exact(sub, e.params)
        if np.isfinite(sol.objective) and len(sol.options):
            routed = e.column(replace(sol, options=keep[sol.options]), layout)
            if routed.cost < best.cost:
                best = routed
    return best


def restricted_master_mip(orders: Sequence[int], pools: Mapping[int, list[Column]], left: np.ndarray,
                          hint: dict[int, Column], deadline: Deadline, relative_gap: float
                          ) -> dict[int, Column] | None:
    """Exact choice of one generated column per order within `left` (CP-SAT), or None when it
    finds nothing better than the hint in time. `left` is not modified."""
    model = cp_model.CpModel()
    terms: dict[int, list[tuple[cp_model.IntVar, int]]] = {}
    chooser: dict[int, list[tuple[cp_model.IntVar, Column]]] = {}
    objective = []
    for o in orders:
        vars_o = []
        for c in pools[o]:
            v = model.new_bool_var("")
            vars_o.append((v, c))
            objective.append(int(round(c.cost * CPSAT_SCALE)) * v)
            for r, u in zip(c.res.tolist(), c.use.tolist(), strict=True):
                terms.setdefault(r, []).append((v, int(round(u))))
            model.add_hint(v, c is hint[o])
        model.add_exactly_one(v for v, _ in vars_o)
        chooser[o] = vars_o
    for r, t in terms.items():
        if not np.isfinite(left[r]):
            continue
        cap = int(np.floor(left[r] + 1e-6))
        if sum(u for _, u in t) > cap:
            model.add(sum(u * v for v, u in t) <= cap)
    model.minimize(sum(objective))
    solver = cp_model.CpSolver()
    # Measured from here: building the model took time already (Python, ~1 ms per order).
    solver.parameters.max_time_in_seconds = max(deadline.remaining_s(), 0.01)
    solver.parameters.num_workers = 1
    # The LP relaxation inside CP-SAT is what proves these set-partitioning models quickly
    # (measured: 133 orders, 658 columns: optimal in 0.03 s, versus no proof in 5 s at level 1).
    solver.parameters.linearization_level = 2
    # Closer than this to its own bound is closer than the batch's gap can show: stop there.
    solver.parameters.relative_gap_limit = relative_gap
    with stopping(solver, deadline):   # a cancelled call ends the search
        status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {o: next(c for v, c in chooser[o] if solver.boolean_value(v)) for o in orders}


def restricted_problem(e: Entry, left: np.ndarray, layout: Layout) -> tuple[Problem, np.ndarray]:
    """The order's problem on what `left` holds (its own usage already given back): each option
    ships at most the stock, shipments and units left at its node. Returns the problem over the
    options that can still ship something and their indices in the full problem."""
    p = e.p
    nodes = p.opt_node
    stock_left = np.maximum(left[nodes[:, None] * layout.n_skus + e.gline[None, :]], 0)   # (O, L)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_line = np.where(e.per_item[None] > 0, stock_left[:, :, None] / e.per_item[None], np.inf)
    can = np.floor(per_line.min(axis=1) + 1e-9)                                         # (O, I)
    units_left = np.maximum(left[layout.unit_base + nodes], 0)
    can = np.minimum(can, np.floor(units_left[:, None] / np.maximum(e.item_units[None, :], 1) + 1e-9))
    A = np.minimum(p.A, can).astype(np.int64)
    A[left[layout.ship_base + nodes] < 1 - 1e-9] = 0
    keep = np.flatnonzero(A.any(axis=1))
    sub = replace(p, A=A[keep], C=p.C[keep], f=p.f[keep], opt_node=p.opt_node[keep],
                  opt_service=p.opt_service[keep], opt_price_row=p.opt_price_row[keep],
                  ship_offset=p.ship_offset[keep], delivery_offset=p.delivery_offset[keep])
    return sub, keep


def reoptimize(entries: Sequence[Entry], chosen: list[Column], orders: Sequence[int], left: np.ndarray,
               layout: Layout, deadline: Deadline, router: WaveRouter | None = None) -> int:
    """Re-route each order in turn on the resources the others leave; keep a cheaper plan that
    fits. Repeats while something improves and time is left. Returns the number of moves."""
    moves = 0
    improved = True
    while improved and not deadline.expired():
        improved = False
        for o in orders:
            if deadline.expired():
                break
            e, current = entries[o], chosen[o]
            take(current, left, -1.0)
            candidate = route_on(e, left, layout, router)
            if candidate.cost < current.cost - 1e-7 * max(1.0, abs(current.cost)) and fits(candidate, left):
                chosen[o] = current = candidate
                moves += 1
                improved = True
            take(current, left)
    return moves
