"""The explanation names the constraints that shaped the choice."""

from __future__ import annotations

from dataclasses import replace

from dom_engine.domain import Destination, Line, Order, OrderOptions
from dom_engine.domain.stop import Deadline
from dom_engine.io.demo import demo_inventory, demo_network, demo_policies, demo_rate_card
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.testing import FIXED_NOW, promise


def _route(order: Order):
    network = demo_network()
    store = demo_inventory(network)
    stock = store.read([line.sku for line in order.lines])
    return solve_order(OrderProblem(order, stock, network, demo_rate_card(), demo_policies()["default"],
                                    FIXED_NOW), Deadline.after_ms(1000))


ORDER = Order("E-1", (Line("L1", "SKU-00001", 1),), Destination(40.7128, -74.0060), created_at=FIXED_NOW)


def test_tight_promise_is_named_with_the_pairs_it_ruled_out():
    plan = _route(replace(ORDER, deliver_by=promise(2)))
    slow = [b for b in plan.explanation.binding if "too slow for the promise date" in b]
    assert len(slow) == 1 and int(slow[0].split()[0]) > 0
    assert all(s.delivery_date <= promise(2) for s in plan.shipments)


def test_no_promise_no_promise_constraint():
    plan = _route(ORDER)
    assert not any("promise" in b for b in plan.explanation.binding)


def test_excluded_and_channel_filters_are_counted():
    order = replace(ORDER, channel="marketplace",
                    options=OrderOptions(excluded_nodes=frozenset({"AVP3", "RIC2"})))
    plan = _route(order)
    binding = " | ".join(plan.explanation.binding)
    assert "2 nodes excluded by the order" in binding
    assert "90 nodes not allowed for channel 'marketplace'" in binding
    assert {s.node_id for s in plan.shipments}.isdisjoint({"AVP3", "RIC2"})
