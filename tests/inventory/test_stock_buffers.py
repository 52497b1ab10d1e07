"""A reservation carries the stock buffer its plan was made with (Allocation.keep) and every store
refuses, atomically, a hold that would leave less than that available: MemoryStore, RedisStore on
standalone Redis (one script; reserve_many's pipeline) and on a Cluster (one script per shard,
compensated), and extend (a rejected shipment re-routed into the reservation)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from dom_engine.domain import Network, Node, NodeKind, ValidationError
from dom_engine.inventory.base import Allocation, Reservation, ReservationConflict
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.redis_store import RedisStore
from tests.redis_servers import client_url, new_namespace

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NET = Network((Node("A", NodeKind.WAREHOUSE, 40.0, -75.0), Node("S", NodeKind.STORE, 41.9, -87.6)))
# X and Z land in different shards (crc32 % 16), so an order of both spans two Cluster slots
ROWS = [("S", "X", 2), ("A", "X", 5), ("A", "Z", 6)]


@pytest.fixture(params=["memory", "redis", "cluster"])
def store(request: pytest.FixtureRequest) -> Iterator:
    """ROWS on the parametrized backend (Redis without a read cache: fresh reads)."""
    nodes, skus, on_hand = zip(*ROWS, strict=True)
    if request.param == "memory":
        yield MemoryStore.from_columns(NET, nodes, skus, on_hand, clock=lambda: NOW)
        return
    target = request.getfixturevalue("redis_server" if request.param == "redis" else "redis_cluster")
    made = RedisStore(NET, client_url(target), namespace=new_namespace("buf"), clock=lambda: NOW,
                      cache_staleness_s=0.0)
    made.load_snapshot(list(nodes), list(skus), np.array(on_hand))
    yield made
    made.client.close()


def atp(store, sku: str) -> list[int]:
    return store.read([sku]).atp[:, 0].tolist()


def test_keep_is_a_condition_not_part_of_the_units():
    assert Allocation("S", "X", 1, keep=1) == Allocation("S", "X", 1)


def test_reserve_refuses_what_would_spend_the_buffer(store):
    first = store.reserve("O1", [Allocation("S", "X", 1, keep=1)])
    assert first.allocations == (Allocation("S", "X", 1),)
    buffer = "'S' SKU 'X': wants 1, ATP is 1 and the stock buffer keeps 1$"
    with pytest.raises(ReservationConflict, match=buffer):
        store.reserve("O2", [Allocation("S", "X", 1, keep=1)])
    assert store.reservation_for_order("O2") is None and atp(store, "X") == [5, 1]
    # all or nothing across shards (a Cluster holds Z first, then gives it back)
    with pytest.raises(ReservationConflict):
        store.reserve("O3", [Allocation("A", "Z", 2), Allocation("S", "X", 1, keep=1)])
    assert store.reservation_for_order("O3") is None and atp(store, "Z") == [6, 0]
    # the buffer is the caller's: a plan made without one may take the last unit
    assert store.reserve("O4", [Allocation("S", "X", 1)]).allocations == (Allocation("S", "X", 1),)
    assert atp(store, "X") == [5, 0]


def test_the_largest_keep_of_a_cell_counts(store):
    with pytest.raises(ReservationConflict):
        store.reserve("O1", [Allocation("S", "X", 1, keep=0), Allocation("S", "X", 1, keep=1)])
    assert atp(store, "X") == [5, 2]


def test_reserve_many_keeps_the_buffer_order_by_order(store):
    outcomes = store.reserve_many([("M1", [Allocation("S", "X", 1, keep=1)]),
                                   ("M2", [Allocation("S", "X", 1, keep=1)]),
                                   ("M3", [Allocation("A", "X", 4, keep=1)])])
    assert isinstance(outcomes[0], Reservation) and isinstance(outcomes[2], Reservation)
    assert isinstance(outcomes[1], ReservationConflict)
    assert atp(store, "X") == [1, 1]


def test_extend_keeps_the_buffer(store):
    res = store.reserve("E1", [Allocation("A", "Z", 1)])
    with pytest.raises(ReservationConflict, match="stock buffer keeps 1"):
        store.extend(res.reservation_id, [Allocation("S", "X", 2, keep=1)], token="t1")
    assert atp(store, "X") == [5, 2]
    grown = store.extend(res.reservation_id, [Allocation("S", "X", 1, keep=1)], token="t2")
    assert grown.allocations == (Allocation("A", "Z", 1), Allocation("S", "X", 1))
    with pytest.raises(ReservationConflict):
        store.extend(res.reservation_id, [Allocation("S", "X", 1, keep=1)], token="t3")
    assert atp(store, "X") == [5, 1]


@pytest.mark.parametrize("keep", [-1, "1", 1.5, True])
def test_a_bad_keep_is_refused_naming_the_field(store, keep):
    with pytest.raises(ValidationError) as err:
        store.reserve("B1", [Allocation("A", "X", 1), Allocation("S", "X", 1, keep=keep)])
    assert err.value.field == "allocations[1].keep"
    assert atp(store, "X") == [5, 2]
