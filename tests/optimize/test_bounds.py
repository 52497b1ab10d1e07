"""The bounds of the branch and bound and the fall-back path.

A stopped branch and bound's bound must never exceed the proven optimum and its plan never undercut
it (whatever the knobs: backorder, kits, split credit, modes), a finished one equals it; and on the
hard sparse orders where the search does not finish the whole solve must stay sound: lower bound
<= objective, and an OPTIMAL claim only when it is one.
"""

from __future__ import annotations

import numpy as np
import pytest

from dom_engine.domain import Mode, PolicyProfile
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.bb_search import branch_and_bound
from dom_engine.optimize.cpsat import solve_cpsat
from dom_engine.optimize.problem import build_problem
from dom_engine.optimize.search import greedy
from dom_engine.testing import random_instance

from .helpers import close, scenario


def _problem(sc):
    return build_problem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now)


@pytest.mark.parametrize("seed", range(40))
def test_branch_and_bound_brackets_the_optimum(seed):
    modes = [Mode.COST, Mode.COST, Mode.FEWEST_SHIPMENTS, Mode.FASTEST]
    sc = scenario(seed, n_nodes=10, n_lines=1 + seed % 5, kit_probability=0.3, backorder=seed % 2 == 1,
                  max_shipments=1 + seed % 3, mode=modes[seed % 4], split_penalty=[0.0, 4.0][(seed // 2) % 2],
                  density=0.5, depth=4)
    p = _problem(sc)
    if p.infeasible_reason:
        return
    exact = solve_cpsat(p, 20)
    assert exact.proven_optimal
    tol = 1e-6 * max(1.0, abs(exact.objective)) if np.isfinite(exact.objective) else 0.0
    for budget_ms in (0.0, 0.02, 0.2, 5_000.0):
        sol = branch_and_bound(p, Deadline.after_ms(budget_ms))
        assert sol.lower_bound <= exact.objective + tol, (budget_ms, sol.lower_bound, exact.objective)
        assert sol.objective >= exact.objective - tol, (budget_ms, sol.objective, exact.objective)
        if sol.proven_optimal:
            assert close(sol.objective, exact.objective) or sol.objective == exact.objective


@pytest.mark.parametrize("seed", range(6))
def test_bound_is_informative_on_hard_orders(seed):
    """On sparse 20-line orders a few milliseconds of search must close most of the distance from
    the trivial bound (zero) to the optimum: a bound of 0 would also be 'valid'."""
    inst = random_instance(seed, n_nodes=60, n_lines=20, n_skus=40, promise_days=4)
    p = build_problem(inst.order, inst.stock, inst.network, inst.rate_card, PolicyProfile(), inst.now)
    incumbent = greedy(p)
    assert incumbent is not None
    sol = branch_and_bound(p, Deadline.after_ms(5))
    assert 0.75 * incumbent.objective <= sol.lower_bound <= incumbent.objective + 1e-6


@pytest.mark.parametrize("budget_ms", [1.0, 20.0])
@pytest.mark.parametrize("seed", range(4))
def test_fallback_path_is_sound(seed, budget_ms):
    inst = random_instance(seed, n_nodes=100, n_lines=12, n_skus=50, promise_days=4)
    plan = solve_order(OrderProblem(inst.order, inst.stock, inst.network, inst.rate_card, PolicyProfile(),
                                    inst.now), Deadline.after_ms(budget_ms))
    assert plan.status.has_plan
    assert plan.lower_bound <= plan.objective + 1e-9
    if plan.status.name == "OPTIMAL":
        p = build_problem(inst.order, inst.stock, inst.network, inst.rate_card, PolicyProfile(), inst.now)
        exact = solve_cpsat(p, 60)
        if exact.proven_optimal:
            assert close(plan.objective, exact.objective)
