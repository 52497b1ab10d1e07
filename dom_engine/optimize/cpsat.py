"""The general exact model of one order in OR-Tools CP-SAT.

Used when the fast search does not apply (a SKU shared by several items) or would enumerate too
much, and by the tests as the reference the fast path must match. Costs are scaled to integers
(1e-5 currency resolution) so CP-SAT proves optimality of the scaled objective exactly; the
solution is re-priced in floating point afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ortools.sat.python import cp_model

from ..domain.stop import Deadline
from .problem import Problem
from .solution import Solution, objective_of

SCALE = 100_000
# Variables built between two looks at the stop (a look costs ~0.1 µs, a variable ~10 µs).
STOP_CHECK_EVERY = 256


def solve_cpsat(
    p: Problem,
    time_limit_s: float = 10.0,
    hint: Solution | None = None,
    forbid_node_sets: tuple[tuple[int, ...], ...] = (),
    workers: int = 1,
    stop: Deadline | None = None,
    parameters: Mapping[str, int | bool] | None = None,
) -> Solution:
    """Solve `p` exactly (or best within the time limit). `forbid_node_sets` excludes plans whose
    node set equals one of the given sets (used to find the runner-up). `stop` (a Deadline) ends
    both the model's build (a Python loop: ~10 µs per variable) and the search at its end or when
    it is cancelled; then the result has no plan and bound -inf unless the search found one.
    `parameters`: CP-SAT's by name over its defaults (the engine passes SearchParams')."""
    stop = stop or Deadline()
    m = cp_model.CpModel()
    n_opt, n_items = p.A.shape
    y = [m.new_bool_var("") for _ in range(n_opt)]
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    by_option: list[list[cp_model.IntVar]] = [[] for _ in range(n_opt)]
    by_item: list[list[cp_model.IntVar]] = [[] for _ in range(n_items)]
    rows, cols = np.nonzero(p.A)
    # Plain Python numbers: the model builder is a Python loop, and numpy scalars slow it down.
    for n, (o, i, a) in enumerate(zip(rows.tolist(), cols.tolist(), p.A[rows, cols].tolist(), strict=True)):
        if n % STOP_CHECK_EVERY == STOP_CHECK_EVERY - 1 and stop.expired():
            return _nothing(p, "cp-sat (stopped while building)")
        v = m.new_int_var(0, a, "")
        m.add(v <= a * y[o])
        x[o, i] = v
        by_option[o].append(v)
        by_item[i].append(v)
    for o in range(n_opt):  # an opened shipment ships something (no phantom shipments)
        m.add(cp_model.LinearExpr.sum(by_option[o]) >= y[o])
    cap = (p.Q if p.allow_backorder else np.zeros_like(p.Q)).tolist()
    q = p.Q.tolist()
    u = [m.new_int_var(0, cap[i], "") for i in range(n_items)]
    for i in range(n_items):
        m.add(cp_model.LinearExpr.sum(by_item[i]) + u[i] == q[i])
    _stock_constraints(m, p, x)
    by_node: dict[int, list[int]] = {}
    for o, node in enumerate(p.opt_node.tolist()):
        by_node.setdefault(node, []).append(o)
    for opts in by_node.values():
        if len(opts) > 1:
            m.add_at_most_one(y[o] for o in opts)
    m.add(cp_model.LinearExpr.sum(y) <= p.max_shipments)
    short = m.new_bool_var("")
    for i in range(n_items):
        m.add(u[i] <= q[i] * short)
    any_ship = m.new_bool_var("")
    m.add(any_ship <= cp_model.LinearExpr.sum(y))
    _forbid(m, p, y, forbid_node_sets)

    def scaled(values: np.ndarray | list[float]) -> list[int]:
        return np.rint(np.asarray(values, dtype=np.float64) * SCALE).astype(np.int64).tolist()

    terms = y + list(x.values()) + u + [short, any_ship]
    coeffs = (scaled(p.f) + scaled(p.C[rows, cols]) + scaled(p.P)
              + scaled([p.P0, -p.split_credit]))
    m.minimize(cp_model.LinearExpr.weighted_sum(terms, coeffs))
    if hint is not None and np.isfinite(hint.objective):
        _add_hint(m, hint, y, x, u, short, any_ship)
    if stop.expired():
        return _nothing(p, "cp-sat (stopped while building)")
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    for name, value in (parameters or {}).items():
        setattr(solver.parameters, name, value)
    solver.parameters.max_time_in_seconds = max(0.001, min(time_limit_s, stop.remaining_s()))
    forget = stop.on_cancel(solver.stop_search)   # a cancelled call ends the search at once
    try:
        status = solver.solve(m)
    finally:
        forget()
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.INFEASIBLE:
            return Solution(np.zeros(0, dtype=np.int64), np.zeros((0, n_items), dtype=np.int64), p.Q.copy(),
                            np.inf, np.inf, True, "cp-sat")
        return _nothing(p, "cp-sat")
    return _solution(p, solver, status, y, x, u)


def _forbid(m: cp_model.CpModel, p: Problem, y: list, node_sets: tuple[tuple[int, ...], ...]) -> None:
    """Exclude every plan whose node set is one of `node_sets`."""
    for nodes in node_sets:
        inside = [y[o] for o in range(len(y)) if int(p.opt_node[o]) in nodes]
        outside = [y[o] for o in range(len(y)) if int(p.opt_node[o]) not in nodes]
        # Each node of the set has one shipment at most, so the set is used exactly iff
        # sum(inside) == len(nodes) and nothing outside: forbid that.
        m.add(sum(inside) - sum(outside) <= len(nodes) - 1)


def _add_hint(m: cp_model.CpModel, hint: Solution, y: list, x: dict, u: list, short, any_ship) -> None:
    """Hint every variable from `hint`: a complete hint lets CP-SAT start from a feasible solution."""
    n_items = len(u)
    used = set(hint.options.tolist())
    for o in range(len(y)):
        m.add_hint(y[o], o in used)
    hinted: dict[tuple[int, int], int] = {}
    for k, o in enumerate(hint.options.tolist()):
        for i in range(n_items):
            hinted[o, i] = int(hint.x[k, i])
    for key, v in x.items():
        m.add_hint(v, hinted.get(key, 0))
    for i in range(n_items):
        m.add_hint(u[i], int(hint.unfilled[i]))
    m.add_hint(short, bool((hint.unfilled > 0).any()))
    m.add_hint(any_ship, bool(len(used)))


def _solution(p: Problem, solver: cp_model.CpSolver, status, y: list, x: dict, u: list) -> Solution:
    """The plan CP-SAT found (OPTIMAL or FEASIBLE), with its objective and proven bound."""
    n_items = len(u)
    used = np.array([o for o in range(len(y)) if solver.value(y[o])], dtype=np.int64)
    alloc = np.zeros((len(used), n_items), dtype=np.int64)
    for k, o in enumerate(used.tolist()):
        for i in range(n_items):
            if (o, i) in x:
                alloc[k, i] = solver.value(x[o, i])
    unfilled = np.array([solver.value(v) for v in u], dtype=np.int64)
    value = objective_of(p, used, alloc, unfilled)
    optimal = status == cp_model.OPTIMAL
    bound = value if optimal else min(value, solver.best_objective_bound / SCALE)
    return Solution(used, alloc, unfilled, value, bound, optimal, "cp-sat")


def _nothing(p: Problem, solver: str) -> Solution:
    """No plan found and nothing proven (the time ran out or the call was cancelled)."""
    return Solution(np.zeros(0, dtype=np.int64), np.zeros((0, p.n_items), dtype=np.int64), p.Q.copy(),
                    np.inf, -np.inf, False, solver)


def _stock_constraints(m: cp_model.CpModel, p: Problem, x: dict) -> None:
    """Where one SKU feeds several items at a node, their units together must fit its stock."""
    if not p.shared_skus:
        return
    lines = p.order.lines
    qty = {j: lines[j].quantity for j in range(len(lines))}
    users: dict[int, list[tuple[int, int]]] = {}  # sku column -> (item, units per item unit)
    for i, members in enumerate(p.items):
        for j in (members if p.is_kit[i] else members[:1]):   # merged lines: one SKU, once
            per = qty[j] if p.is_kit[i] else 1
            users.setdefault(int(p.line_sku_col[j]), []).append((i, per))
    for col, uses in users.items():
        if len({i for i, _ in uses}) < 2 and len(uses) < 2:
            continue
        for o in range(p.n_options):
            terms = [per * x[o, i] for i, per in uses if (o, i) in x]
            if len(terms) > 1:
                m.add(sum(terms) <= int(p.atp[p.opt_node[o], col]))
