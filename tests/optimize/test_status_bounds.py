"""Status and bound semantics of route(): OPTIMAL means bound == objective; INFEASIBLE says why;
backorders are listed and charged per order + per unit (with per-order overrides); the runner-up
explanation is a real, different plan; shared SKUs go to CP-SAT and still respect stock."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from dom_engine.domain import (
    Destination,
    Line,
    Mode,
    Network,
    Node,
    NodeKind,
    Order,
    OrderOptions,
    Penalties,
    PenaltyOverride,
    PolicyProfile,
    us_network_rate_card,
)
from dom_engine.domain.stop import Deadline
from dom_engine.inventory.base import StockView
from dom_engine.io.demo import random_order
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.problem import build_problem
from dom_engine.optimize.solution import evaluate_sets
from dom_engine.testing import FIXED_NOW, demo_engine

from .helpers import Scenario, check_plan, close, scenario

CARD = us_network_rate_card()
# Three warehouses due west of the customer at 40N 75W, nearest first.
THREE = Network((Node("A", NodeKind.WAREHOUSE, 40.0, -76.0), Node("B", NodeKind.WAREHOUSE, 40.0, -80.0),
                 Node("C", NodeKind.WAREHOUSE, 40.0, -77.0)))


def _order(*lines: tuple[str, str, int], **options) -> Order:
    return Order("O-1", tuple(Line(lid, sku, q) for lid, sku, q in lines), Destination(40.0, -75.0),
                 options=OrderOptions(**options), created_at=FIXED_NOW)


def _route(order, stock, network=THREE, policy=None):
    return solve_order(OrderProblem(order, stock, network, CARD, policy or PolicyProfile(), FIXED_NOW),
                       Deadline.after_ms(5_000))


@pytest.mark.parametrize("seed", range(25))
def test_optimal_plans_have_zero_gap(seed):
    """An OPTIMAL plan's lower bound equals its objective (gap 0); the objective is cost_weight x
    money + split penalties + ... so in COST mode with no extras it equals total_cost."""
    sc = scenario(seed, n_nodes=15, n_lines=1 + seed % 5, backorder=seed % 2 == 0, density=0.5)
    plan = solve_order(OrderProblem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now),
                       Deadline.after_ms(5_000))
    if plan.status.name != "OPTIMAL":
        assert plan.status.name == "INFEASIBLE"
        return
    assert plan.lower_bound == pytest.approx(plan.objective, rel=1e-9, abs=1e-9)
    assert plan.gap == 0.0
    assert plan.objective == pytest.approx(plan.total_cost, rel=1e-9)


def test_short_stock_without_backorder_is_infeasible_naming_the_line():
    stock = StockView(1, ("X", "Y"), np.array([[1, 5], [1, 0], [0, 0]], dtype=np.int64))
    plan = _route(_order(("L1", "Y", 1), ("L2", "X", 3)), stock)
    assert plan.status.name == "INFEASIBLE" and not plan.shipments
    assert "'L2'" in plan.infeasible_reason and "X" in plan.infeasible_reason
    assert "2 of 3" in plan.infeasible_reason


def test_kit_nobody_can_ship_complete_is_infeasible_naming_the_kit():
    stock = StockView(1, ("X", "Y"), np.array([[5, 0], [0, 5], [0, 0]], dtype=np.int64))
    order = Order("O-k", (Line("L1", "X", 1, ship_group="K"), Line("L2", "Y", 1, ship_group="K")),
                  Destination(40.0, -75.0), created_at=FIXED_NOW)
    plan = _route(order, stock)
    assert plan.status.name == "INFEASIBLE" and "'K'" in plan.infeasible_reason


@pytest.mark.parametrize("override", [None, PenaltyOverride(per_order=7.0, per_unit=3.0),
                                      PenaltyOverride(per_unit=60.0)])
def test_backorder_lists_lines_and_charges_penalties(override):
    """Stock 2 of 5 units: the plan backorders what it does not ship, lists the line, and charges
    per_order once plus per_unit per missing unit, with the order's overrides taking precedence."""
    policy = PolicyProfile(penalties=Penalties(per_order=40.0, per_unit=20.0))
    stock = StockView(1, ("X",), np.array([[2], [0], [0]], dtype=np.int64))
    opts = {"allow_backorder": True, "penalty": override or PenaltyOverride()}
    plan = _route(_order(("L1", "X", 5), **opts), stock, policy=policy)
    assert plan.status.name == "OPTIMAL"
    per_order = 40.0 if override is None or override.per_order is None else override.per_order
    per_unit = 20.0 if override is None or override.per_unit is None else override.per_unit
    (b,) = plan.backordered
    assert (b.line_id, b.sku) == ("L1", "X") and b.quantity >= 3
    assert plan.units_shipped + b.quantity == 5
    assert plan.penalty_cost == pytest.approx(per_order + per_unit * b.quantity)
    assert plan.objective == pytest.approx(plan.shipping_cost + plan.penalty_cost)
    if override is not None and override.per_order == 7.0:
        assert plan.units_shipped == 0          # 7 + 3 x 5 = 22 beats any shipment (>= 8.759 + ...)
    else:
        assert plan.units_shipped == 2          # penalties dearer than shipping the 2 units


# --------------------------------------------------------------------------- runner-up
def _best_cost_on_nodes(p, node_ids, network, require_all_ship):
    nodes = [network.index_of(n) for n in node_ids]
    per_node = [np.flatnonzero(p.opt_node == k) for k in nodes]
    best = np.inf
    for combo in itertools.product(*per_node):
        cost, x, _ = evaluate_sets(p, np.array([combo]), with_allocation=True)
        if require_all_ship and not (x[0].sum(axis=1) > 0).all():
            continue
        best = min(best, float(cost[0]))
    return best


@pytest.mark.parametrize("seed", range(40))
def test_alternative_is_a_different_achievable_node_set(seed):
    """explanation.alternative (fast path) names another node set, costs at least as much, and some
    choice of services at exactly those nodes reaches its stated objective."""
    sc = scenario(seed, n_nodes=12, n_lines=1 + seed % 4, max_shipments=1 + seed % 3,
                  backorder=seed % 3 == 0, density=[None, 0.4][seed % 2])
    plan = solve_order(OrderProblem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now),
                       Deadline.after_ms(5_000))
    alt = plan.explanation.alternative
    if alt is None or plan.status.name != "OPTIMAL":
        return
    assert tuple(sorted(alt.node_ids)) != tuple(sorted(s.node_id for s in plan.shipments))
    assert alt.extra_objective >= -1e-9
    assert alt.objective == pytest.approx(plan.objective + alt.extra_objective)
    p = build_problem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now)
    expected = p.empty_plan_objective() if not alt.node_ids else \
        _best_cost_on_nodes(p, alt.node_ids, sc.network, require_all_ship=False)
    assert close(expected, alt.objective), (expected, alt.objective)


@pytest.mark.parametrize("shared_sku", [False, True])
def test_alternative_nodes_all_ship(shared_sku):
    """Order of 1 unit (or 2 lines of 1 unit of one SKU): B is dear per unit, so the fake runner-up
    {A, B} with B idle (A's cost + B's package fee) undercuts the real one, {B} alone."""
    network = Network((Node("A", NodeKind.WAREHOUSE, 40.0, -76.0),
                       Node("B", NodeKind.WAREHOUSE, 40.0, -77.0, handling_per_unit=30.0)))
    stock = StockView(1, ("X",), np.array([[5], [5]], dtype=np.int64))
    lines = [("L1", "X", 1), ("L2", "X", 1)] if shared_sku else [("L1", "X", 1)]
    plan = _route(_order(*lines), stock, network)
    alt = plan.explanation.alternative
    assert alt is not None
    assert len(alt.node_ids) <= plan.units_shipped, alt   # each node of a plan ships >= 1 unit
    assert alt.extra_objective > 0


def test_alternative_finds_dominated_runner_up():
    """X at A and B (A nearer: A dominates B), Y only at C, max 2 shipments: best {A, C}; the
    runner-up {B, C} is not canonical, yet it must be reported."""
    stock = StockView(1, ("X", "Y"), np.array([[5, 0], [5, 0], [0, 5]], dtype=np.int64))
    plan = _route(_order(("L1", "X", 1), ("L2", "Y", 1), max_shipments=2), stock)
    assert {s.node_id for s in plan.shipments} == {"A", "C"}
    alt = plan.explanation.alternative
    assert alt is not None and set(alt.node_ids) == {"B", "C"}


# --------------------------------------------------------------------------- shared SKUs
@pytest.mark.parametrize("seed", range(15))
def test_shared_sku_goes_to_cpsat_and_respects_stock(seed):
    """Two lines of one SKU must share each node's ATP; only the CP-SAT model handles that (lines
    of one SKU and the same unit weight are merged into one item: this one weighs differently)."""
    sc = scenario(seed, n_nodes=10, n_lines=3, backorder=seed % 2 == 1, density=0.5, depth=3)
    first = sc.order.lines[0]
    extra = Line("LX", first.sku, 1 + seed % 3, unit_weight_kg=(first.unit_weight_kg or 1.0) + 0.25)
    sc = replace(sc, order=replace(sc.order, lines=sc.order.lines + (extra,)))
    plan = solve_order(OrderProblem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now),
                       Deadline.after_ms(5_000))
    if plan.solver == "presolve":  # some line is short even without sharing
        assert plan.status.name == "INFEASIBLE"
        return
    assert "cp-sat" in plan.solver
    if plan.status.has_plan:
        check_plan(plan, sc)  # merges units per (node, SKU) against ATP


def test_shared_sku_exact_fit():
    """4 + 3 units of X with ATP 4 at A and 3 at C: both lines filled, never 7 from one node."""
    stock = StockView(1, ("X",), np.array([[4], [0], [3]], dtype=np.int64))
    order = _order(("L1", "X", 4), ("L2", "X", 3))
    plan = _route(order, stock)
    assert plan.status.name == "OPTIMAL"
    check_plan(plan, Scenario(order, stock, THREE, CARD, PolicyProfile(), FIXED_NOW, {}))
    assert plan.units_shipped == 7


def test_shared_sku_shortage_reason_names_the_sku():
    stock = StockView(1, ("X",), np.array([[2], [1], [0]], dtype=np.int64))
    plan = _route(_order(("L1", "X", 2), ("L2", "X", 2)), stock)
    assert plan.status.name == "INFEASIBLE"
    assert "X" in plan.infeasible_reason and "max_shipments" not in plan.infeasible_reason


def test_fastest_mode_with_backorder_still_ships_available_stock():
    """The demo 'fastest' policy on an order whose SKUs warehouses hold deeply."""
    engine = demo_engine(clock=lambda: FIXED_NOW)
    order = random_order(np.random.default_rng(1), 2, created_at=FIXED_NOW,
                         options=OrderOptions(allow_backorder=True, policy="fastest"))
    assert engine.route(replace(order, options=replace(order.options, allow_backorder=False))).shipments
    plan = engine.route(order)
    assert plan.units_backordered == 0


def test_fewest_shipments_prefers_one_node():
    """FEWEST_SHIPMENTS: one node holding everything wins over a cheaper two-node split."""
    stock = StockView(1, ("X", "Y"), np.array([[5, 0], [0, 0], [5, 5]], dtype=np.int64))
    order = _order(("L1", "X", 3), ("L2", "Y", 1))
    cost = _route(order, stock)
    few = _route(order, stock, policy=PolicyProfile(mode=Mode.FEWEST_SHIPMENTS))
    assert [s.node_id for s in few.shipments] == ["C"]
    assert cost.total_cost <= few.total_cost + 1e-9
