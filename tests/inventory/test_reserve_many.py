"""Batch reservations through the SnapshotStore protocol, the same on MemoryStore, RedisStore on a
standalone redis-server and on a 3-master Cluster: `reserve_many` holds each order all or nothing
and answers per order, and `reservations_for_orders` finds the live holds of many orders at once
(how a retried batch finds what it already holds)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dom_engine.domain import NotFoundError, ValidationError
from dom_engine.inventory.base import Allocation, ReservationConflict, SnapshotStore
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import abc_network
from tests.redis_servers import client_url, new_namespace

NET = abc_network(store_capacity=1)
# X and Z live in different Redis shards, so one order's hold spans several slots on a Cluster.
ROWS = [("A", "X", 10), ("B", "X", 4), ("C", "Z", 6), ("B", "Z", 5)]


class Clock:
    """A settable UTC clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["memory", "redis", "cluster"])
def store(request: pytest.FixtureRequest) -> Iterator:
    """A store of NET holding ROWS (holds live 60 s on `store.test_clock`), on each backend."""
    clock = Clock()
    if request.param == "memory":
        made = MemoryStore.from_records(NET, [{"node_id": n, "sku": s, "on_hand": q} for n, s, q in ROWS],
                                        clock=clock, hold_ttl_s=60.0)
    else:
        target = request.getfixturevalue("redis_server" if request.param == "redis" else "redis_cluster")
        made = RedisStore(NET, client_url(target), namespace=new_namespace("rm"), clock=clock,
                          hold_ttl_s=60.0, cache_staleness_s=0.0)
        made.load_snapshot([r[0] for r in ROWS], [r[1] for r in ROWS], np.array([r[2] for r in ROWS]))
    made.test_clock = clock
    yield made
    if request.param != "memory":
        made.client.close()


def _atp(store, sku: str) -> list[int]:
    return store.read([sku]).atp[:, 0].tolist()


def test_both_stores_implement_the_batch_methods(store):
    assert isinstance(store, SnapshotStore)


def test_reserve_many_answers_per_order_each_all_or_nothing(store):
    out = store.reserve_many([
        ("O1", [Allocation("A", "X", 3), Allocation("C", "Z", 2)]),
        ("O2", [Allocation("A", "X", 8)]),                            # short after O1: nothing held
        ("O3", [Allocation("A", "NOPE", 1)]),                          # unknown SKU
        ("O4", [Allocation("A", "X", 0)]),                             # not a quantity
        ("O5", [Allocation("B", "X", 1), Allocation("B", "Z", 1)]),    # B's one shipment today
        ("O6", [Allocation("B", "Z", 1)]),                             # B is full: a conflict
        ("O7", [Allocation("A", "X", 7)]),                             # exactly what is left
    ])
    held = sorted(out[0].allocations, key=lambda a: a.sku)
    assert held == [Allocation("A", "X", 3), Allocation("C", "Z", 2)]
    assert out[0].reservation_id == "res-O1" and out[0].order_id == "O1"
    assert isinstance(out[1], ReservationConflict) and isinstance(out[5], ReservationConflict)
    assert isinstance(out[2], NotFoundError) and isinstance(out[3], ValidationError)
    assert out[4].reservation_id == "res-O5" and out[6].reservation_id == "res-O7"
    assert _atp(store, "X") == [0, 3, 0] and _atp(store, "Z") == [0, 4, 4]
    assert store.reservation_for_order("O2") is None and store.reservation_for_order("O6") is None


def test_reserve_many_again_returns_the_holds_and_holds_nothing_twice(store):
    first = store.reserve_many([("O1", [Allocation("A", "X", 3)]), ("O2", [Allocation("C", "Z", 2)])])
    again = store.reserve_many([("O1", [Allocation("A", "X", 5)]), ("O2", [Allocation("C", "Z", 2)]),
                                ("O3", [Allocation("A", "X", 1)])])
    assert again[0].allocations == first[0].allocations == (Allocation("A", "X", 3),)  # the first hold
    assert again[1].reservation_id == first[1].reservation_id
    assert _atp(store, "X") == [6, 4, 0] and _atp(store, "Z") == [0, 5, 4]


def test_reservations_for_orders_finds_the_live_holds(store):
    store.reserve_many([("O1", [Allocation("A", "X", 1)]), ("O2", [Allocation("C", "Z", 1)]),
                        ("O3", [Allocation("A", "X", 1)])])
    store.release("res-O2")
    store.commit("res-O3")
    found = store.reservations_for_orders(["O1", "O2", "O3", "O4", "O1"])
    assert set(found) == {"O1", "O3"}                       # released and unknown orders are absent
    assert found["O1"].allocations == (Allocation("A", "X", 1),) and not found["O1"].committed
    assert found["O3"].committed                            # committed holds stay (a retry must see them)
    assert found["O1"] == store.reservation_for_order("O1")
    store.test_clock.now += timedelta(seconds=61)           # O1's hold expires; O3 is committed
    assert set(store.reservations_for_orders(["O1", "O3"])) == {"O3"}
    assert store.reservations_for_orders([]) == {}


def test_reservations_for_orders_of_many_orders(store):
    """More orders than one look-up round trip takes (redis_hold_reads.LOOKUP_CHUNK)."""
    ids = [f"M{k}" for k in range(2500)]
    held = ids[::500]
    store.reserve_many([(order_id, [Allocation("A", "X", 1)]) for order_id in held])
    found = store.reservations_for_orders(ids)
    assert sorted(found) == sorted(held)
    assert all(found[o].reservation_id == f"res-{o}" for o in held)
