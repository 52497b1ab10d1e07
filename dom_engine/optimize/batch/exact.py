"""The whole batch as one CP-SAT model, for batches small enough to solve exactly.

Column generation proves a bound and the rounding finds good plans, but on small scarce waves the
columns it generated may not combine into the optimum (the tests measured 17/40 small waves
exact without this). When the batch has few allocation variables, the joint model over every
order's options (as in cpsat.py, plus the shared stock and node capacities) finishes the job
within the budget, starting from the rounding's plans. Its bound is valid for the batch because
every order is in the model; costs are rounded down to the integer scale for the same reason.

Per order o, option j, item i:  y[o,j] ships, x[o,j,i] units, u[o,i] unfilled, short[o] anything
unfilled, any[o] anything shipped; no-backorder orders ship all or nothing (x = Q * z[o]).

The incumbent is hinted on EVERY variable (y, x, u, short, z, any), consistently: CP-SAT drops a
partial hint it cannot complete quickly, and with only y and x hinted it did (given the optimal
plans, 20 s gave plans 23 % dearer). A complete feasible hint is CP-SAT's first solution, so the
phase can only improve on it; the plans it returns are still compared with the incumbent at true
(float) cost, since the model ranks plans by rounded costs.

Costs are scaled to integers and rounded down (the split credit up), so the model's objective of
any plan is at most its true cost and its bound is valid; each unit of a variable loses less than
1/SCALE. A plan proven optimal in the model is therefore within `Joint.tolerance` of the true
optimum: 1/SCALE times the most units the objective's terms can carry (every order's item units,
filled or unfilled, plus its shipments and its two flags). That is the precision of the proof, so
the batch counts as OPTIMAL when its gap is within it (~1e-5 relative on small waves; a fixed 1e-6
reported proven waves as FEASIBLE).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from ortools.sat.python import cp_model

from ...domain.stop import Deadline
from ..solution import Solution
from ..stop import stopping
from .columns import Column, Entry, Layout

SCALE = 10_000


class Joint(NamedTuple):
    """What the joint model gave: the best plans (None if it found none; never dearer than the
    hint), a proven lower bound on the batch objective (-inf if none), and how far above the
    optimum plans the model proves optimal may be (absolute; see the module docstring)."""

    plans: list[Column] | None
    bound: float
    tolerance: float


def model_size(entries: Sequence[Entry]) -> int:
    return sum(int(np.count_nonzero(e.p.A)) for e in entries)


def rounding_tolerance(entries: Sequence[Entry]) -> float:
    """Most the scaled objective can lose to rounding on any plan of the batch (absolute): each
    order's objective has at most sum(Q) units of x and u, min(max_shipments, options) shipments
    and the short and any flags, each losing less than 1/SCALE per unit."""
    terms = sum(float(e.p.Q.sum()) + min(int(e.p.max_shipments), e.p.n_options) + 2 for e in entries)
    return terms / SCALE


@dataclass
class JointModel:
    """The joint CP-SAT model, hinted, and where each order's y and x variables are."""

    model: cp_model.CpModel
    ys: list[dict[int, cp_model.IntVar]]
    xs: list[dict[tuple[int, int], cp_model.IntVar]]


def solve_joint(entries: Sequence[Entry], layout: Layout, cap: np.ndarray, hint: Sequence[Column],
                deadline: Deadline) -> Joint:
    """Best plans for every entry within `cap` by `deadline`, from
    the feasible plans `hint` (one per entry), and a proven lower bound on the batch objective."""
    jm = build_joint(entries, layout, cap, hint)
    solver = cp_model.CpSolver()
    # Measured from here: building the model took time already (Python, ~10 µs per variable).
    solver.parameters.max_time_in_seconds = max(deadline.remaining_s(), 0.01)
    solver.parameters.num_workers = 1
    # The LP relaxation of every constraint (not only the linear ones CP-SAT deems cheap): on waves
    # of 40 orders in 1 s it found plans within 0.1 % of the optimum instead of 5-19 % above it.
    solver.parameters.linearization_level = 2
    with stopping(solver, deadline):   # a cancelled call ends the search
        status = solver.solve(jm.model)
    tolerance = rounding_tolerance(entries)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound = solver.best_objective_bound / SCALE if status != cp_model.UNKNOWN else -np.inf
        return Joint(None, bound, tolerance)
    plans = [_column(e, layout, y, x, solver) for e, y, x in zip(entries, jm.ys, jm.xs, strict=True)]
    if sum(c.cost for c in plans) > sum(c.cost for c in hint):
        plans = list(hint)   # the model ranks by rounded costs: a tie there may cost more in fact
    return Joint(plans, solver.best_objective_bound / SCALE, tolerance)


def build_joint(entries: Sequence[Entry], layout: Layout, cap: np.ndarray,
                hint: Sequence[Column]) -> JointModel:
    """The joint model of `entries` within `cap`, every variable hinted from the plans `hint`."""
    m = cp_model.CpModel()
    objective: list = []
    usage: dict[int, list] = {}
    ys: list[dict[int, cp_model.IntVar]] = []
    xs: list[dict[tuple[int, int], cp_model.IntVar]] = []
    for e, h in zip(entries, hint, strict=True):
        p = e.p
        y = {j: m.new_bool_var("") for j in range(p.n_options)}
        x: dict[tuple[int, int], cp_model.IntVar] = {}
        hint_x = _hint_units(h, p.n_options, p.n_items)
        rows, cols = np.nonzero(p.A)
        for j, i, a in zip(rows.tolist(), cols.tolist(), p.A[rows, cols].tolist(), strict=True):
            v = m.new_int_var(0, a, "")
            m.add(v <= a * y[j])
            x[j, i] = v
            m.add_hint(v, int(hint_x[j, i]))
            objective.append(_down(p.C[j, i]) * v)
            node = int(p.opt_node[j])
            for line in np.flatnonzero(e.per_item[:, i]).tolist():
                units = int(e.per_item[line, i])
                usage.setdefault(node * layout.n_skus + int(e.gline[line]), []).append((v, units, units * a))
                usage.setdefault(layout.unit_base + node, []).append((v, units, units * a))
        for j, v in y.items():
            m.add(sum(x[j, i] for i in range(p.n_items) if (j, i) in x) >= v)
            m.add_hint(v, bool(hint_x[j].any()))
            objective.append(_down(p.f[j]) * v)
            usage.setdefault(layout.ship_base + int(p.opt_node[j]), []).append((v, 1, 1))
        by_node: dict[int, list[cp_model.IntVar]] = {}
        for j, v in y.items():
            by_node.setdefault(int(p.opt_node[j]), []).append(v)
        for group in by_node.values():
            if len(group) > 1:
                m.add_at_most_one(group)
        m.add(sum(y.values()) <= p.max_shipments)
        shipped = m.new_bool_var("")
        for v in y.values():
            m.add(shipped >= v)
        m.add(shipped <= sum(y.values()))
        m.add_hint(shipped, bool(hint_x.any()))
        objective.append(-_up(p.split_credit) * shipped)
        hint_u = p.Q - hint_x.sum(axis=0)
        short = m.new_bool_var("")
        m.add_hint(short, bool(hint_u.any()))
        z = None if p.allow_backorder else m.new_bool_var("")
        for i in range(p.n_items):
            filled = sum(x[j, i] for j in range(p.n_options) if (j, i) in x)
            q = int(p.Q[i])
            if z is not None:
                m.add(filled == q * z)
            u = m.new_int_var(0, q, "")
            m.add(filled + u == q)
            m.add(u <= q * short)
            m.add_hint(u, int(hint_u[i]))
            objective.append(_down(p.P[i]) * u)
        if z is not None:
            m.add(short == 1 - z)
            m.add_hint(z, not hint_u.any())
        objective.append(_down(p.P0) * short)
        ys.append(y)
        xs.append(x)
    for r, terms in usage.items():   # (variable, units per unit of it, its most units)
        if math.isfinite(cap[r]) and sum(most for _, _, most in terms) > cap[r]:
            m.add(sum(u * v for v, u, _ in terms) <= int(math.floor(cap[r] + 1e-6)))
    m.minimize(sum(objective))
    return JointModel(m, ys, xs)


def _down(value: float) -> int:
    return int(math.floor(float(value) * SCALE))


def _up(value: float) -> int:
    return int(math.ceil(float(value) * SCALE))


def _hint_units(col: Column, n_options: int, n_items: int) -> np.ndarray:
    out = np.zeros((n_options, n_items), dtype=np.int64)
    if len(col.options):
        out[col.options] = col.x
    return out


def _column(e: Entry, layout: Layout, y, x, solver: cp_model.CpSolver) -> Column:
    p = e.p
    used = [j for j, v in y.items() if solver.boolean_value(v)]
    if not used:
        return e.empty_column()
    options = np.array(used, dtype=np.int64)
    alloc = np.zeros((len(used), p.n_items), dtype=np.int64)
    for k, j in enumerate(used):
        for i in range(p.n_items):
            if (j, i) in x:
                alloc[k, i] = solver.value(x[j, i])
    unfilled = p.Q - alloc.sum(axis=0)
    sol = Solution(options, alloc, unfilled, 0.0, 0.0, False, "batch-exact")
    return e.column(sol, layout)
