"""MemoryStore reservation lifecycle and stock feeds: expiry, commit, partial release (a node
rejects its shipment), snapshot loads that keep holds, and idempotent warehouse deltas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dom_engine.domain import Network, Node, NodeKind, NotFoundError, ValidationError
from dom_engine.inventory.base import Allocation, ReservationConflict, StockDelta
from dom_engine.inventory.memory import MemoryStore


class Clock:
    """A settable clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _store(clock: Clock, ttl: float = 60.0) -> MemoryStore:
    network = Network((
        Node("A", NodeKind.WAREHOUSE, 40.0, -75.0),
        Node("B", NodeKind.STORE, 41.0, -87.0, daily_shipment_capacity=1),
    ))
    return MemoryStore.from_records(network, [
        {"node_id": "A", "sku": "X", "on_hand": 10},
        {"node_id": "B", "sku": "X", "on_hand": 4},
        {"node_id": "B", "sku": "Y", "on_hand": 2},
    ], clock=clock, hold_ttl_s=ttl)


def _atp(store: MemoryStore, sku: str) -> list[int]:
    return store.read([sku]).atp[:, 0].tolist()


def test_hold_expires_and_gives_back_units_and_capacity():
    clock = Clock()
    store = _store(clock)
    res = store.reserve("O1", [Allocation("B", "X", 3)])
    assert _atp(store, "X") == [10, 1]
    assert store.capacity_left()[1] == 0
    clock.now += timedelta(seconds=59)
    assert store.reservation(res.reservation_id).expires_at == datetime(2026, 11, 23, 12, 1, tzinfo=UTC)
    clock.now += timedelta(seconds=2)
    assert _atp(store, "X") == [10, 4]
    assert store.capacity_left()[1] == 1
    assert store.reservation_for_order("O1") is None
    with pytest.raises(NotFoundError):
        store.reservation(res.reservation_id)


def test_sweep_reports_expired_holds():
    clock = Clock()
    store = _store(clock, ttl=1)
    store.reserve("O1", [Allocation("A", "X", 1)])
    store.reserve("O2", [Allocation("A", "X", 1)], ttl_s=100)
    clock.now += timedelta(seconds=5)
    assert store.sweep() == 1
    assert _atp(store, "X")[0] == 9


def test_commit_takes_units_off_hand_and_never_expires():
    clock = Clock()
    store = _store(clock)
    res = store.reserve("O1", [Allocation("A", "X", 4)])
    committed = store.commit(res.reservation_id)
    assert committed.committed and committed.expires_at is None
    assert store.commit(res.reservation_id).committed  # idempotent
    clock.now += timedelta(days=1)
    assert store.levels("A", "X") == (6, 0, 0)
    assert store.reservation_for_order("O1").committed
    with pytest.raises(ValidationError, match="committed"):
        store.release(res.reservation_id)


def test_release_one_node_keeps_the_rest():
    clock = Clock()
    store = _store(clock)
    res = store.reserve("O1", [Allocation("A", "X", 2), Allocation("B", "Y", 1)])
    rest = store.release(res.reservation_id, node_id="B")
    assert rest is not None and [a.node_id for a in rest.allocations] == ["A"]
    assert _atp(store, "Y") == [0, 2] and store.capacity_left()[1] == 1
    assert store.release(res.reservation_id, node_id="A") is None
    assert _atp(store, "X") == [10, 4]
    with pytest.raises(NotFoundError):
        store.release(res.reservation_id)


def test_release_of_a_node_the_reservation_does_not_use_is_refused():
    store = _store(Clock())
    res = store.reserve("O1", [Allocation("A", "X", 2)])
    with pytest.raises(NotFoundError, match="holds nothing"):
        store.release(res.reservation_id, node_id="B")
    assert _atp(store, "X") == [8, 4]


def test_snapshot_load_replaces_stock_and_keeps_holds():
    store = _store(Clock())
    store.reserve("O1", [Allocation("A", "X", 3)])
    before = store.version
    seen = []
    version = store.load_snapshot(["A", "B", "A"], ["X", "X", "Z"], np.array([20, 1, 7]),
                                  progress=lambda done, total: seen.append((done, total)))
    assert version > before and seen[-1] == (3, 3)
    assert _atp(store, "X") == [17, 1]   # 20 on hand minus the 3 still held
    assert _atp(store, "Y") == [0, 0]    # absent from the snapshot: nothing on hand
    assert _atp(store, "Z") == [7, 0]


def test_snapshot_with_an_unknown_node_changes_nothing():
    store = _store(Clock())
    with pytest.raises(Exception, match="unknown node"):
        store.load_snapshot(["A", "NOPE"], ["X", "X"], np.array([1, 1]))
    assert _atp(store, "X") == [10, 4]


def test_deltas_apply_once_per_event_id():
    store = _store(Clock())
    deltas = [StockDelta("e1", "A", "X", adjust=-2), StockDelta("e2", "B", "X", on_hand=9),
              StockDelta("e3", "A", "NEW", on_hand=5, safety_stock=1)]
    assert store.apply_deltas(deltas) == 3
    assert store.apply_deltas(deltas) == 0  # redelivered
    assert _atp(store, "X") == [8, 9] and _atp(store, "NEW") == [4, 0]


def test_a_bad_delta_rejects_the_whole_batch():
    store = _store(Clock())
    with pytest.raises(ValidationError, match="deltas\\[1\\]"):
        store.apply_deltas([StockDelta("e1", "A", "X", adjust=1), StockDelta("e2", "B", "X", adjust=-99)])
    assert _atp(store, "X") == [10, 4]
    assert store.apply_deltas([StockDelta("e1", "A", "X", adjust=1)]) == 1  # e1 was not consumed


def test_reserve_after_expiry_can_hold_again():
    clock = Clock()
    store = _store(clock, ttl=1)
    store.reserve("O1", [Allocation("B", "X", 4)])
    with pytest.raises(ReservationConflict):
        store.reserve("O2", [Allocation("B", "X", 1)])
    clock.now += timedelta(seconds=2)
    assert store.reserve("O2", [Allocation("B", "X", 4)]).allocations[0].quantity == 4
