"""Hard instances under tiny time budgets: route() must return a plan it can stand behind (OPTIMAL,
or FEASIBLE with a valid lower bound), never crash, and never claim a bound above the optimum."""

from __future__ import annotations

import pytest

from dom_engine.domain import PolicyProfile
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.problem import build_problem
from dom_engine.optimize.single import solve
from dom_engine.testing import random_instance

from .helpers import Scenario, check_plan


@pytest.mark.parametrize("budget_ms", [0.0, 1.0, 10.0])
@pytest.mark.parametrize("seed", range(4))
def test_hard_instance_with_tiny_budget(seed, budget_ms):
    """100 nodes, 12 lines, stock density 0.5, no backorder: the fast search gives up on most of
    these, so the result comes from the incumbent + CP-SAT within the budget."""
    inst = random_instance(seed, n_nodes=100, n_lines=12)
    policy = PolicyProfile()
    plan = solve_order(OrderProblem(inst.order, inst.stock, inst.network, inst.rate_card, policy, inst.now),
                       Deadline.after_ms(budget_ms))
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
    quick = solve(p, Deadline.after_ms(1.0))
    full = solve(p, Deadline.after_ms(30_000.0))
    assert full.proven_optimal
    assert quick.lower_bound <= full.objective + 1e-3
    assert quick.objective >= full.objective - 1e-3


def test_two_hundred_lines_of_one_sku_with_a_tiny_budget():
    """200 lines of one SKU (issue 9): they are one item of 200 units, not 200 items sharing
    stock in a CP-SAT model too big to build in the budget. Today that gave NO_PLAN_FOUND."""
    from dataclasses import replace

    import numpy as np

    from dom_engine.domain.order import Line
    from dom_engine.io.demo import order_stream
    from dom_engine.testing import demo_engine

    engine = demo_engine()
    view = engine.store.read([f"SKU-{i:05d}" for i in range(1, 50)])
    sku = view.skus[int(np.argmax((view.atp > 0).sum(axis=0)))]   # held at most nodes
    base = next(iter(order_stream(7, 1)))
    lines = tuple(Line(line_id=f"L{i}", sku=sku, quantity=1 + i % 3) for i in range(200))
    order = replace(base, order_id="MANY", lines=lines, options=replace(base.options, allow_backorder=True))
    plan = engine.route(order, time_budget_ms=20)
    assert plan.status.name == "OPTIMAL", (plan.status, plan.infeasible_reason)
    shipped: dict[str, int] = {}
    for s in plan.shipments:
        for sl in s.lines:
            shipped[sl.line_id] = shipped.get(sl.line_id, 0) + sl.quantity
    for b in plan.backordered:
        shipped[b.line_id] = shipped.get(b.line_id, 0) + b.quantity
    assert shipped == {line.line_id: line.quantity for line in lines}   # every line exactly once


def test_cancelled_stop_ends_the_search_without_a_plan_it_cannot_stand_behind():
    """A stop cancelled before the solve (the client gave up): the CP-SAT path is not entered and
    the plan is NO_PLAN_FOUND (or a plan with a valid bound), never a crash."""
    from dom_engine.domain.stop import Deadline

    inst = random_instance(1, n_nodes=100, n_lines=12)
    stop = Deadline()
    stop.cancel()
    plan = solve_order(OrderProblem(inst.order, inst.stock, inst.network, inst.rate_card, PolicyProfile(),
                                    inst.now), stop)
    assert plan.status.name in ("OPTIMAL", "FEASIBLE", "NO_PLAN_FOUND")
    if plan.status.has_plan:
        assert plan.lower_bound <= plan.objective + 1e-9
    assert "cp-sat" not in plan.solver or "stopped" in plan.solver or not plan.status.has_plan


def test_batch_build_stops_at_the_budget_with_a_plan_for_every_order():
    """2,000 orders with 50 ms: building each order's problem alone (~0.3 ms each) does not fit, so
    building stops in time (progress reports fewer built than ordered), every order still gets a
    plan, those not reached NO_PLAN_FOUND, and the bound is valid."""
    from benchmarks.batch_data import wave
    from dom_engine.optimize.batch import BatchProblem, solve_batch

    w = wave(2_000)
    seen: list[tuple[str, int, int]] = []
    problem = BatchProblem(w.orders, w.stock, w.network, w.rate_card, w.policies, w.settings, w.now)
    result = solve_batch(problem, Deadline.after_ms(50.0),
                         progress=lambda phase, done, total: seen.append((phase, done, total)))
    built = [done for phase, done, total in seen if phase == "build"][-1]
    assert built < len(w.orders)
    assert len(result.plans) == len(w.orders)
    assert [p.order_id for p in result.plans] == [o.order_id for o in w.orders]
    assert result.status.name == "FEASIBLE" and result.lower_bound <= result.objective + 1e-9
    assert all(p.status.name == "NO_PLAN_FOUND" and not p.shipments for p in result.plans[built:])


def test_the_joint_model_starts_only_when_its_build_fits_the_time_left():
    """Building the exact joint model is Python that cannot stop midway (~35 µs per variable): a
    2,000-order batch with 100 ms reached ~125 orders and then built a 3k-variable model for
    110 ms past its end. It starts only when building takes at most half the time left."""
    from dom_engine.optimize.batch.solver import _joint_fits
    from dom_engine.optimize.params import SolverParams

    params = SolverParams()
    size = 3_000
    build_s = size * params.exact.build_seconds_per_var
    assert not _joint_fits(size, Deadline.after_ms(1000 * build_s), params)
    assert _joint_fits(size, Deadline.after_ms(1000 * 4 * build_s), params)
    cancelled = Deadline.after_ms(10_000)
    cancelled.cancel()
    assert not _joint_fits(size, cancelled, params)
