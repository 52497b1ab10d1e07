"""Orders where stock is thin (dom_engine.testing.thin_stock_instance: 20-100 nodes holding 1-5
units of a SKU at 15-60 % of them, 1-10 lines of 1-12 units, some capped at 1-3 shipments): the
engine's answer checked against an independent exact model of the same problem (HiGHS through
scipy.milp); and the covering search that proves such orders infeasible, against brute force."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from dom_engine.domain import PlanStatus, PolicyProfile
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.coverage import max_coverage
from dom_engine.optimize.problem import Problem, build_problem, node_supply
from dom_engine.testing.builders import thin_stock_instance

from .helpers import close

POLICY = PolicyProfile()


def exact_highs(p: Problem, time_limit_s: float = 20.0) -> tuple[str, float]:
    """("optimal", objective) / ("infeasible", inf) / ("unknown", nan): the order's MILP with one
    shipment per node, max_shipments, backorders at their penalties, and the split credit."""
    n_opt, n_items = p.A.shape
    rows, cols = np.nonzero(p.A)
    nx = len(rows)
    ix, iu, ishort, iany = n_opt, n_opt + nx, n_opt + nx + n_items, n_opt + nx + n_items + 1
    cost = np.concatenate([p.f, p.C[rows, cols], p.P, [p.P0, -p.split_credit]])
    upper = np.concatenate([np.ones(n_opt), p.A[rows, cols], p.Q if p.allow_backorder else np.zeros(n_items),
                            [1, 1]])
    r_idx, c_idx, vals, lo, hi = [], [], [], [], []

    def row(idx, coef, low, high) -> None:
        r_idx.extend([len(lo)] * len(idx))
        c_idx.extend(idx)
        vals.extend(coef)
        lo.append(low)
        hi.append(high)

    for k in range(nx):                                   # x <= A * y
        row([ix + k, int(rows[k])], [1.0, -float(p.A[rows[k], cols[k]])], -np.inf, 0.0)
    for i in range(n_items):                              # filled + unfilled = quantity
        ks = np.flatnonzero(cols == i).tolist()
        row([ix + k for k in ks] + [iu + i], [1.0] * (len(ks) + 1), float(p.Q[i]), float(p.Q[i]))
        row([iu + i, ishort], [1.0, -float(p.Q[i])], -np.inf, 0.0)
    for o in range(n_opt):                                # an opened shipment ships something
        ks = np.flatnonzero(rows == o).tolist()
        row([ix + k for k in ks] + [o], [1.0] * len(ks) + [-1.0], 0.0, np.inf)
    for node in np.unique(p.opt_node):                    # one shipment per node
        same = np.flatnonzero(p.opt_node == node).tolist()
        row(same, [1.0] * len(same), -np.inf, 1.0)
    row(list(range(n_opt)), [1.0] * n_opt, -np.inf, float(p.max_shipments))
    row([iany, *range(n_opt)], [1.0] + [-1.0] * n_opt, -np.inf, 0.0)
    n_var = iany + 1
    matrix = coo_matrix((vals, (r_idx, c_idx)), shape=(len(lo), n_var))
    result = milp(cost, constraints=LinearConstraint(matrix, lo, hi), integrality=np.ones(n_var),
                  bounds=Bounds(np.zeros(n_var), upper),
                  options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9})
    if result.status == 0:
        return "optimal", float(result.fun)
    if result.status == 2:
        return "infeasible", np.inf
    return "unknown", np.nan


@pytest.mark.parametrize("seed", range(40))
def test_thin_stock_answers_agree_with_the_exact_model(seed):
    inst = thin_stock_instance(seed)
    p = build_problem(inst.order, inst.stock, inst.network, inst.rate_card, POLICY, inst.now)
    plan = solve_order(OrderProblem(inst.order, inst.stock, inst.network, inst.rate_card, POLICY, inst.now),
                       Deadline.after_ms(1000))
    status, optimum = exact_highs(p)
    if status == "unknown":
        pytest.skip("the reference did not finish")
    if status == "infeasible":
        assert plan.status is PlanStatus.INFEASIBLE, plan.explanation
        return
    assert plan.status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE), plan.explanation
    if plan.status is PlanStatus.OPTIMAL:
        assert close(plan.objective, optimum), (plan.solver, plan.objective, optimum)
    else:
        assert plan.lower_bound <= optimum + 1e-3 and optimum <= plan.objective + 1e-3


def _brute_force_covers(p: Problem) -> bool:
    nodes, held = node_supply(p)
    for m in range(1, min(p.max_shipments, len(nodes)) + 1):
        for subset in itertools.combinations(range(len(nodes)), m):
            if (held[list(subset)].sum(axis=0) >= p.Q).all():
                return True
    return False


@pytest.mark.parametrize("seed", range(120))
def test_covering_search_matches_brute_force(seed):
    """Small thin-stock orders (12 nodes or fewer, caps 1-4): nodes found cover the order, and a
    finished search without them means no subset of max_shipments nodes does."""
    rng = np.random.default_rng([seed, 31])
    n_nodes, n_items, cap = int(rng.integers(3, 13)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
    inst = thin_stock_instance(seed)
    order = inst.order
    lines = tuple(replace(line, quantity=int(rng.integers(1, 9))) for line in order.lines[:n_items])
    order = replace(order, lines=lines, deliver_by=None,
                    options=replace(order.options, max_shipments=cap, allow_backorder=False))
    network = type(inst.network)(inst.network.nodes[:n_nodes])
    stock = replace(inst.stock, atp=inst.stock.atp[:n_nodes])
    p = build_problem(order, stock, network, inst.rate_card, POLICY, inst.now)
    if p.n_options == 0:
        return
    cover = max_coverage(p, Deadline.after_ms(10_000))
    assert cover is not None and cover.proven
    expected = _brute_force_covers(p)
    assert cover.covers(p) == expected
    if expected:
        _, held = node_supply(p)
        assert len(cover.nodes) <= cap
        nodes, _ = node_supply(p)
        picked = held[np.isin(nodes, cover.nodes)]
        assert (picked.sum(axis=0) >= p.Q).all()


def test_the_cpsat_runner_up_search_gets_at_most_runner_up_ms(monkeypatch):
    """When CP-SAT has proven a plan (the branch and bound given almost no time), the runner-up
    (the explanation) is looked for within SearchParams.runner_up_ms, not the rest of the budget;
    the model's linearization level is the configured one."""
    from dom_engine.optimize import single
    from dom_engine.optimize.params import SearchParams

    calls = []
    real = single.solve_cpsat

    def spy(p, *args, **kwargs):
        calls.append((bool(kwargs.get("forbid_node_sets")), kwargs["stop"].remaining_s(),
                      kwargs["parameters"]["linearization_level"]))
        return real(p, *args, **kwargs)

    monkeypatch.setattr(single, "solve_cpsat", spy)
    params = SearchParams(branch_and_bound_share=1e-9, runner_up_ms=3.0, cpsat_linearization_level=1)
    for seed in range(40):
        inst = thin_stock_instance(seed)
        problem = OrderProblem(inst.order, inst.stock, inst.network, inst.rate_card, POLICY, inst.now)
        solve_order(problem, Deadline.after_ms(5_000), params)
        if any(runner for runner, _, _ in calls):
            break
    runner_ups = [left for runner, left, _ in calls if runner]
    assert runner_ups, "no order reached the runner-up search"
    assert max(runner_ups) <= 0.003 + 1e-9
    assert {level for _, _, level in calls} == {1}


def test_the_branch_and_bound_gets_its_share_and_proves_the_runner_up_for_runner_up_ms(monkeypatch):
    """The branch and bound gets branch_and_bound_share of the budget, and proves the runner-up
    during its first runner_up_ms; with runner_up_ms = 0 only where every single shipment and the
    bound on larger plans prove it (fewer exact alternatives)."""
    from dom_engine.optimize import single
    from dom_engine.optimize.params import SearchParams

    calls = []
    real = single.branch_and_bound

    def spy(p, stop, *args, **kwargs):
        calls.append((kwargs.get("prove_alternative_s"), stop.remaining_s()))
        return real(p, stop, *args, **kwargs)

    monkeypatch.setattr(single, "branch_and_bound", spy)
    exact_by_ms = {}
    for runner_up_ms in (2.0, 0.0):
        calls.clear()
        params = SearchParams(branch_and_bound_share=0.25, runner_up_ms=runner_up_ms)
        exact = 0
        for seed in range(10):
            inst = thin_stock_instance(seed)
            problem = OrderProblem(inst.order, inst.stock, inst.network, inst.rate_card, POLICY, inst.now)
            plan = solve_order(problem, Deadline.after_ms(4_000), params)
            alt = plan.explanation.alternative
            exact += alt is not None and alt.exact
        assert calls and max(left for _, left in calls) <= 0.25 * 4.0 + 1e-9
        assert {s for s, _ in calls} == {runner_up_ms / 1000}
        exact_by_ms[runner_up_ms] = exact
    assert exact_by_ms[2.0] > exact_by_ms[0.0]
