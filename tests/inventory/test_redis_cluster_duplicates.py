"""Concurrent duplicates of one order on a Redis Cluster (one script call per shard): whatever
the interleaving, a reservation that is answered is then found and holds what it says. Each
attempt's records carry its token; an attempt's compensation takes out only its own, and an
attempt that meets another live attempt's record waits for it instead of releasing it.

The interleavings are forced: attempt 1 runs the duplicate (attempt 2, another server's store)
just before its call on a given shard, and goes on once attempt 2 has answered or is waiting."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np

from dom_engine.inventory.base import Allocation, Reservation, ReservationConflict
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import numbered_skus, row_network
from tests.redis_faults import wrap_ops_run
from tests.redis_servers import client_url, new_namespace

NET = row_network(3, first_node_capacity=5)
SKUS = numbered_skus(20)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _stores(cluster) -> tuple[RedisStore, RedisStore]:
    """Two servers' stores on one fresh namespace, 3 units of every SKU at every node but 1 at N1."""
    namespace = new_namespace("dup")
    one, two = (RedisStore(NET, client_url(cluster), namespace=namespace, cache_staleness_s=0.0,
                           clock=lambda: NOW, attempt_lease_s=30.0) for _ in range(2))
    nodes = [n.node_id for n in NET.nodes for _ in SKUS]
    one.load_snapshot(nodes, SKUS * len(NET), np.array([1 if n == "N1" else 3 for n in nodes]))
    return one, two


def _by_shard(store: RedisStore) -> list[str]:
    """One SKU per shard, in shard order (the order a Cluster reserves in)."""
    firsts: dict[int, str] = {}
    for sku in SKUS:
        firsts.setdefault(store.keys.shard_of(sku), sku)
    return [firsts[s] for s in sorted(firsts)]


def _held(store: RedisStore) -> dict[tuple[str, str], int]:
    out = {}
    for sku in SKUS:
        raw = store.client.hget(store.keys.reserved(store.keys.shard_of(sku)), sku)
        row = np.zeros(len(NET), dtype=np.int64) if raw is None else np.frombuffer(raw, "<i8")
        for i, q in enumerate(row):
            if q:
                out[(NET.nodes[i].node_id, sku)] = int(q)
    return out


def _units(allocations) -> dict[tuple[str, str], int]:
    return {(a.node_id, a.sku): a.quantity for a in allocations}


def _race(monkeypatch, one: RedisStore, two: RedisStore, first_order, second_order, before_sku: str):
    """Attempt 1 (`one`) reserves `first_order`; just before its call on `before_sku`'s shard,
    attempt 2 (`two`) reserves `second_order` in another thread. Returns both outcomes."""
    outcomes: dict[int, object] = {}
    done = threading.Event()

    def duplicate() -> None:
        try:
            outcomes[2] = two.reserve("O1", second_order)
        except Exception as exc:  # recorded, asserted below
            outcomes[2] = exc
        done.set()

    thread = threading.Thread(target=duplicate)

    def run_the_duplicate() -> None:
        thread.start()
        done.wait(0.3)  # attempt 2 answers at once, or waits for attempt 1: then attempt 1 goes on

    tag = one.keys.tag(one.keys.shard_of(before_sku))
    hits = wrap_ops_run(monkeypatch, one, lambda name, keys: name == "RESERVE" and tag in keys[0]
                        and not thread.is_alive() and not done.is_set(), action=run_the_duplicate)
    try:
        outcomes[1] = one.reserve("O1", first_order)
    except ReservationConflict as exc:
        outcomes[1] = exc
    thread.join(30)
    assert hits["n"] == 1 and not thread.is_alive()
    return outcomes[1], outcomes[2]


def _answered_is_held(store: RedisStore, outcomes) -> list[Reservation]:
    answered = [o for o in outcomes if isinstance(o, Reservation)]
    for res in answered:
        found = store.reservation(res.reservation_id)  # NotFoundError would fail the test
        assert _units(found.allocations) == _units(res.allocations)
    return answered


def test_an_attempt_that_fails_never_releases_what_a_duplicate_answered(redis_cluster, monkeypatch):
    """Attempt 1 wants three shards, the third short; attempt 2 (two shards) runs once attempt 1
    holds the first. Before: attempt 2 took the first shard as held and answered; attempt 1's
    compensation then released both shards: GetReservation said NOT_FOUND."""
    one, two = _stores(redis_cluster)
    a, b, c = _by_shard(one)[:3]
    first = [Allocation("N0", a, 1), Allocation("N0", b, 1), Allocation("N1", c, 2)]   # N1 has 1 of c
    second = [Allocation("N0", a, 1), Allocation("N0", b, 1)]
    out1, out2 = _race(monkeypatch, one, two, first, second, before_sku=b)
    assert isinstance(out1, ReservationConflict)
    answered = _answered_is_held(one, [out1, out2])
    assert answered == [out2]
    assert _held(one) == _units(out2.allocations)
    assert one.capacity_left()[0] == 4  # one shipment from N0, counted once


def test_a_duplicate_that_meets_a_live_attempt_waits_for_it(redis_cluster, monkeypatch):
    """Attempt 2 wants the same first shard and a second one that does not fit; it runs once
    attempt 1 holds the first shard. Before: attempt 2 released that shard as "cut short" and
    attempt 1 then answered a reservation missing it."""
    one, two = _stores(redis_cluster)
    a, b = _by_shard(one)[:2]
    first = [Allocation("N0", a, 1), Allocation("N0", b, 1)]
    second = [Allocation("N0", a, 1), Allocation("N1", b, 2)]   # N1 has 1 of b
    out1, out2 = _race(monkeypatch, one, two, first, second, before_sku=b)
    answered = _answered_is_held(one, [out1, out2])
    assert out1 in answered
    assert _held(one) == _units(out1.allocations) == _units(first)
    for res in answered:
        assert _units(res.allocations) == _units(first)
