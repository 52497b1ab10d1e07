"""The SnapshotStore contract, run unchanged against MemoryStore, RedisStore on a standalone
redis-server and RedisStore on a 3-master Redis Cluster: reads, all-or-nothing and idempotent
reservations, commit, release (all / one node), reject and extend (a node refused its shipment and
the rest of the order is re-routed into the same reservation), capacity, expiry, snapshot loads and
deltas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dom_engine.domain import Network, NotFoundError, ValidationError
from dom_engine.inventory.base import Allocation, ReservationConflict, SnapshotStore, StockDelta
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import abc_network
from tests.redis_servers import client_url, new_namespace

ROWS = [
    {"node_id": "A", "sku": "X", "on_hand": 10, "safety_stock": 2},
    {"node_id": "B", "sku": "X", "on_hand": 4},
    {"node_id": "B", "sku": "Y", "on_hand": 2},
    {"node_id": "C", "sku": "Y", "on_hand": 5, "safety_stock": 1},
    # Z and W land in other shards than X (crc32 % 16), so reservations span several slots
    {"node_id": "A", "sku": "Z", "on_hand": 6},
    {"node_id": "C", "sku": "W", "on_hand": 3},
]


class Clock:
    """A settable UTC clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def network(cap_b: int | None = 1) -> Network:
    return abc_network(store_capacity=cap_b)


@pytest.fixture(params=["memory", "redis", "cluster"])
def make_store(request: pytest.FixtureRequest) -> Iterator:
    """Factory: a store of `network()` holding ROWS, on the parametrized backend."""
    made: list = []

    def make(clock: Clock, ttl: float = 60.0, rows=ROWS, net: Network | None = None):
        net = net or network()
        if request.param == "memory":
            store = MemoryStore.from_records(net, rows, clock=clock, hold_ttl_s=ttl)
        else:
            target = request.getfixturevalue("redis_server" if request.param == "redis" else "redis_cluster")
            # no read cache: the contract compares fresh reads (the cache has its own tests)
            store = RedisStore(net, client_url(target), namespace=new_namespace(), clock=clock,
                               hold_ttl_s=ttl, cache_staleness_s=0.0)
            store.load_snapshot([r["node_id"] for r in rows], [r["sku"] for r in rows],
                                np.array([r["on_hand"] for r in rows]),
                                np.array([r.get("safety_stock", 0) for r in rows]))
            made.append(store)
        return store

    yield make
    for store in made:
        store.client.close()


def atp(store, sku: str) -> list[int]:
    return store.read([sku]).atp[:, 0].tolist()


def test_reads_atp_in_node_and_sku_order(make_store):
    store = make_store(Clock())
    assert isinstance(store, SnapshotStore)
    view = store.read(["Y", "X", "NOPE"])
    assert view.skus == ("Y", "X", "NOPE")
    assert view.atp.dtype == np.int64
    np.testing.assert_array_equal(view.atp, [[0, 8, 0], [2, 4, 0], [4, 0, 0]])
    assert view.version == store.version
    np.testing.assert_array_equal(view.capacity_left, [2**62, 1, 2**62])
    assert {"X", "Y", "Z", "W"} <= set(store.known_skus()) and "NOPE" not in store.known_skus()


def test_reserve_is_all_or_nothing_and_idempotent(make_store):
    store = make_store(Clock())
    with pytest.raises(ReservationConflict, match="'C' SKU 'Y'"):
        store.reserve("O1", [Allocation("A", "X", 3), Allocation("A", "Z", 1), Allocation("C", "Y", 5)])
    assert atp(store, "X") == [8, 4, 0] and atp(store, "Z") == [6, 0, 0]
    assert store.reservation_for_order("O1") is None
    first = store.reserve("O1", [Allocation("A", "X", 3), Allocation("A", "Z", 1), Allocation("A", "X", 1)])
    assert first.reservation_id == "res-O1" and first.order_id == "O1"
    assert first.allocations == (Allocation("A", "X", 4), Allocation("A", "Z", 1))
    assert first.expires_at == datetime(2026, 11, 23, 12, 1, tzinfo=UTC) and not first.committed
    again = store.reserve("O1", [Allocation("A", "X", 8)])
    assert again.allocations == first.allocations
    assert atp(store, "X") == [4, 4, 0] and atp(store, "Z") == [5, 0, 0]
    assert store.reservation("res-O1").allocations == first.allocations
    assert store.reservation_for_order("O1").allocations == first.allocations


def test_reserve_rejects_bad_input(make_store):
    store = make_store(Clock())
    with pytest.raises(NotFoundError) as err:
        store.reserve("O1", [Allocation("A", "X", 1), Allocation("A", "NOPE", 1)])
    assert err.value.field == "allocations[1].sku"
    with pytest.raises(NotFoundError):
        store.reserve("O1", [Allocation("Q", "X", 1)])
    with pytest.raises(ValidationError):
        store.reserve("O1", [Allocation("A", "X", 0)])
    assert atp(store, "X") == [8, 4, 0]


def test_commit_takes_units_out_of_stock_and_is_idempotent(make_store):
    store = make_store(Clock())
    res = store.reserve("O1", [Allocation("A", "X", 3), Allocation("C", "W", 2)])
    done = store.commit(res.reservation_id)
    assert done.committed and done.expires_at is None and done.allocations == res.allocations
    assert store.commit(res.reservation_id).committed
    assert atp(store, "X") == [5, 4, 0] and atp(store, "W") == [0, 0, 1]
    assert store.reservation_for_order("O1").committed
    with pytest.raises(ValidationError):
        store.release(res.reservation_id)
    assert store.reserve("O1", [Allocation("A", "X", 1)]).committed  # still the same order


def test_release_all_gives_everything_back(make_store):
    store = make_store(Clock())
    res = store.reserve("O1", [Allocation("A", "X", 3), Allocation("B", "Y", 2), Allocation("A", "Z", 6)])
    assert store.capacity_left()[1] == 0
    assert store.release(res.reservation_id) is None
    assert atp(store, "X") == [8, 4, 0] and atp(store, "Y") == [0, 2, 4] and atp(store, "Z") == [6, 0, 0]
    assert store.capacity_left()[1] == 1
    with pytest.raises(NotFoundError):
        store.reservation(res.reservation_id)
    with pytest.raises(NotFoundError):
        store.release(res.reservation_id)
    with pytest.raises(NotFoundError):
        store.release("res-never")
    assert store.reserve("O1", [Allocation("A", "X", 1)]).allocations == (Allocation("A", "X", 1),)


def test_release_one_node_keeps_the_rest(make_store):
    store = make_store(Clock())
    res = store.reserve("O1", [Allocation("A", "X", 3), Allocation("B", "X", 1), Allocation("B", "Y", 2),
                               Allocation("A", "Z", 2)])
    left = store.release(res.reservation_id, "B")
    assert left.allocations == (Allocation("A", "X", 3), Allocation("A", "Z", 2))
    assert atp(store, "X") == [5, 4, 0] and atp(store, "Y") == [0, 2, 4]
    assert store.capacity_left()[1] == 1
    with pytest.raises(NotFoundError):
        store.release(res.reservation_id, "C")
    assert store.reserve("O1", [Allocation("B", "X", 1)]).allocations == left.allocations  # still idempotent
    assert store.release(res.reservation_id, "A") is None
    assert atp(store, "X") == [8, 4, 0] and atp(store, "Z") == [6, 0, 0]
    assert store.reservation_for_order("O1") is None


def test_daily_capacity_is_held_and_given_back(make_store):
    clock = Clock()
    store = make_store(clock)
    first = store.reserve("O1", [Allocation("B", "X", 1)])
    with pytest.raises(ReservationConflict, match="capacity"):
        store.reserve("O2", [Allocation("A", "X", 1), Allocation("B", "Y", 1)])
    assert atp(store, "X") == [8, 3, 0]  # the failed reservation held nothing
    store.release(first.reservation_id)
    store.reserve("O2", [Allocation("A", "X", 1), Allocation("B", "Y", 1)])
    clock.now += timedelta(days=1)  # a new UTC day: fresh capacity
    assert store.capacity_left()[1] == 1
    store.reserve("O3", [Allocation("B", "X", 1)])


def test_holds_expire_and_sweep_gives_units_back(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    res = store.reserve("O1", [Allocation("B", "X", 3), Allocation("A", "Z", 1)])
    store.reserve("O2", [Allocation("A", "X", 1)], ttl_s=100)
    clock.now += timedelta(seconds=11)
    assert store.sweep() >= 1
    assert store.sweep() == 0
    with pytest.raises(NotFoundError):
        store.reservation(res.reservation_id)
    assert store.reservation_for_order("O1") is None
    assert atp(store, "X") == [7, 4, 0] and atp(store, "Z") == [6, 0, 0]
    assert store.capacity_left()[1] == 1
    assert store.reservation_for_order("O2") is not None
    with pytest.raises(NotFoundError):
        store.commit(res.reservation_id)


def test_expired_holds_are_given_back_lazily(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    store.reserve("O1", [Allocation("B", "X", 4)])
    clock.now += timedelta(seconds=11)
    with pytest.raises(NotFoundError):  # expired, even before any sweep
        store.reservation("res-O1")
    # no sweep(): the next reservation touching the shard (and capacity) finds the units free
    assert store.reserve("O2", [Allocation("B", "X", 4)]).allocations == (Allocation("B", "X", 4),)
    assert store.reserve("O1", [Allocation("A", "X", 1)]).allocations == (Allocation("A", "X", 1),)


def test_a_committed_hold_does_not_expire(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    res = store.reserve("O1", [Allocation("A", "X", 2)])
    store.commit(res.reservation_id)
    clock.now += timedelta(hours=1)
    store.sweep()
    assert store.reservation(res.reservation_id).committed
    assert atp(store, "X") == [6, 4, 0]


def test_load_snapshot_replaces_stock_and_keeps_holds(make_store):
    store = make_store(Clock())
    store.reserve("O1", [Allocation("A", "X", 3)])
    before = store.version
    seen = []
    version = store.load_snapshot(["A", "C", "B"], ["X", "X", "V"], np.array([20, 7, 9]), np.array([1, 0, 0]),
                                  progress=lambda done, total: seen.append((done, total)))
    assert version > before and store.version == version and store.read(["X"]).version == version
    assert seen[-1] == (3, 3)
    assert atp(store, "X") == [16, 0, 7] and atp(store, "V") == [0, 9, 0] and atp(store, "Y") == [0, 0, 0]
    assert "V" in store.known_skus()
    with pytest.raises(Exception, match="unknown node"):
        store.load_snapshot(["A", "NOPE"], ["X", "X"], np.array([1, 2]))


def test_deltas_apply_once_per_event_id(make_store):
    store = make_store(Clock())
    applied = store.apply_deltas([
        StockDelta("e1", "A", "X", on_hand=20),
        StockDelta("e2", "A", "X", adjust=-5),
        StockDelta("e1", "A", "X", on_hand=99),           # redelivered within the batch
        StockDelta("e3", "C", "Y", safety_stock=3),
        StockDelta("e4", "B", "NEW", adjust=4),            # a new SKU
        StockDelta("e5", "C", "W", on_hand=1, adjust=2),   # set, then adjust
    ])
    assert applied == 5
    assert atp(store, "X") == [13, 4, 0] and atp(store, "Y") == [0, 2, 2]
    assert atp(store, "NEW") == [0, 4, 0] and atp(store, "W") == [0, 0, 3]
    assert "NEW" in store.known_skus()
    again = [StockDelta("e2", "A", "X", adjust=-5), StockDelta("e6", "B", "X", adjust=1)]
    assert store.apply_deltas(again) == 1
    assert atp(store, "X") == [13, 5, 0]
    with pytest.raises(ValidationError):
        store.apply_deltas([StockDelta("e7", "B", "X", adjust=1), StockDelta("e8", "B", "X", adjust=-9)])
    assert atp(store, "X") == [13, 5, 0]  # nothing of the failed batch was applied
    assert store.apply_deltas([StockDelta("e7", "B", "X", adjust=1)]) == 1
    with pytest.raises(NotFoundError):
        store.apply_deltas([StockDelta("e9", "Q", "X", adjust=1)])


# ----------------------------------------------------------------- reject and extend
def test_reject_gives_back_units_and_capacity_and_records_the_node(make_store):
    store = make_store(Clock())
    res = store.reserve("O1", [Allocation("A", "X", 3), Allocation("B", "X", 1), Allocation("B", "Y", 2),
                               Allocation("A", "Z", 2)])
    assert res.rejected_nodes == () and store.capacity_left()[1] == 0
    left = store.reject(res.reservation_id, "B")
    assert left.allocations == (Allocation("A", "X", 3), Allocation("A", "Z", 2))
    assert left.rejected_nodes == ("B",) and left.expires_at == res.expires_at and not left.committed
    assert atp(store, "X") == [5, 4, 0] and atp(store, "Y") == [0, 2, 4] and atp(store, "Z") == [4, 0, 0]
    assert store.capacity_left()[1] == 1
    assert store.reservation(res.reservation_id).rejected_nodes == ("B",)
    assert store.reservation_for_order("O1").allocations == left.allocations
    store.reserve("O2", [Allocation("B", "X", 4)])  # B's stock and shipment are free for others


def test_reject_errors(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    res = store.reserve("O1", [Allocation("A", "X", 1), Allocation("C", "W", 1)])
    for rid, node_id, field in ((res.reservation_id, "B", "node_id"), ("res-never", "A", "reservation_id"),
                                (res.reservation_id, "Q", "node_id")):
        with pytest.raises(NotFoundError) as err:
            store.reject(rid, node_id)
        assert err.value.field == field
    store.reject(res.reservation_id, "C")
    with pytest.raises(NotFoundError) as err:  # rejected already: nothing held there any more
        store.reject(res.reservation_id, "C")
    assert err.value.field == "node_id"
    assert store.reservation(res.reservation_id).rejected_nodes == ("C",)
    done = store.commit(store.reserve("O2", [Allocation("A", "X", 1)]).reservation_id)
    with pytest.raises(ValidationError) as err:
        store.reject(done.reservation_id, "A")
    assert err.value.field == "reservation_id"
    gone = store.reserve("O3", [Allocation("A", "X", 1)])
    store.release(gone.reservation_id)
    with pytest.raises(NotFoundError) as err:
        store.reject(gone.reservation_id, "A")
    assert err.value.field == "reservation_id"
    clock.now += timedelta(seconds=11)
    with pytest.raises(NotFoundError) as err:  # expired
        store.reject(res.reservation_id, "A")
    assert err.value.field == "reservation_id"
    store.sweep()  # Redis reads do not sweep
    assert atp(store, "X") == [7, 4, 0] and atp(store, "W") == [0, 0, 3]


def test_a_reservation_emptied_by_rejects_stays_live_and_can_be_extended(make_store):
    store = make_store(Clock())
    res = store.reserve("O1", [Allocation("A", "X", 2), Allocation("B", "Y", 1), Allocation("C", "W", 1)])
    assert store.reject(res.reservation_id, "B").rejected_nodes == ("B",)
    assert store.reject(res.reservation_id, "A").rejected_nodes == ("B", "A")
    empty = store.reject(res.reservation_id, "C")
    assert empty.allocations == () and empty.rejected_nodes == ("B", "A", "C")
    assert atp(store, "X") == [8, 4, 0] and atp(store, "Y") == [0, 2, 4] and atp(store, "W") == [0, 0, 3]
    assert store.capacity_left()[1] == 1
    found = store.reservation_for_order("O1")
    assert found is not None and found.allocations == () and found.rejected_nodes == ("B", "A", "C")
    assert found.expires_at == res.expires_at
    assert store.reserve("O1", [Allocation("A", "X", 1)]).allocations == ()  # still the same order
    assert atp(store, "X") == [8, 4, 0]
    more = store.extend(res.reservation_id, [Allocation("C", "Y", 2)])
    assert more.allocations == (Allocation("C", "Y", 2),) and more.rejected_nodes == ("B", "A", "C")
    assert more.expires_at == res.expires_at
    assert atp(store, "Y") == [0, 2, 2]
    assert store.release(res.reservation_id) is None
    assert store.reservation_for_order("O1") is None and atp(store, "Y") == [0, 2, 4]


def test_extend_merges_and_takes_capacity_only_for_new_nodes(make_store):
    clock = Clock()
    store = make_store(clock)
    res = store.reserve("O1", [Allocation("A", "X", 2), Allocation("B", "Y", 1)])
    clock.now += timedelta(seconds=30)
    # B is capped at one shipment a day, which O1 holds already: more units there cost none
    more = store.extend(res.reservation_id, [Allocation("B", "Y", 1), Allocation("A", "X", 1),
                                             Allocation("C", "W", 2)])
    assert more.allocations == (Allocation("A", "X", 3), Allocation("B", "Y", 2), Allocation("C", "W", 2))
    assert more.expires_at == res.expires_at and not more.committed
    assert atp(store, "X") == [5, 4, 0] and atp(store, "Y") == [0, 0, 4] and atp(store, "W") == [0, 0, 1]
    assert store.capacity_left()[1] == 0
    assert store.reservation_for_order("O1").allocations == more.allocations
    # a node the reservation does not ship from yet needs a shipment of capacity
    other = store.reserve("O2", [Allocation("A", "Z", 1)])
    with pytest.raises(ReservationConflict, match="capacity"):
        store.extend(other.reservation_id, [Allocation("A", "Z", 1), Allocation("B", "X", 1)])
    assert atp(store, "Z") == [5, 0, 0] and atp(store, "X") == [5, 4, 0]
    store.release(res.reservation_id, "B")
    assert store.capacity_left()[1] == 1
    assert store.extend(other.reservation_id, [Allocation("B", "X", 1)]).allocations == (
        Allocation("A", "Z", 1), Allocation("B", "X", 1))
    assert store.capacity_left()[1] == 0


def test_extend_is_all_or_nothing(make_store):
    store = make_store(Clock())
    res = store.reserve("O1", [Allocation("A", "X", 2)])
    # X (a shard the hold uses) fits, W (another shard) does not: nothing is held
    for wanted in ([Allocation("A", "X", 1), Allocation("C", "W", 4)],
                   [Allocation("A", "Z", 2), Allocation("C", "W", 4)],
                   [Allocation("C", "W", 1), Allocation("A", "X", 7)]):
        with pytest.raises(ReservationConflict):
            store.extend(res.reservation_id, wanted)
        assert atp(store, "X") == [6, 4, 0] and atp(store, "Z") == [6, 0, 0] and atp(store, "W") == [0, 0, 3]
        assert store.reservation(res.reservation_id).allocations == (Allocation("A", "X", 2),)
    with pytest.raises(NotFoundError) as err:
        store.extend(res.reservation_id, [Allocation("A", "X", 1), Allocation("A", "NOPE", 1)])
    assert err.value.field == "allocations[1].sku"
    with pytest.raises(ValidationError):
        store.extend(res.reservation_id, [Allocation("A", "X", 0)])
    assert atp(store, "X") == [6, 4, 0]
    assert store.reservation(res.reservation_id).allocations == (Allocation("A", "X", 2),)


def test_extend_needs_a_live_reservation(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    with pytest.raises(NotFoundError) as err:
        store.extend("res-never", [Allocation("A", "X", 1)])
    assert err.value.field == "reservation_id"
    gone = store.reserve("O1", [Allocation("A", "X", 1)])
    store.release(gone.reservation_id)
    with pytest.raises(NotFoundError):
        store.extend(gone.reservation_id, [Allocation("A", "X", 1)])
    res = store.reserve("O2", [Allocation("A", "X", 1)])
    more = store.extend(res.reservation_id, [Allocation("C", "W", 1)])
    clock.now += timedelta(seconds=11)
    with pytest.raises(NotFoundError):
        store.extend(res.reservation_id, [Allocation("A", "X", 1)])
    assert store.reservation_for_order("O2") is None
    store.sweep()
    assert atp(store, "X") == [8, 4, 0] and atp(store, "W") == [0, 0, 3]  # the extension expired too
    assert more.expires_at == res.expires_at


def test_commit_after_extend_commits_everything(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    res = store.reserve("O1", [Allocation("A", "X", 2), Allocation("B", "X", 1)])
    store.reject(res.reservation_id, "B")
    store.extend(res.reservation_id, [Allocation("C", "W", 2), Allocation("A", "X", 1),
                                      Allocation("B", "Y", 1)])
    done = store.commit(res.reservation_id)
    assert done.committed and done.expires_at is None and done.rejected_nodes == ("B",)
    assert done.allocations == (Allocation("A", "X", 3), Allocation("C", "W", 2), Allocation("B", "Y", 1))
    clock.now += timedelta(hours=1)
    store.sweep()
    assert store.reservation_for_order("O1") == done
    assert atp(store, "X") == [5, 4, 0] and atp(store, "W") == [0, 0, 1] and atp(store, "Y") == [0, 1, 4]
    with pytest.raises(ValidationError):
        store.extend(res.reservation_id, [Allocation("A", "X", 1)])
