"""A node rejects its shipment: its units go back, it is never used again for the order, and what
it was to ship is re-routed into the same reservation (Engine.reject over the MemoryStore)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from dom_engine.app.engine import Engine
from dom_engine.app.rejects import remaining_order
from dom_engine.domain import (
    Destination,
    Limits,
    Line,
    Network,
    Node,
    NodeKind,
    NotFoundError,
    Order,
    OrderOptions,
    PolicyProfile,
    PreconditionError,
    us_network_rate_card,
)
from dom_engine.inventory.base import Allocation, Reservation
from dom_engine.inventory.memory import MemoryStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# Philadelphia customer; A is nearest, then B, then C (far west).
NODES = (Node("A", NodeKind.WAREHOUSE, 40.0, -75.5), Node("B", NodeKind.WAREHOUSE, 39.0, -77.0),
         Node("C", NodeKind.WAREHOUSE, 39.5, -119.8))


def _engine(max_rejects: int = 3) -> Engine:
    network = Network(NODES)
    on_hand = np.array([[5, 0], [0, 5], [5, 0]])  # X at A and C, Y only at B
    store = MemoryStore.from_arrays(network, ("X", "Y"), on_hand, clock=lambda: NOW)
    return Engine(network, us_network_rate_card(), store, {"default": PolicyProfile()},
                  limits=Limits(max_rejects=max_rejects), clock=lambda: NOW)


def _order(**options) -> Order:
    return Order("O-1", (Line("L1", "X", 2), Line("L2", "Y", 1)), Destination(39.95, -75.16),
                 options=OrderOptions(**options), created_at=NOW)


def _held(engine: Engine) -> dict[str, dict[str, int]]:
    res = engine.store.reservation_for_order("O-1")
    out: dict[str, dict[str, int]] = {}
    for a in res.allocations:
        out.setdefault(a.node_id, {})[a.sku] = a.quantity
    return out


def test_reject_reroutes_into_the_same_reservation():
    engine = _engine()
    first = engine.route(_order(), reserve=True)
    assert {s.node_id for s in first.shipments} == {"A", "B"}
    plan = engine.reject(_order(), "A")
    assert plan.reservation_id == first.reservation_id
    shipped = [(s.node_id, [(ln.sku, ln.quantity) for ln in s.lines]) for s in plan.shipments]
    assert shipped == [("C", [("X", 2)])]
    assert _held(engine) == {"B": {"Y": 1}, "C": {"X": 2}}
    assert engine.store.reservation_for_order("O-1").rejected_nodes == ("A",)
    assert engine.store.levels("A", "X") == (5, 0, 0)   # A's units are free again


def test_rejected_nodes_are_never_used_again():
    engine = _engine()
    engine.route(_order(), reserve=True)
    engine.reject(_order(), "A")
    plan = engine.reject(_order(), "C")   # X is only at A and C, both rejected
    assert plan.status.name == "INFEASIBLE" and "L1" in plan.infeasible_reason
    assert _held(engine) == {"B": {"Y": 1}}
    assert engine.store.reservation_for_order("O-1").rejected_nodes == ("A", "C")


def test_too_many_rejects_need_a_human():
    engine = _engine(max_rejects=1)
    engine.route(_order(), reserve=True)
    engine.reject(_order(), "A")
    with pytest.raises(PreconditionError) as err:
        engine.reject(_order(), "C")
    assert err.value.field == "node_id" and "limit 1" in err.value.message
    assert _held(engine) == {"B": {"Y": 1}, "C": {"X": 2}}  # nothing changed


def test_reject_without_reservation_or_of_an_unused_node():
    engine = _engine()
    with pytest.raises(NotFoundError) as err:
        engine.reject(_order(), "A")
    assert err.value.field == "reservation_id"
    engine.route(_order(), reserve=True)
    with pytest.raises(NotFoundError) as err:
        engine.reject(_order(), "C")
    assert err.value.field == "node_id"
    with pytest.raises(NotFoundError) as err:
        engine.reject(_order(), "MARS")
    assert err.value.field == "node_id"


def test_remaining_order_counts_held_units_and_shipments():
    order = Order("O-9", (Line("L1", "X", 3), Line("L2", "X", 2), Line("L3", "Y", 1)), Destination(40, -75),
                  options=OrderOptions(max_shipments=3, excluded_nodes=frozenset({"Z"})), created_at=NOW)
    held = Reservation("res-O-9", "O-9", (Allocation("B", "X", 4), Allocation("B", "Y", 1)), 1,
                       rejected_nodes=("A",))
    rest = remaining_order(order, held, default_max_shipments=5)
    assert [(ln.line_id, ln.quantity) for ln in rest.lines] == [("L2", 1)]
    assert rest.options.excluded_nodes == {"A", "Z"} and rest.options.max_shipments == 2
    full = Reservation("res-O-9", "O-9", (Allocation("B", "X", 5), Allocation("B", "Y", 1)), 1)
    assert remaining_order(order, full, 5) is None
