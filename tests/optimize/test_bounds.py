"""The Lagrangian bound and the incumbents that back the fall-back path.

The bound must never exceed the proven optimum (whatever the knobs: backorder, kits, shared SKUs,
split credit, modes), the sets it opens must evaluate to real plans, and on the hard sparse orders
where the fast search gives up the whole solve must stay sound: lower bound <= objective, and an
OPTIMAL claim only when it is one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dom_engine.domain import Line, Mode, PolicyProfile
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.bounds import lagrangian_bound
from dom_engine.optimize.cpsat import solve_cpsat
from dom_engine.optimize.problem import build_problem
from dom_engine.optimize.search import best_of_sets, greedy
from dom_engine.testing import random_instance

from .helpers import close, scenario


def _problem(sc):
    return build_problem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now)


@pytest.mark.parametrize("seed", range(40))
def test_lagrangian_bound_never_exceeds_the_optimum(seed):
    modes = [Mode.COST, Mode.COST, Mode.FEWEST_SHIPMENTS, Mode.FASTEST]
    sc = scenario(seed, n_nodes=10, n_lines=1 + seed % 5, kit_probability=0.3, backorder=seed % 2 == 1,
                  max_shipments=1 + seed % 3, mode=modes[seed % 4], split_penalty=[0.0, 4.0][(seed // 2) % 2],
                  density=0.5, depth=4)
    if seed % 5 == 0:  # a SKU on two lines: shared stock, relaxed by the bound
        first = sc.order.lines[0]
        sc = replace(sc, order=replace(sc.order, lines=sc.order.lines + (Line("LX", first.sku, 1),)))
    p = _problem(sc)
    if p.infeasible_reason:
        return
    exact = solve_cpsat(p, 20)
    assert exact.proven_optimal
    bound, opened = lagrangian_bound(p, exact.objective)
    assert bound <= exact.objective + 1e-6 * max(1.0, abs(exact.objective)), (bound, exact.objective)
    if np.isfinite(exact.objective) and not p.shared_skus:
        seeded = best_of_sets(p, opened)
        if seeded is not None:  # a real plan: never below the optimum
            assert seeded.objective >= exact.objective - 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_bound_is_informative_on_hard_orders(seed):
    """On sparse 20-line orders the bound must close most of the distance from the trivial bound
    (zero) to the optimum — a bound of 0 would also be 'valid'."""
    inst = random_instance(seed, n_nodes=60, n_lines=20, n_skus=40, promise_days=4)
    p = build_problem(inst.order, inst.stock, inst.network, inst.rate_card, PolicyProfile(), inst.now)
    incumbent = greedy(p)
    assert incumbent is not None
    bound, _ = lagrangian_bound(p, incumbent.objective)
    assert 0.75 * incumbent.objective <= bound <= incumbent.objective + 1e-6


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
