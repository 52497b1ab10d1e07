"""Engine: request validation (domain errors naming the field), reservations in the MemoryStore
(ATP drops by the planned units, idempotent per order id), and re-planning when stock moved."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from dom_engine.app.engine import Engine
from dom_engine.app.routing import plan_allocations
from dom_engine.domain import (
    Destination,
    DomainError,
    Limits,
    Line,
    Network,
    Node,
    NodeKind,
    NotFoundError,
    Order,
    OrderOptions,
    PolicyProfile,
    ValidationError,
    us_network_rate_card,
)
from dom_engine.inventory.base import ReservationConflict
from dom_engine.inventory.memory import MemoryStore

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
# A is nearest the customer (40N 75W), B far west; C a store.
NETWORK = Network((
    Node("A", NodeKind.WAREHOUSE, 40.0, -76.0, handling_per_shipment=1.0),
    Node("B", NodeKind.WAREHOUSE, 40.0, -90.0, handling_per_shipment=1.0),
    Node("C", NodeKind.STORE, 40.5, -75.5),
))
SKUS = ("X", "Y")


def _engine(on_hand=((4, 3), (9, 9), (0, 0)), store=None, **kw) -> Engine:
    store = store or MemoryStore.from_arrays(NETWORK, SKUS, np.array(on_hand, dtype=np.int64),
                                             clock=lambda: NOW)
    policies = {"default": PolicyProfile(), "fewest": PolicyProfile(name="fewest")}
    return Engine(NETWORK, us_network_rate_card(), store, policies=policies, clock=lambda: NOW, **kw)


def _order(*lines, order_id="O-1", **options) -> Order:
    lines = lines or (("L1", "X", 2),)
    return Order(order_id, tuple(Line(*ln) for ln in lines), Destination(40.0, -75.0),
                 options=OrderOptions(**options), created_at=NOW)


def _atp(engine: Engine) -> np.ndarray:
    return engine.store.read(SKUS).atp


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("order, error, field", [
    (_order(("L1", "NOPE", 1)), NotFoundError, "lines[0].sku"),
    (_order(("L1", "X", 1), ("L2", "Y", 1), ("L3", "X", 1)), ValidationError, "lines"),
    (Order("O-1", (Line("L1", "X", 1),), Destination(40.0, -75.0), deliver_by=date(2026, 3, 1),
           created_at=NOW), ValidationError, "deliver_by"),
    (_order(policy="nope"), NotFoundError, "options.policy"),
    (_order(excluded_nodes=frozenset({"ZZ"})), NotFoundError, "options.excluded_nodes"),
    (_order(("L1", "X", 11)), ValidationError, "lines[0].quantity"),
])
def test_invalid_orders_raise_domain_errors_naming_the_field(order, error, field):
    """Each user error raises a DomainError subclass whose `field` points at the culprit; nothing is
    reserved on the way."""
    engine = _engine(limits=Limits(max_lines=2, max_quantity=10))
    before = _atp(engine).copy()
    with pytest.raises(error) as info:
        engine.route(order, reserve=True)
    assert isinstance(info.value, DomainError)
    assert info.value.field == field
    assert field in str(info.value)
    assert (_atp(engine) == before).all()


def test_deliver_by_today_is_accepted():
    engine = _engine()
    plan = engine.route(Order("O-1", (Line("L1", "X", 1),), Destination(40.0, -75.0),
                              deliver_by=NOW.date(), created_at=NOW))
    assert plan.status.name in ("OPTIMAL", "INFEASIBLE")  # validation passed; feasibility is another matter


def test_unknown_default_policy_is_rejected_at_construction():
    store = MemoryStore.from_arrays(NETWORK, SKUS, np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(NotFoundError) as info:
        Engine(NETWORK, us_network_rate_card(), store, default_policy="missing")
    assert info.value.field == "default_policy"


# --------------------------------------------------------------------------- reservations
def test_plan_without_reserve_leaves_stock_alone():
    engine = _engine()
    before = _atp(engine).copy()
    plan = engine.route(_order(("L1", "X", 2), ("L2", "Y", 1)))
    assert plan.shipments and not plan.reservation_id
    assert (_atp(engine) == before).all()


def test_reserve_holds_exactly_the_planned_units():
    """ATP drops by the plan's units at the plan's nodes, and the reservation lists them."""
    engine = _engine()
    before = _atp(engine).copy()
    plan = engine.route(_order(("L1", "X", 2), ("L2", "Y", 1)), reserve=True)
    assert plan.reservation_id
    expected = before.copy()
    for a in plan_allocations(plan):
        expected[NETWORK.index_of(a.node_id), SKUS.index(a.sku)] -= a.quantity
    assert (_atp(engine) == expected).all()
    assert (expected != before).any()
    held = {(a.node_id, a.sku): a.quantity for a in engine.store.reservation(plan.reservation_id).allocations}
    assert held == {(a.node_id, a.sku): a.quantity for a in plan_allocations(plan)}


def test_reserve_is_idempotent_per_order_id_when_stock_is_deep():
    engine = _engine()
    first = engine.route(_order(), reserve=True)
    after_first = _atp(engine).copy()
    second = engine.route(_order(), reserve=True)
    assert second.reservation_id == first.reservation_id
    assert (_atp(engine) == after_first).all()


def test_reserve_retry_returns_the_plan_that_was_reserved():
    """A holds exactly the 4 X wanted; a retry of the same order must not report a plan from B while
    the reservation (same id) still holds A's units."""
    engine = _engine()
    order = _order(("L1", "X", 4))
    first = engine.route(order, reserve=True)
    assert [s.node_id for s in first.shipments] == ["A"]
    second = engine.route(order, reserve=True)
    assert second.reservation_id == first.reservation_id
    assert [s.node_id for s in second.shipments] == ["A"]


def test_nothing_reserved_when_everything_is_backordered():
    engine = _engine(on_hand=((0, 0), (0, 0), (0, 0)))
    plan = engine.route(_order(allow_backorder=True), reserve=True)
    assert plan.status.name == "OPTIMAL" and not plan.shipments and not plan.reservation_id


def test_infeasible_order_reserves_nothing():
    engine = _engine()
    before = _atp(engine).copy()
    plan = engine.route(_order(("L1", "Y", 50)), reserve=True)
    assert plan.status.name == "INFEASIBLE" and not plan.reservation_id
    assert (_atp(engine) == before).all()


class FlakyStore:
    """A MemoryStore whose first `failures` reservations find the stock gone: before raising, the
    planned units are taken by a competitor (so a re-plan on fresh stock must look elsewhere)."""

    def __init__(self, inner: MemoryStore, failures: int = 1) -> None:
        self.inner, self.failures, self.reads, self.attempts = inner, failures, 0, []

    @property
    def version(self) -> int:
        return self.inner.version

    def known_skus(self):
        return self.inner.known_skus()

    def read(self, skus):
        self.reads += 1
        return self.inner.read(skus)

    def reserve(self, order_id, allocations):
        self.attempts.append(tuple(allocations))
        if self.failures > 0:
            self.failures -= 1
            for a in allocations:  # a competitor ships these units first
                self.inner.adjust(a.node_id, a.sku, -a.quantity)
            raise ReservationConflict("stock moved")
        return self.inner.reserve(order_id, allocations)

    def release(self, reservation_id):
        self.inner.release(reservation_id)

    def reservation_for_order(self, order_id):
        return self.inner.reservation_for_order(order_id)


def test_conflict_triggers_a_replan_on_fresh_stock():
    """The first reservation hits a conflict after A's units vanish: the engine reads again,
    re-plans away from the stock that moved, and reserves the new plan."""
    inner = MemoryStore.from_arrays(NETWORK, SKUS, np.array([[4, 3], [9, 9], [0, 0]]), clock=lambda: NOW)
    store = FlakyStore(inner, failures=1)
    engine = _engine(store=store)
    plan = engine.route(_order(("L1", "X", 4)), reserve=True)
    assert store.reads == 2 and len(store.attempts) == 2
    assert [a.node_id for a in store.attempts[0]] == ["A"]
    assert [s.node_id for s in plan.shipments] == ["B"]
    assert plan.reservation_id
    assert inner.levels("B", "X") == (9, 4, 0)
    assert plan.snapshot_version >= 2  # planned on the post-conflict snapshot


def test_persistent_conflict_raises_after_three_attempts():
    inner = MemoryStore.from_arrays(NETWORK, SKUS, np.full((3, 2), 50), clock=lambda: NOW)
    store = FlakyStore(inner, failures=10)
    engine = _engine(store=store)
    with pytest.raises(ReservationConflict):
        engine.route(_order(), reserve=True)
    assert store.reads == 3 and len(store.attempts) == 3
