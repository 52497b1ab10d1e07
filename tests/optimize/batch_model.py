"""An independent exact model of a batch, and checks of batch plans recomputed from the plans alone.

The model is the natural joint MIP over units, built from `prepare_batch`'s per-order problems
(their options, kits, stock bounds and penalties) and nothing of the batch solver itself:

    y[k,o]    order k ships from option o (a node and carrier service)       cost f[o]
    x[k,o,i]  units of item i order k ships from option o, <= A[o,i] y[k,o]   cost C[o,i]
    u[k,i]    units of item i left unfilled                                  cost P[i]
    s[k]      anything unfilled (for a no-backorder order: nothing shipped)  cost P0
    a[k]      anything shipped                                               cost -split_credit

per order: sum_o x + u = Q; an open option ships something; one option per node; at most
max_shipments options; u <= Q s (backorder allowed) or u = Q s and y <= 1 - s (ship complete or
nothing); a <= sum y; lines sharing a SKU fit the node's stock. Shared: units of SKU g from node n
over all orders <= stock left (n, g); shipments and units from node n <= the node's capacities.

`solve_exact` solves it with CP-SAT on integer-scaled costs (like dom_engine/optimize/cpsat.py);
`solve_mip` with HiGHS (through OR-Tools' linear solver wrapper) on the float costs, with no scaling
at all; `solve_relaxation` solves its LP relaxation (the plain LP over units) with GLOP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from dom_engine.domain import Explanation, Network, Order, Plan, PolicyProfile, RateCard
from dom_engine.domain.stock import StockView
from dom_engine.optimize.batch import PreparedBatch
from dom_engine.optimize.plan_builder import build_plan
from dom_engine.optimize.solution import Solution, objective_of

SCALE = 100_000
# HiGHS stops when its gap is this small (relative): far below the 1e-6 route_batch calls OPTIMAL.
MIP_RELATIVE_GAP = 1e-9


@dataclass
class LinearModel:
    """Variables (bounds, integrality, cost) and rows sum(coef * var) in [lo, hi]."""

    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    rows: list[tuple[list[int], list[float], float, float]] = field(default_factory=list)

    def var(self, lb: float, ub: float, cost: float) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        self.cost.append(cost)
        return len(self.lb) - 1

    def row(self, idx: list[int], coef: list[float], lo: float, hi: float) -> None:
        if idx:
            self.rows.append((idx, coef, lo, hi))


@dataclass
class BatchModel:
    """The joint model and where each order's variables are."""

    lp: LinearModel
    y: list[dict[int, int]]                 # per order: option -> var
    x: list[dict[tuple[int, int], int]]     # per order: (option, item) -> var
    u: list[list[int]]                      # per order: item -> var


def build_model(batch: PreparedBatch) -> BatchModel:
    m = LinearModel()
    layout, cap = batch.layout, batch.cap
    K, inf = layout.n_skus, float("inf")
    stock_terms: dict[int, tuple[list[int], list[float]]] = {}
    own_terms: dict[tuple[int, int, int], tuple[list[int], list[float]]] = {}
    ship_terms: dict[int, list[int]] = {}
    unit_terms: dict[int, tuple[list[int], list[float]]] = {}
    ys, xs, us = [], [], []
    for e in batch.entries:
        p = e.p
        y = {o: m.var(0, 1, float(p.f[o])) for o in range(p.n_options)}
        x = {}
        for o, i in zip(*np.nonzero(p.A), strict=True):
            o, i = int(o), int(i)
            x[o, i] = m.var(0, int(p.A[o, i]), float(p.C[o, i]))
        u = [m.var(0, int(p.Q[i]), float(p.P[i])) for i in range(p.n_items)]
        s = m.var(0, 1, float(p.P0))
        a = m.var(0, 1, -float(p.split_credit))
        for (o, i), v in x.items():
            m.row([v, y[o]], [1.0, -float(p.A[o, i])], -inf, 0)
        for o, yo in y.items():
            mine = [v for (oo, _), v in x.items() if oo == o]
            m.row(mine + [yo], [1.0] * len(mine) + [-1.0], 0, inf)
            if not p.allow_backorder:
                m.row([yo, s], [1.0, 1.0], -inf, 1)
        for i in range(p.n_items):
            mine = [v for (_, ii), v in x.items() if ii == i]
            m.row(mine + [u[i]], [1.0] * (len(mine) + 1), int(p.Q[i]), int(p.Q[i]))
            lo = 0 if not p.allow_backorder else -inf
            m.row([u[i], s], [1.0, -float(p.Q[i])], lo, 0)
        by_node: dict[int, list[int]] = {}
        for o in range(p.n_options):
            by_node.setdefault(int(p.opt_node[o]), []).append(y[o])
        for vars_n in by_node.values():
            m.row(vars_n, [1.0] * len(vars_n), -inf, 1)
        m.row(list(y.values()), [1.0] * len(y), -inf, p.max_shipments)
        m.row([a] + list(y.values()), [1.0] + [-1.0] * len(y), -inf, 0)
        for (o, i), v in x.items():
            n = int(p.opt_node[o])
            for j in np.flatnonzero(e.per_item[:, i]):
                idx, coef = stock_terms.setdefault(n * K + int(e.gline[j]), ([], []))
                idx.append(v)
                coef.append(float(e.per_item[j, i]))
                if p.shared_skus:   # the order's own stock bound (its policy's buffer) per SKU
                    key = (n, int(p.line_sku_col[j]))
                    own = own_terms.setdefault((e.index, *key), ([], []))
                    own[0].append(v)
                    own[1].append(float(e.per_item[j, i]))
            idx, coef = unit_terms.setdefault(n, ([], []))
            idx.append(v)
            coef.append(float(e.item_units[i]))
        for o, yo in y.items():
            ship_terms.setdefault(int(p.opt_node[o]), []).append(yo)
        ys.append(y)
        xs.append(x)
        us.append(u)
    for key, (idx, coef) in stock_terms.items():
        if np.isfinite(cap[key]):
            m.row(idx, coef, -inf, float(cap[key]))
    for (k, n, col), (idx, coef) in own_terms.items():
        m.row(idx, coef, -inf, float(batch.entries[k].p.atp[n, col]))
    for n, idx in ship_terms.items():
        if np.isfinite(cap[layout.ship_base + n]):
            m.row(idx, [1.0] * len(idx), -inf, float(cap[layout.ship_base + n]))
    for n, (idx, coef) in unit_terms.items():
        if np.isfinite(cap[layout.unit_base + n]):
            m.row(idx, coef, -inf, float(cap[layout.unit_base + n]))
    return BatchModel(m, ys, xs, us)


@dataclass
class ExactResult:
    proven: bool
    objective: float            # the best (if proven: optimal) plans re-priced in floating point
    bound: float                # proven lower bound on the optimum (= objective when proven, up to tolerance)
    per_order: list[float]
    solutions: list[tuple[np.ndarray, np.ndarray, np.ndarray]]   # per order: options, x, unfilled
    tolerance: float            # how far the float optimum can be from `objective` (cost scaling)
    seconds: float


def solve_exact(batch: PreparedBatch, time_limit_s: float = 30.0, workers: int = 1) -> ExactResult:
    """Proven optimum of the joint model (CP-SAT on costs scaled by SCALE, then re-priced)."""
    bm = build_model(batch)
    m = bm.lp
    model = cp_model.CpModel()
    v = [model.new_int_var(int(lo), int(hi), "") for lo, hi in zip(m.lb, m.ub, strict=True)]
    big = 10**12
    for idx, coef, lo, hi in m.rows:
        expr = cp_model.LinearExpr.weighted_sum([v[i] for i in idx], [int(round(c)) for c in coef])
        model.add_linear_constraint(expr, int(lo) if np.isfinite(lo) else -big,
                                    int(np.floor(hi + 1e-9)) if np.isfinite(hi) else big)
    scaled = np.rint(np.array(m.cost) * SCALE).astype(np.int64).tolist()
    model.minimize(cp_model.LinearExpr.weighted_sum(v, scaled))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.linearization_level = 2
    status = solver.solve(model)
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE), solver.status_name(status)
    per_order, solutions = [], []
    for k, e in enumerate(batch.entries):
        p = e.p
        opts = np.array(sorted(o for o, yv in bm.y[k].items() if solver.value(v[yv])), dtype=np.int64)
        alloc = np.zeros((len(opts), p.n_items), dtype=np.int64)
        for r, o in enumerate(opts.tolist()):
            for i in range(p.n_items):
                if (o, i) in bm.x[k]:
                    alloc[r, i] = solver.value(v[bm.x[k][o, i]])
        unfilled = np.array([solver.value(v[j]) for j in bm.u[k]], dtype=np.int64)
        per_order.append(objective_of(p, opts, alloc, unfilled))
        solutions.append((opts, alloc, unfilled))
    # Each cost was rounded by at most 0.5/SCALE; at most `ub` of each variable: the float optimum
    # is within twice that total of the scaled optimum's float value.
    tol = 2 * 0.5 / SCALE * float(np.sum(m.ub)) + 1e-9 * abs(sum(per_order))
    proven = status == cp_model.OPTIMAL
    bound = float(sum(per_order)) if proven else solver.best_objective_bound / SCALE
    return ExactResult(proven, float(sum(per_order)), bound, per_order, solutions, tol, solver.wall_time)


def solve_mip(batch: PreparedBatch, time_limit_s: float = 60.0) -> ExactResult:
    """Optimum of the joint model by HiGHS branch-and-bound on the float costs (an independent
    check of the CP-SAT references, and faster on waves of a few dozen orders). `proven` when
    HiGHS closes the gap to MIP_RELATIVE_GAP: `tolerance` says how far the optimum may be below
    `objective`."""
    bm = build_model(batch)
    m = bm.lp
    solver = pywraplp.Solver.CreateSolver("HIGHS")
    assert solver is not None, "OR-Tools was built without HiGHS"
    solver.SetTimeLimit(int(time_limit_s * 1000))
    v, obj = _load(solver, m, integer=True)
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, MIP_RELATIVE_GAP)
    status = solver.Solve(params)
    assert status in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE), status
    val = [round(var.solution_value()) for var in v]
    per_order, solutions = [], []
    for k, e in enumerate(batch.entries):
        p = e.p
        opts = np.array(sorted(o for o, yv in bm.y[k].items() if val[yv]), dtype=np.int64)
        alloc = np.zeros((len(opts), p.n_items), dtype=np.int64)
        for r, o in enumerate(opts.tolist()):
            for i in range(p.n_items):
                if (o, i) in bm.x[k]:
                    alloc[r, i] = val[bm.x[k][o, i]]
        unfilled = np.array([val[j] for j in bm.u[k]], dtype=np.int64)
        per_order.append(objective_of(p, opts, alloc, unfilled))
        solutions.append((opts, alloc, unfilled))
    value = float(sum(per_order))
    bound = min(float(obj.BestBound()), value)
    proven = status == pywraplp.Solver.OPTIMAL
    return ExactResult(proven, value, bound, per_order, solutions, value - bound + 1e-9 * abs(value),
                       solver.wall_time() / 1000)


def exact_plans(batch: PreparedBatch, exact: ExactResult, network: Network, rate_card: RateCard,
                stock: StockView) -> list[Plan]:
    """The optimal solution as domain plans (so the plan checks judge the model too)."""
    plans = []
    for e, (opts, x, unfilled), value in zip(batch.entries, exact.solutions, exact.per_order, strict=True):
        sol = Solution(opts, x, unfilled, value, value, True, "exact-model")
        plans.append(build_plan(e.p, sol, network, rate_card, stock, 0.0, Explanation()))
    return plans


def solve_relaxation(batch: PreparedBatch) -> float:
    """Value of the LP relaxation of the joint model over units (GLOP)."""
    m = build_model(batch).lp
    solver = pywraplp.Solver.CreateSolver("GLOP")
    _, obj = _load(solver, m, integer=False)
    assert solver.Solve() == pywraplp.Solver.OPTIMAL
    return float(obj.Value())


# ----------------------------------------------------------------------------- plans, recomputed
def batch_atp(stock: StockView, network: Network, policies: tuple[PolicyProfile, ...]) -> np.ndarray:
    """(N, K) units the batch may use: ATP minus the largest per-kind buffer any of its policies keeps
    (a unit one order's policy must leave on the shelf is not there for the wave)."""
    atp = stock.atp.astype(np.int64).copy()
    for n, node in enumerate(network.nodes):
        atp[n] -= max((pol.min_stock_buffer.get(node.kind.value, 0) for pol in policies), default=0)
    return atp.clip(0)


def plan_allocation(plan: Plan, order: Order, entry, network: Network,
                    rate_card: RateCard) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(options, x, unfilled) of a plan in its order's Problem, read from the plan's shipments."""
    p = entry.p
    services = [s.name for s in rate_card.services]
    line_of = {line.line_id: j for j, line in enumerate(order.lines)}
    opts, rows = [], []
    for s in plan.shipments:
        n, svc = network.index_of(s.node_id), services.index(s.service)
        match = np.flatnonzero((p.opt_node == n) & (p.opt_service == svc))
        assert len(match) == 1, f"{order.order_id}: {s.node_id}/{s.service} is no option of the order"
        units = np.zeros(len(order.lines), dtype=np.int64)
        for sl in s.lines:
            units[line_of[sl.line_id]] += sl.quantity
        x = np.zeros(p.n_items, dtype=np.int64)
        for i, members in enumerate(p.items):
            if p.is_kit[i]:
                got = [units[j] for j in members]
                full = [order.lines[j].quantity for j in members]
                assert got == full or not any(got), f"{order.order_id}: kit split at {s.node_id}"
                x[i] = 1 if any(got) else 0
            else:
                x[i] = units[list(members)].sum()   # merged lines of one SKU: their total
        opts.append(int(match[0]))
        rows.append(x)
    x = np.array(rows, dtype=np.int64).reshape(len(rows), p.n_items)
    return np.array(opts, dtype=np.int64), x, p.Q - x.sum(axis=0)


def plan_objective(plan: Plan, order: Order, entry, network: Network, rate_card: RateCard) -> float:
    options, x, unfilled = plan_allocation(plan, order, entry, network, rate_card)
    assert (unfilled >= 0).all(), f"{order.order_id}: ships more than ordered"
    return objective_of(entry.p, options, x, unfilled)


def check_batch_plans(plans, orders, policies, stock: StockView, network: Network,
                      unit_capacity_left: np.ndarray | None) -> None:
    """Shared resources, recomputed from the plans: units of each SKU per node within the batch's
    stock, shipments and units per node within the node's capacities."""
    atp = batch_atp(stock, network, tuple(policies))
    used = np.zeros_like(atp)
    ships = np.zeros(len(network), dtype=np.int64)
    units = np.zeros(len(network), dtype=np.int64)
    for plan, order in zip(plans, orders, strict=True):
        assert plan.order_id == order.order_id, "plans are not in request order"
        for s in plan.shipments:
            n = network.index_of(s.node_id)
            ships[n] += 1
            for sl in s.lines:
                used[n, stock.skus.index(sl.sku)] += sl.quantity
                units[n] += sl.quantity
    over = np.argwhere(used > atp)
    assert not len(over), [(network.node_ids[n], stock.skus[g], int(used[n, g]), int(atp[n, g]))
                           for n, g in over]
    if stock.capacity_left is not None:
        bad = np.flatnonzero(ships > stock.capacity_left)
        assert not len(bad), [(network.node_ids[n], int(ships[n]), int(stock.capacity_left[n])) for n in bad]
    if unit_capacity_left is not None:
        bad = np.flatnonzero(units > unit_capacity_left)
        assert not len(bad), [(network.node_ids[n], int(units[n]), int(unit_capacity_left[n])) for n in bad]


def strict_violations(plans, orders, batch: PreparedBatch, network: Network,
                      stock: StockView) -> list[str]:
    """Pairs where a higher-priority order H (by >= 1 point) is short of a SKU on a line while a
    lower-priority order L ships that SKU from a node H could ship it from: H has an option there
    with stock of that line, and H already ships from the node, or could add a shipment (below its
    max_shipments, and the node has a shipment to spare or L's shipment there is that one unit).
    Only lines outside kits, both orders allowing backorders: there moving one unit from L to H is
    a feasible exchange that costs at most one shipment plus one unit's cost."""
    ship_count = np.zeros(len(network), dtype=np.int64)
    for plan in plans:
        for s in plan.shipments:
            ship_count[network.index_of(s.node_id)] += 1
    out = []
    for h, (ph, oh) in enumerate(zip(plans, orders, strict=True)):
        eh = batch.entries[h]
        if not oh.options.allow_backorder or not ph.backordered:
            continue
        h_nodes = {network.index_of(s.node_id) for s in ph.shipments}
        for b in ph.backordered:
            j = next(k for k, line in enumerate(oh.lines) if line.line_id == b.line_id)
            i = next(k for k, members in enumerate(eh.p.items) if j in members)
            if eh.p.is_kit[i]:
                continue
            can = {int(n) for n in eh.p.opt_node[eh.p.A[:, i] > 0]}
            for low, (pl, ol) in enumerate(zip(plans, orders, strict=True)):
                if batch.points[h] < batch.points[low] + 1 or not ol.options.allow_backorder:
                    continue
                kit_lines = {line.line_id for line in ol.lines if line.ship_group}
                for s in pl.shipments:
                    n = network.index_of(s.node_id)
                    if n not in can or not any(sl.sku == b.sku and sl.line_id not in kit_lines
                                               for sl in s.lines):
                        continue
                    if n not in h_nodes:
                        if len(ph.shipments) >= eh.p.max_shipments:
                            continue
                        cap = None if stock.capacity_left is None else stock.capacity_left[n]
                        if cap is not None and ship_count[n] >= cap and s.units > 1:
                            continue
                    out.append(f"{oh.order_id} ({batch.points[h]:g} pts) short {b.quantity} x {b.sku} "
                               f"while {ol.order_id} ({batch.points[low]:g} pts) ships it from {s.node_id}")
    return out


def _load(solver, m, integer: bool):
    """The joint model `m` (bounds, rows, costs) into a pywraplp `solver`, minimising: its
    variables (integer or continuous) and its objective."""
    inf = solver.infinity()
    make = solver.IntVar if integer else solver.NumVar
    v = [make(lo, hi, "") for lo, hi in zip(m.lb, m.ub, strict=True)]
    for idx, coef, lo, hi in m.rows:
        c = solver.Constraint(lo if np.isfinite(lo) else -inf, hi if np.isfinite(hi) else inf)
        for i, a in zip(idx, coef, strict=True):
            c.SetCoefficient(v[i], a)
    obj = solver.Objective()
    for var, c in zip(v, m.cost, strict=True):
        obj.SetCoefficient(var, c)
    obj.SetMinimization()
    return v, obj
