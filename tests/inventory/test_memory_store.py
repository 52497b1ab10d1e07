"""MemoryStore: reads, versions, all-or-nothing reservations, idempotency, capacity, threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dom_engine.domain import ConfigError, Network, NotFoundError, ValidationError
from dom_engine.inventory.base import Allocation, ReservationConflict, SnapshotStore
from dom_engine.inventory.memory import MemoryStore
from dom_engine.testing.networks import abc_network


def _network(capacity: int | None = None) -> Network:
    return abc_network(store_capacity=capacity)


def _store(**kwargs) -> MemoryStore:
    return MemoryStore.from_records(_network(**kwargs), [
        {"node_id": "A", "sku": "X", "on_hand": 10, "safety_stock": 2},
        {"node_id": "B", "sku": "X", "on_hand": 3},
        {"node_id": "C", "sku": "Y", "on_hand": 5, "safety_stock": 1},
        {"node_id": "A", "sku": "Y", "on_hand": 1, "safety_stock": 4},
    ])


def test_is_a_snapshot_store():
    assert isinstance(_store(), SnapshotStore)


def test_read_returns_atp_in_node_order_and_requested_sku_order():
    store = _store()
    view = store.read(["Y", "X"])
    assert view.skus == ("Y", "X")
    assert view.atp.dtype == np.int64
    # ATP = on_hand - reserved - safety, clipped at 0 (A/Y has more safety than stock)
    np.testing.assert_array_equal(view.atp, [[0, 8], [0, 3], [4, 0]])
    np.testing.assert_array_equal(view.column("X"), [8, 3, 0])
    assert view.version == store.version


def test_unknown_sku_reads_as_zero_and_is_not_known():
    store = _store()
    view = store.read(["NOPE", "X"])
    np.testing.assert_array_equal(view.atp[:, 0], [0, 0, 0])
    assert "NOPE" not in store.known_skus()
    assert {"X", "Y"} <= store.known_skus()


def test_read_is_a_copy():
    store = _store()
    view = store.read(["X"])
    view.atp[:] = 999
    assert store.read(["X"]).atp[0, 0] == 8


def test_version_increments_on_every_change():
    store = _store()
    v0 = store.version
    store.set_stock("A", "X", 20)
    assert store.version == v0 + 1
    store.adjust("C", "Y", -2)
    assert store.version == v0 + 2
    res = store.reserve("o1", [Allocation("A", "X", 1)])
    assert store.version == v0 + 3 == res.version
    store.release(res.reservation_id)
    assert store.version == v0 + 4
    store.read(["X"])
    assert store.version == v0 + 4  # reads do not change the version


def test_set_stock_and_adjust():
    store = _store()
    store.set_stock("B", "NEW", 7, safety_stock=1)
    assert "NEW" in store.known_skus()
    np.testing.assert_array_equal(store.read(["NEW"]).atp[:, 0], [0, 6, 0])
    assert store.adjust("B", "NEW", 3) == 10
    with pytest.raises(ValidationError):
        store.adjust("B", "NEW", -11)
    with pytest.raises(NotFoundError):
        store.set_stock("ZZ", "X", 1)
    assert store.levels("B", "NEW") == (10, 0, 1)


def test_reserve_holds_units_and_release_returns_them():
    store = _store()
    res = store.reserve("o1", [Allocation("A", "X", 5), Allocation("B", "X", 1)])
    assert res.order_id == "o1"
    np.testing.assert_array_equal(store.read(["X"]).atp[:, 0], [3, 2, 0])
    assert store.levels("A", "X") == (10, 5, 2)
    store.release(res.reservation_id)
    np.testing.assert_array_equal(store.read(["X"]).atp[:, 0], [8, 3, 0])
    with pytest.raises(NotFoundError):
        store.release(res.reservation_id)


def test_reserve_is_all_or_nothing():
    store = _store()
    before = store.arrays()
    version = store.version
    with pytest.raises(ReservationConflict, match="'C'"):
        store.reserve("o1", [Allocation("A", "X", 8), Allocation("C", "Y", 5)])  # C/Y ATP is 4
    after = store.arrays()
    for a, b in zip(before[1:], after[1:], strict=True):
        np.testing.assert_array_equal(a, b)
    assert store.version == version
    # the order id is free again: a fitting reservation now succeeds
    store.reserve("o1", [Allocation("A", "X", 8)])


def test_duplicate_allocations_are_merged_before_the_check():
    store = _store()
    with pytest.raises(ReservationConflict):
        store.reserve("o1", [Allocation("A", "X", 5), Allocation("A", "X", 4)])  # 9 > 8
    res = store.reserve("o2", [Allocation("A", "X", 4), Allocation("A", "X", 4)])
    assert res.allocations == (Allocation("A", "X", 8),)


def test_reserve_is_idempotent_per_order_id():
    store = _store()
    first = store.reserve("o1", [Allocation("A", "X", 3)])
    version = store.version
    again = store.reserve("o1", [Allocation("A", "X", 3)])
    assert again == first
    assert store.version == version
    assert store.levels("A", "X")[1] == 3  # held once, not twice


def test_consume_takes_units_off_hand():
    store = _store()
    res = store.reserve("o1", [Allocation("C", "Y", 2)])
    store.consume(res.reservation_id)
    assert store.levels("C", "Y") == (3, 0, 1)


def test_reserve_rejects_bad_allocations():
    store = _store()
    with pytest.raises(NotFoundError, match=r"allocations\[0\].node_id"):
        store.reserve("o1", [Allocation("ZZ", "X", 1)])
    with pytest.raises(NotFoundError, match=r"allocations\[1\].sku"):
        store.reserve("o1", [Allocation("A", "X", 1), Allocation("A", "NOPE", 1)])
    with pytest.raises(ValidationError, match=r"allocations\[0\].quantity"):
        store.reserve("o1", [Allocation("A", "X", 0)])


def test_capacity_left_is_none_without_capacities():
    store = _store()
    assert store.capacity_left() is None
    assert store.read(["X"]).capacity_left is None


def test_capacity_counts_shipments_held_today_and_resets_next_day():
    now = [datetime(2026, 3, 2, 10, tzinfo=UTC)]
    store = MemoryStore.from_records(
        _network(capacity=2), [{"node_id": "B", "sku": "X", "on_hand": 50}], clock=lambda: now[0])
    assert store.capacity_left()[1] == 2
    assert store.capacity_left()[0] > 10**9  # uncapped nodes
    r1 = store.reserve("o1", [Allocation("B", "X", 1)])
    store.reserve("o2", [Allocation("B", "X", 1)])
    assert store.read(["X"]).capacity_left[1] == 0
    with pytest.raises(ReservationConflict, match="capacity"):
        store.reserve("o3", [Allocation("B", "X", 1)])
    store.release(r1.reservation_id)
    assert store.capacity_left()[1] == 1
    now[0] += timedelta(days=1)
    assert store.capacity_left()[1] == 2


def test_unknown_node_in_records_names_the_row():
    with pytest.raises(ConfigError, match=r"records\[1\].node_id") as info:
        MemoryStore.from_records(_network(), [
            {"node_id": "A", "sku": "X", "on_hand": 1},
            {"node_id": "DC-9", "sku": "X", "on_hand": 1},
        ])
    assert "DC-9" in str(info.value)


def test_duplicate_and_negative_rows_are_config_errors():
    with pytest.raises(ConfigError, match=r"records\[2\]"):
        MemoryStore.from_records(_network(), [
            {"node_id": "A", "sku": "X", "on_hand": 1},
            {"node_id": "B", "sku": "X", "on_hand": 1},
            {"node_id": "A", "sku": "X", "on_hand": 2},
        ])
    with pytest.raises(ConfigError, match=r"records\[0\].on_hand"):
        MemoryStore.from_records(_network(), [{"node_id": "A", "sku": "X", "on_hand": -1}])
    with pytest.raises(ConfigError, match="shape"):
        MemoryStore.from_arrays(_network(), ["X"], np.zeros((2, 1), dtype=np.int64))


def test_concurrent_reservations_never_oversell():
    """40 threads race for 8 ATP units, each wanting 1: exactly 8 win, and the books balance."""
    store = _store()
    wins, conflicts = [], []
    barrier = threading.Barrier(40)

    def worker(k: int) -> None:
        barrier.wait()
        try:
            wins.append(store.reserve(f"o{k}", [Allocation("A", "X", 1)]))
        except ReservationConflict:
            conflicts.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 8 and len(conflicts) == 32
    assert store.levels("A", "X") == (10, 8, 2)
    assert len({w.reservation_id for w in wins}) == 8


def test_concurrent_reads_see_consistent_snapshots():
    """Writers move units between two cells under the lock; a reader never sees a torn total."""
    store = MemoryStore.from_records(_network(), [
        {"node_id": "A", "sku": "X", "on_hand": 100}, {"node_id": "C", "sku": "X", "on_hand": 0}])
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            with store._lock:  # a transfer is two changes; hold the lock across both
                store.adjust("A", "X", -1 if i % 2 == 0 else 1)
                store.adjust("C", "X", 1 if i % 2 == 0 else -1)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        totals = {int(store.read(["X"]).atp.sum()) for _ in range(2000)}
    finally:
        stop.set()
        t.join()
    assert totals == {100}
