"""Rule-based baselines: they follow their rule, and never beat the exact optimiser."""

from __future__ import annotations

import numpy as np
import pytest

from dom_engine.domain.stop import Deadline
from dom_engine.io.demo import demo_inventory, demo_network, demo_policies, demo_rate_card, random_order
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.baselines import route_nearest, route_ranked
from dom_engine.testing import FIXED_NOW


@pytest.fixture(scope="module")
def demo():
    """Demo network, store, default policy and rate card (built once)."""
    network = demo_network()
    return network, demo_inventory(network), demo_policies()["default"], demo_rate_card()


def _orders(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return [random_order(rng, int(rng.integers(1, 7)), deliver_in_days=5, created_at=FIXED_NOW)
            for _ in range(n)]


def test_optimiser_never_worse_than_rules(demo):
    network, store, policy, rates = demo
    ranking = [n.node_id for n in network.nodes]
    cheaper = 0
    for order in _orders(60, seed=11):
        stock = store.read([line.sku for line in order.lines])
        best = solve_order(OrderProblem(order, stock, network, rates, policy, FIXED_NOW),
                           Deadline.after_ms(1000))
        nearest = route_nearest(order, stock, network, rates, policy, FIXED_NOW)
        ranked = route_ranked(order, stock, network, rates, policy, FIXED_NOW, ranking)
        assert best.objective <= nearest.objective + 1e-9
        assert best.objective <= ranked.objective + 1e-9
        cheaper += best.objective < nearest.objective - 1e-6
    assert cheaper > 0, "the optimiser should beat the nearest-node rule on some orders"


def _line_network():
    """Three warehouses due west of a customer at 40N 75W: 100, 500 and 1500 km away."""
    from dom_engine.domain import Network, Node, NodeKind
    from dom_engine.network.geo import EARTH_RADIUS_KM

    def west(km: float) -> float:
        return -75.0 - np.degrees(km / (EARTH_RADIUS_KM * np.cos(np.radians(40.0))))

    return Network(tuple(Node(f"W{k}", NodeKind.WAREHOUSE, 40.0, west(km)) for k, km in
                         enumerate((100, 500, 1500))))


def _line_case(stock_rows):
    from dom_engine.domain import Destination, Line, Order, PolicyProfile, us_network_rate_card
    from dom_engine.inventory.base import StockView

    network = _line_network()
    order = Order("O-1", (Line("L1", "A", 2), Line("L2", "B", 1)), Destination(40.0, -75.0),
                  created_at=FIXED_NOW)
    stock = StockView(1, ("A", "B"), np.array(stock_rows, dtype=np.int64))
    return order, stock, network, us_network_rate_card(), PolicyProfile()


def test_nearest_takes_the_nearest_node_that_ships_complete():
    order, stock, network, rates, policy = _line_case([[2, 0], [2, 1], [5, 5]])
    plan = route_nearest(order, stock, network, rates, policy, FIXED_NOW)
    assert [s.node_id for s in plan.shipments] == ["W1"]


def test_nearest_splits_by_line_when_no_node_ships_complete():
    order, stock, network, rates, policy = _line_case([[2, 0], [0, 0], [0, 1]])
    plan = route_nearest(order, stock, network, rates, policy, FIXED_NOW)
    by_node = {s.node_id: {ln.line_id: ln.quantity for ln in s.lines} for s in plan.shipments}
    assert by_node == {"W0": {"L1": 2}, "W2": {"L2": 1}}


def test_ranked_follows_the_ranking_not_the_distance():
    order, stock, network, rates, policy = _line_case([[5, 5], [5, 5], [5, 5]])
    plan = route_ranked(order, stock, network, rates, policy, FIXED_NOW, ["W2", "W0", "W1"])
    assert [s.node_id for s in plan.shipments] == ["W2"]
    optimal = solve_order(OrderProblem(order, stock, network, rates, policy, FIXED_NOW),
                          Deadline.after_ms(1000))
    assert [s.node_id for s in optimal.shipments] == ["W0"]
    assert optimal.total_cost < plan.total_cost
