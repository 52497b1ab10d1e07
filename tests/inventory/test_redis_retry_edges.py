"""Retries of reserve and RejectShipment on real Redis (the session cluster and standalone server):
a reserve retry that finds the order held makes sure its capacity is counted (once), a reserve retry
that ends in a conflict leaves nothing of a cut-short earlier attempt held (but never releases a
complete reservation), and a retried reject returns the current plan instead of NOT_FOUND. Lost
replies and crashes are simulated by wrapping Ops.run, as in test_redis_cluster_edges.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dom_engine.app.engine import Engine
from dom_engine.domain import (
    Destination,
    Limits,
    Line,
    Order,
    PolicyProfile,
    PreconditionError,
    us_network_rate_card,
)
from dom_engine.inventory.base import Allocation, ReservationConflict, StoreUnavailable
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import numbered_skus, row_network
from tests.redis_faults import wrap_ops_run
from tests.redis_servers import client_url, new_namespace

NET = row_network(5, first_node_capacity=5)
SKUS = numbered_skus(20)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def stores(request) -> Iterator:
    """Factory for RedisStores sharing one fresh namespace on the session cluster (or, where
    parametrized, the standalone server, or "memory": MemoryStores), loaded with 3 units of every
    SKU at every node."""
    if getattr(request, "param", None) == "memory":
        yield _memory_store
        return
    target = request.getfixturevalue(getattr(request, "param", "redis_cluster"))
    namespace = new_namespace()
    made: list[RedisStore] = []

    def make() -> RedisStore:
        store = RedisStore(NET, client_url(target), namespace=namespace, cache_staleness_s=0.0,
                           hold_ttl_s=60.0, clock=lambda: NOW)
        if not made:
            node_ids = [n.node_id for n in NET.nodes for _ in SKUS]
            store.load_snapshot(node_ids, SKUS * len(NET), np.full(len(node_ids), 3))
        made.append(store)
        return store

    yield make
    for store in made:
        store.client.close()


def _reserved(store: RedisStore, sku: str) -> list[int]:
    raw = store.client.hget(store.keys.reserved(store.keys.shard_of(sku)), sku)
    return [0] * len(NET) if raw is None else np.frombuffer(raw, dtype="<i8").tolist()


def _by_shard(store: RedisStore) -> list[str]:
    """One SKU per shard, in shard order (a Cluster reserves shard by shard in that order)."""
    firsts: dict[int, str] = {}
    for sku in SKUS:
        firsts.setdefault(store.keys.shard_of(sku), sku)
    return [firsts[s] for s in sorted(firsts)]


# ----------------------------------------------------------------- 1. retry finds every shard held
def test_a_reserve_retry_that_finds_the_order_held_counts_its_capacity_once(stores, monkeypatch):
    store = stores()
    sku = SKUS[0]
    tag = store.keys.tag(store.keys.shard_of(sku))
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "RESERVE" and tag in keys[0])  # reply lost
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "RELEASE", before=True)  # and the undo
    with pytest.raises(StoreUnavailable):
        store.reserve("O1", [Allocation("N0", sku, 1)])
    monkeypatch.undo()
    assert _reserved(store, sku)[0] == 1 and store.capacity_left()[0] == 5  # held, uncounted

    res = store.reserve("O1", [Allocation("N0", sku, 1)])   # the retry finds it held
    assert res.allocations == (Allocation("N0", sku, 1),)
    assert store.capacity_left()[0] == 4
    store.reserve("O1", [Allocation("N0", sku, 1)])         # and never counts it twice
    assert store.capacity_left()[0] == 4 and _reserved(store, sku)[0] == 1
    store.release(res.reservation_id)
    assert store.capacity_left()[0] == 5 and _reserved(store, sku) == [0] * 5


def test_a_reserve_retry_of_a_complete_or_committed_reservation_counts_nothing_again(stores):
    store = stores()
    first, second = _by_shard(store)[:2]
    res = store.reserve("O1", [Allocation("N0", first, 1), Allocation("N0", second, 1)])
    assert store.capacity_left()[0] == 4
    store.reserve("O1", [Allocation("N0", first, 1), Allocation("N0", second, 1)])
    assert store.capacity_left()[0] == 4
    store.commit(res.reservation_id)
    assert store.reserve("O1", [Allocation("N0", first, 1)]).committed
    assert store.capacity_left()[0] == 4


def test_a_reserve_retry_that_finds_the_day_full_gives_the_held_units_back(stores, monkeypatch):
    store = stores()
    skus = _by_shard(store)
    sku = skus[0]
    tag = store.keys.tag(store.keys.shard_of(sku))
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "RESERVE" and tag in keys[0])
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "RELEASE", before=True)  # and the undo
    with pytest.raises(StoreUnavailable):
        store.reserve("O1", [Allocation("N0", sku, 1)])
    monkeypatch.undo()
    for k in range(5):  # the day fills up meanwhile
        store.reserve(f"F{k}", [Allocation("N0", skus[1 + k % 3], 1)])
    assert store.capacity_left()[0] == 0
    with pytest.raises(ReservationConflict, match="capacity"):  # the attempt may still be running:
        store.reserve("O1", [Allocation("N0", sku, 1)])        # its units stay (it undoes itself)
    assert _reserved(store, sku)[0] == 1
    store._clock = lambda: NOW + timedelta(seconds=2 * store._ops.attempt_lease_s + 1)
    with pytest.raises(ReservationConflict, match="capacity"):  # abandoned: given back
        store.reserve("O1", [Allocation("N0", sku, 1)])
    assert store.reservation_for_order("O1") is None and _reserved(store, sku)[0] == 0
    assert store.capacity_left()[0] == 0


# ----------------------------------------------------------------- 2. retry ends in a conflict
def _cut_short(store: RedisStore, monkeypatch, order_id: str, allocations, dead_tag: str) -> None:
    """An attempt that holds the shards before `dead_tag`, then dies (that call and every
    compensation fail), leaving them held."""
    wrap_ops_run(monkeypatch, store, lambda name, keys: (name == "RESERVE" and dead_tag in keys[0])
          or name == "RELEASE", before=True)
    with pytest.raises(StoreUnavailable):
        store.reserve(order_id, allocations)
    monkeypatch.undo()


def test_a_reserve_retry_that_ends_in_a_conflict_releases_the_earlier_attempts_shards(stores, monkeypatch):
    store = stores()
    first, second = _by_shard(store)[:2]
    order = [Allocation("N1", first, 2), Allocation("N1", second, 2)]
    _cut_short(store, monkeypatch, "O1", order, store.keys.tag(store.keys.shard_of(second)))
    assert _reserved(store, first)[1] == 2 and _reserved(store, second) == [0] * 5
    store.reserve("O2", [Allocation("N1", second, 2)])  # the second shard's stock goes meanwhile

    # within twice the attempt lease the earlier attempt may still be running: it is waited for,
    # never released (StoreUnavailable: retry later)
    with pytest.raises(StoreUnavailable, match="being made by another request"):
        store.reserve("O1", order)
    assert _reserved(store, first)[1] == 2
    store._clock = lambda: NOW + timedelta(seconds=2 * store._ops.attempt_lease_s + 1)
    with pytest.raises(ReservationConflict):  # abandoned: released, and the retry does not fit
        store.reserve("O1", order)
    assert store.reservation_for_order("O1") is None
    assert _reserved(store, first) == [0] * 5 and _reserved(store, second)[1] == 2  # only O2's


def test_a_reserve_retry_with_other_units_returns_the_complete_reservation(stores):
    store = stores()
    first, second, third = _by_shard(store)[:3]
    res = store.reserve("O1", [Allocation("N0", first, 1), Allocation("N1", second, 1)])
    store.reserve("O2", [Allocation("N1", third, 3)])
    # other units under the same order (that would not fit): the order's reservation comes back
    again = store.reserve("O1", [Allocation("N0", first, 1), Allocation("N1", third, 1)])
    assert again.allocations == res.allocations
    assert store.reservation(res.reservation_id).allocations == res.allocations
    assert _reserved(store, first)[0] == 1 and _reserved(store, second)[1] == 1
    assert store.capacity_left()[0] == 4


def test_a_retried_route_order_counts_the_capacity_a_lost_reply_left_uncounted(stores, monkeypatch):
    """RouteOrder(reserve) whose reply was lost holds the units without counting the shipment; the
    retried request finds the hold and makes the store count it (once)."""
    store = stores()
    engine = _engine(store)
    order = Order("O-9", (Line("L1", SKUS[0], 1),), Destination(40.0, -75.0), created_at=NOW)
    tag = store.keys.tag(store.keys.shard_of(SKUS[0]))
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "RESERVE" and tag in keys[0])  # reply lost
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "RELEASE", before=True)  # and the undo
    with pytest.raises(StoreUnavailable):
        engine.route(order, reserve=True)
    monkeypatch.undo()
    assert _reserved(store, SKUS[0])[0] == 1 and store.capacity_left()[0] == 5   # held, uncounted
    plan = engine.route(order, reserve=True)
    assert plan.shipments[0].node_id == "N0" and plan.reservation_id == "res-O-9"
    assert store.capacity_left()[0] == 4 and _reserved(store, SKUS[0])[0] == 1
    engine.route(order, reserve=True)                                            # never twice
    assert store.capacity_left()[0] == 4 and _reserved(store, SKUS[0])[0] == 1


def test_a_retried_route_batch_counts_the_capacity_a_lost_reply_left_uncounted(stores, monkeypatch):
    """The same through RouteBatch: a retried batch re-reserves the units its orders hold."""
    store = stores()
    engine = _engine(store)
    order = Order("O-8", (Line("L1", SKUS[0], 1),), Destination(40.0, -75.0), created_at=NOW)
    tag = store.keys.tag(store.keys.shard_of(SKUS[0]))
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "RESERVE" and tag in keys[0])  # reply lost
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "RELEASE", before=True)  # and the undo
    with pytest.raises(StoreUnavailable):
        engine.route_batch([order], reserve=True)
    monkeypatch.undo()
    assert _reserved(store, SKUS[0])[0] == 1 and store.capacity_left()[0] == 5   # held, uncounted
    result = engine.route_batch([order], reserve=True)
    assert result.plans[0].reservation_id == "res-O-8" and result.plans[0].shipments[0].node_id == "N0"
    assert store.capacity_left()[0] == 4 and _reserved(store, SKUS[0])[0] == 1
    engine.route_batch([order], reserve=True)                                    # never twice
    assert store.capacity_left()[0] == 4 and _reserved(store, SKUS[0])[0] == 1


# ----------------------------------------------------------------- 3. retried RejectShipment
def _engine(store, max_rejects: int = 3) -> Engine:
    return Engine(NET, us_network_rate_card(), store, {"default": PolicyProfile()},
                  limits=Limits(max_rejects=max_rejects), clock=lambda: NOW)


def _order() -> Order:
    return Order("O-1", (Line("L1", SKUS[0], 2), Line("L2", SKUS[1], 1)), Destination(40.0, -75.0),
                 created_at=NOW)


def _memory_store() -> MemoryStore:
    return MemoryStore.from_arrays(NET, tuple(SKUS), np.full((len(NET), len(SKUS)), 3), clock=lambda: NOW)


def _held(store) -> dict[tuple[str, str], int]:
    return {(a.node_id, a.sku): a.quantity for a in store.reservation_for_order("O-1").allocations}


@pytest.mark.parametrize("stores", ["redis_server", "redis_cluster", "memory"], indirect=True)
def test_a_retried_reject_returns_the_rerouted_plan(stores):
    store = stores()
    engine = _engine(store, max_rejects=1)
    first = engine.route(_order(), reserve=True)
    node = first.shipments[0].node_id
    plan = engine.reject(_order(), node)
    held = _held(store)
    assert node not in {n for n, _ in held}

    again = engine.reject(_order(), node)  # the same call again: no NOT_FOUND, no precondition
    assert again.reservation_id == plan.reservation_id
    assert _held(store) == held                            # nothing held twice
    assert {(s.node_id, ln.sku) for s in again.shipments for ln in s.lines} == set(held)
    assert {s.node_id for s in plan.shipments} <= {s.node_id for s in again.shipments}
    other = next(n for n, _ in held)
    with pytest.raises(PreconditionError):                 # a new reject still counts
        engine.reject(_order(), other)


@pytest.mark.parametrize("stores", ["redis_server", "redis_cluster"], indirect=True)
def test_a_reject_whose_reply_was_lost_is_finished_by_its_retry(stores, monkeypatch):
    store = stores()
    engine = _engine(store)
    node = engine.route(_order(), reserve=True).shipments[0].node_id
    wrap_ops_run(monkeypatch, store, lambda name, keys: name == "EXTEND")  # the re-route's reply is lost
    with pytest.raises(StoreUnavailable):
        engine.reject(_order(), node)
    monkeypatch.undo()
    plan = engine.reject(_order(), node)
    held = _held(store)
    assert node not in {n for n, _ in held}
    assert sum(held.values()) == 3 and plan.shipments
    assert sum(sum(_reserved(store, sku)) for sku in SKUS[:2]) == 3


@pytest.mark.parametrize("stores", ["redis_server", "redis_cluster"], indirect=True)
def test_duplicate_rejects_racing_each_other_hold_the_rerouted_units_once(stores, monkeypatch):
    one, two = stores(), stores()
    first_engine, second_engine = _engine(one), _engine(two)
    node = first_engine.route(_order(), reserve=True).shipments[0].node_id
    fired: list = []

    def duplicate() -> None:  # the duplicate call runs while the first one's re-route is in flight
        if not fired:
            fired.append(second_engine.reject(_order(), node))

    wrap_ops_run(monkeypatch, one, lambda name, keys: name == "EXTEND", action=duplicate)
    plan = first_engine.reject(_order(), node)
    monkeypatch.undo()
    assert fired and fired[0].shipments == plan.shipments
    held = _held(one)
    assert sum(held.values()) == 3 and node not in {n for n, _ in held}
    assert sum(sum(_reserved(one, sku)) for sku in SKUS[:2]) == 3
