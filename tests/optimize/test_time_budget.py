"""Hard instances under tiny time budgets: route() must return a plan it can stand behind (OPTIMAL,
or FEASIBLE with a valid lower bound), never crash, and never claim a bound above the optimum."""

from __future__ import annotations

import pytest

from dom_engine.domain import PolicyProfile
from dom_engine.optimize import route
from dom_engine.optimize.problem import build_problem
from dom_engine.optimize.router import solve
from dom_engine.testing import random_instance

from .helpers import Scenario, check_plan


@pytest.mark.parametrize("budget_ms", [0.0, 1.0, 10.0])
@pytest.mark.parametrize("seed", range(4))
def test_hard_instance_with_tiny_budget(seed, budget_ms):
    """100 nodes, 12 lines, stock density 0.5, no backorder: the fast search gives up on most of
    these, so the result comes from the incumbent + CP-SAT within the budget."""
    inst = random_instance(seed, n_nodes=100, n_lines=12)
    policy = PolicyProfile()
    plan = route(inst.order, inst.stock, inst.network, inst.rate_card, policy, budget_ms, inst.now)
    assert plan.status.name in ("OPTIMAL", "FEASIBLE"), (plan.status, plan.infeasible_reason)
    assert plan.lower_bound <= plan.objective + 1e-9
    assert 0.0 <= plan.gap
    if plan.status.name == "OPTIMAL":
        assert plan.gap == 0.0
    check_plan(plan, Scenario(inst.order, inst.stock, inst.network, inst.rate_card, policy, inst.now, {}))


@pytest.mark.parametrize("seed", range(2))
def test_budget_bound_is_below_the_proven_optimum(seed):
    """The bound a budget-limited solve reports never exceeds the optimum a long solve proves, and
    its objective is never below it."""
    inst = random_instance(seed, n_nodes=60, n_lines=10)
    p = build_problem(inst.order, inst.stock, inst.network, inst.rate_card, PolicyProfile(), inst.now)
    quick = solve(p, 1.0)
    full = solve(p, 30_000.0)
    assert full.proven_optimal
    assert quick.lower_bound <= full.objective + 1e-3
    assert quick.objective >= full.objective - 1e-3
