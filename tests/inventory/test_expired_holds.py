"""take_expired: the holds a store gave back on expiry, reported once each with every unit they
held, on MemoryStore, standalone Redis and a Redis Cluster (the same contract as
test_redis_contract.py, whose store factory this reuses). The decision log turns them into
"expired" events (tests/service/test_expired_events.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dom_engine.inventory.base import Allocation
from dom_engine.inventory.redis_store import RedisStore
from tests.inventory import test_redis_contract as contract
from tests.inventory.test_redis_contract import Clock, atp

make_store = contract.make_store    # the contract's store factory (fixture) on every backend


def _units(reservation) -> set[tuple[str, str, int]]:
    return {(a.node_id, a.sku, a.quantity) for a in reservation.allocations}


def test_each_expired_hold_is_taken_once_with_all_its_units(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    # X and Z live in different shards: the hold spans two Redis slots, swept separately
    store.reserve("O1", [Allocation("B", "X", 3), Allocation("A", "Z", 1)])
    committed = store.reserve("O2", [Allocation("A", "X", 1)])
    store.commit(committed.reservation_id)
    released = store.reserve("O3", [Allocation("C", "Y", 1)])
    store.release(released.reservation_id)
    store.reserve("O4", [Allocation("C", "W", 1)], ttl_s=100)
    assert store.take_expired() == []
    clock.now += timedelta(seconds=11)
    assert store.take_expired() == []     # nothing swept yet: expiry is lazy
    store.sweep()
    if isinstance(store, RedisStore):     # a list nobody takes goes away by itself
        assert 0 < store.client.ttl(store.keys.expired(store.keys.shard_of("X"))) <= 86_400
    taken = store.take_expired()
    assert [(r.reservation_id, r.order_id) for r in taken] == [("res-O1", "O1")]
    assert _units(taken[0]) == {("B", "X", 3), ("A", "Z", 1)}
    assert taken[0].expires_at == Clock().now + timedelta(seconds=10) and not taken[0].committed
    store.sweep()
    assert store.take_expired() == []     # once only
    assert atp(store, "X") == [7, 4, 0]   # O1's units are back, O2's stay committed


def test_a_hold_swept_by_another_reservation_is_reported_too(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    store.reserve("O1", [Allocation("B", "X", 4)])
    clock.now += timedelta(seconds=11)
    # no sweep(): the reservation touching X's shard gives O1's units back on its way
    store.reserve("O2", [Allocation("B", "X", 4)])
    assert [(r.order_id, _units(r)) for r in store.take_expired()] == [("O1", {("B", "X", 4)})]


def test_an_order_reserved_again_after_expiry_is_reported_again(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    for _ in range(2):
        store.reserve("O1", [Allocation("A", "X", 1)])
        clock.now += timedelta(seconds=11)
        store.sweep()
        assert [r.order_id for r in store.take_expired()] == ["O1"]


def test_a_hold_emptied_at_one_node_by_a_reject_reports_what_it_still_held(make_store):
    clock = Clock()
    store = make_store(clock, ttl=10)
    res = store.reserve("O1", [Allocation("B", "X", 3), Allocation("A", "Z", 1)])
    store.reject(res.reservation_id, "B")       # X's record keeps no units
    clock.now += timedelta(seconds=11)
    store.sweep()
    taken = store.take_expired()
    assert [_units(r) for r in taken] == [{("A", "Z", 1)}]


def test_processes_sharing_redis_report_each_expiry_once(make_store):
    """Two stores on one namespace (two server processes): a hold whose shards are swept at
    different times, and taken by different processes in between, is reported by one of them."""
    clock = Clock()
    first = make_store(clock, ttl=10)
    if not isinstance(first, RedisStore):
        pytest.skip("a MemoryStore is never shared")
    # the same connection will do: what must hold is decided in Redis (which process claims first)
    second = RedisStore(first.network, first.client, namespace=first.keys.namespace, clock=clock,
                        hold_ttl_s=10, cache_staleness_s=0.0)
    first.reserve("O1", [Allocation("B", "X", 3), Allocation("A", "Z", 1)])
    clock.now += timedelta(seconds=11)
    second.reserve("O2", [Allocation("B", "X", 1)])     # sweeps X's shard only
    reported = [r.order_id for r in second.take_expired()]
    first.sweep()                                        # now Z's
    reported += [r.order_id for r in first.take_expired()]
    assert reported == ["O1"]
