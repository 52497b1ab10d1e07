"""RedisStore beyond the shared contract: atomic snapshot switches under concurrent reads, version
pointers and grace expiry, the read cache, layout checks, and Cluster compensation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import redis

from dom_engine.domain import ConfigError, Network
from dom_engine.inventory.base import Allocation, ReservationConflict, StockDelta, StoreUnavailable
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import numbered_skus, row_network
from tests.redis_servers import client_url, new_namespace

NET = row_network(5, first_node_capacity=5)
SKUS = numbered_skus(20)


def _rows(value_of_cell):
    node_ids = [n.node_id for n in NET.nodes for _ in SKUS]
    skus = [s for _ in NET.nodes for s in SKUS]
    return node_ids, skus, np.array([value_of_cell(i, j) for i in range(len(NET)) for j in range(len(SKUS))])


@pytest.fixture(params=["redis", "cluster"])
def target(request):
    """The standalone server or the 3-master cluster."""
    return request.getfixturevalue("redis_server" if request.param == "redis" else "redis_cluster")


@pytest.fixture
def stores(target) -> Iterator:
    """Factory for RedisStores sharing one fresh namespace (several "processes" on one Redis)."""
    namespace = new_namespace()
    made: list[RedisStore] = []

    def make(**kwargs) -> RedisStore:
        kwargs.setdefault("cache_staleness_s", 0.0)
        store = RedisStore(kwargs.pop("network", NET), client_url(target), namespace=namespace, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.client.close()


def test_readers_never_see_a_mix_of_versions(stores):
    loader, reader = stores(), stores()
    value_of: dict[int, int] = {}
    loaded = threading.Event()
    seen: list[tuple[int, set[int]]] = []
    errors: list[BaseException] = []

    reading = threading.Event()

    def load() -> None:
        try:
            reading.wait(10)   # start loading once the reader is reading, however busy the machine
            for k in range(12):
                version = loader.load_snapshot(*_rows(lambda i, j, k=k: 1000 + k))
                value_of[version] = 1000 + k
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            loaded.set()

    def read() -> None:
        # Until the loads are done, and at least 11 reads in all (reads after the last load still
        # check that the version read matches its values).
        while not loaded.is_set() or len(seen) <= 10:
            view = reader.read(SKUS)
            seen.append((view.version, set(np.unique(view.atp).tolist())))
            reading.set()

    threads = [threading.Thread(target=load), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(seen) > 10
    for version, values in seen:
        if version == 0:  # before the first load finished: nothing stocked
            assert values == {0}
        else:
            assert values == {value_of[version]}, f"version {version} read a mix: {values}"


def test_old_version_expires_after_the_grace_period_and_readers_follow_the_pointer(stores):
    a, b = stores(snapshot_grace_s=30), stores()
    v1 = a.load_snapshot(*_rows(lambda i, j: 5))
    assert a.read(["SKU-001"]).version == v1
    v2 = b.load_snapshot(*_rows(lambda i, j: 7))
    view = a.read(["SKU-001"])  # `a` last saw v1: the pointer moved, so it reads again at v2
    assert view.version == v2 and view.atp[:, 0].tolist() == [7] * 5
    shard = a.keys.shard_of("SKU-001")
    old_ttl = a.client.pttl(a.keys.stock(shard, v1, "SKU-001"))
    assert 0 < old_ttl <= 60_000
    assert a.client.pttl(a.keys.stock(shard, v2, "SKU-001")) == -1
    assert a.known_skus() == frozenset(SKUS)


def test_cache_serves_hot_skus_for_the_staleness_bound(stores):
    now = [100.0]
    cached = stores(cache_staleness_s=1.0, monotonic=lambda: now[0])
    writer = stores()
    writer.load_snapshot(*_rows(lambda i, j: 9))
    assert cached.read(["SKU-002"]).staleness_s == 0.0
    writer.apply_deltas([StockDelta("d1", "N1", "SKU-002", on_hand=1)])
    now[0] += 0.5
    view = cached.read(["SKU-002"])
    assert view.atp[1, 0] == 9 and view.staleness_s == pytest.approx(0.5)
    now[0] += 0.6
    view = cached.read(["SKU-002"])
    assert view.atp[1, 0] == 1 and view.staleness_s == 0.0
    cached.reserve("O1", [Allocation("N1", "SKU-002", 1)])  # own writes drop the cached columns
    assert cached.read(["SKU-002"]).atp[1, 0] == 0


def test_layout_and_network_must_match(stores):
    stores().load_snapshot(*_rows(lambda i, j: 1))
    with pytest.raises(ConfigError, match="layout"):
        stores(shards=8).read(["SKU-001"])
    with pytest.raises(ConfigError, match="layout"):
        stores(network=Network(NET.nodes[:3])).read(["SKU-001"])


def _reserved(store: RedisStore, sku: str) -> list[int]:
    raw = store.client.hget(store.keys.reserved(store.keys.shard_of(sku)), sku)
    return [0] * len(NET) if raw is None else np.frombuffer(raw, dtype="<i8").tolist()


def _two_shard_skus(store: RedisStore) -> tuple[str, str]:
    """Two SKUs whose shards come in this order (the cluster path holds shards in ascending order)."""
    by_shard = sorted(SKUS, key=store.keys.shard_of)
    first = by_shard[0]
    second = next(s for s in by_shard if store.keys.shard_of(s) != store.keys.shard_of(first))
    return first, second


def test_cluster_compensates_when_a_later_shard_is_short(stores):
    store = stores()
    store.load_snapshot(*_rows(lambda i, j: 3))
    first, second = _two_shard_skus(store)
    with pytest.raises(ReservationConflict, match=second):
        store.reserve("O1", [Allocation("N1", first, 2), Allocation("N1", second, 4)])
    assert _reserved(store, first) == [0] * 5 and _reserved(store, second) == [0] * 5
    assert store._ops.records("res-O1") == {}
    # capacity (its own slot, after the stock shards) failing also undoes the stock holds
    for k in range(5):
        store.reserve(f"C{k}", [Allocation("N0", second, 1)] if k < 3 else [Allocation("N0", first, 1)])
    with pytest.raises(ReservationConflict, match="capacity"):
        store.reserve("O2", [Allocation("N0", first, 1), Allocation("N2", second, 1)])
    assert _reserved(store, first)[0] == 2 and _reserved(store, second) == [3, 0, 0, 0, 0]
    assert store._ops.records("res-O2") == {}


def test_a_reservation_cut_short_is_redone_by_a_retry_once_abandoned(stores, monkeypatch):
    """A process dies holding the first shard of two. A retry within twice the attempt lease may
    be racing that attempt alive: it waits, then says retry (StoreUnavailable), never releasing its
    shards; after that the records are abandoned: the retry releases them and reserves afresh."""
    store = stores()
    if not store.cluster:
        pytest.skip("standalone Redis holds a whole order in one script call")
    store.load_snapshot(*_rows(lambda i, j: 3))
    first, second = _two_shard_skus(store)
    real_run = store._ops.run
    calls = {"n": 0}

    def crash_after_first_shard(name, keys, args, client=None):
        if name in ("RESERVE", "RELEASE"):
            calls["n"] += 1
            if calls["n"] > 1:  # the process "dies" after holding the first shard
                raise redis.exceptions.ConnectionError("connection lost")
        return real_run(name, keys, args, client)

    monkeypatch.setattr(store._ops, "run", crash_after_first_shard)
    allocations = [Allocation("N1", first, 2), Allocation("N1", second, 1)]
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.reserve("O1", allocations)
    monkeypatch.setattr(store._ops, "run", real_run)
    assert _reserved(store, first)[1] == 2 and _reserved(store, second)[1] == 0  # half held
    with pytest.raises(StoreUnavailable, match="being made by another request"):
        store.reserve("O1", allocations)
    assert _reserved(store, first)[1] == 2 and _reserved(store, second)[1] == 0
    later = datetime.now(UTC) + timedelta(seconds=2 * store._ops.attempt_lease_s + 1)
    store._clock = lambda: later
    res = store.reserve("O1", allocations)
    assert res.allocations == tuple(allocations)
    assert _reserved(store, first)[1] == 2 and _reserved(store, second)[1] == 1
    store.release(res.reservation_id)
    assert _reserved(store, first) == [0] * 5 and _reserved(store, second) == [0] * 5


def test_reserve_many_is_per_order_all_or_nothing_and_idempotent(stores):
    store = stores()
    store.load_snapshot(*_rows(lambda i, j: 3))
    first, second = _two_shard_skus(store)
    out = store.reserve_many([
        ("O1", [Allocation("N1", first, 2), Allocation("N1", second, 1)]),
        ("O2", [Allocation("N1", first, 2)]),                      # short after O1
        ("O3", [Allocation("N2", "NOPE", 1)]),                    # unknown SKU
        ("O4", [Allocation("N2", first, 0)]),                     # invalid quantity
        ("O1", [Allocation("N1", first, 3)]),                     # O1 again: the same hold
    ])
    assert out[0].allocations == (Allocation("N1", first, 2), Allocation("N1", second, 1))
    assert isinstance(out[1], ReservationConflict)
    assert type(out[2]).__name__ == "NotFoundError" and type(out[3]).__name__ == "ValidationError"
    assert out[4].allocations == out[0].allocations
    assert _reserved(store, first)[1] == 2 and _reserved(store, second)[1] == 1


def test_extend_undoes_its_shards_when_a_later_one_fails(stores, monkeypatch):
    store = stores()
    store.load_snapshot(*_rows(lambda i, j: 3))
    first, second = _two_shard_skus(store)
    res = store.reserve("O1", [Allocation("N1", first, 1)])
    with pytest.raises(ReservationConflict, match=second):  # the live shard is extended, then undone
        store.extend(res.reservation_id, [Allocation("N1", first, 1), Allocation("N1", second, 4)])
    assert _reserved(store, first)[1] == 1 and _reserved(store, second) == [0] * 5
    assert set(store._ops.records("res-O1")) == {store.keys.shard_of(first)}
    if not store.cluster:
        return  # standalone Redis extends in one atomic script call
    real_run = store._ops.run

    def lose_the_second_shard(name, keys, args, client=None):
        if name == "EXTEND" and store.keys.tag(store.keys.shard_of(second)) in keys[0]:
            raise redis.exceptions.ConnectionError("connection lost")
        return real_run(name, keys, args, client)

    monkeypatch.setattr(store._ops, "run", lose_the_second_shard)
    with pytest.raises(StoreUnavailable):
        store.extend(res.reservation_id, [Allocation("N1", first, 1), Allocation("N1", second, 1)])
    monkeypatch.setattr(store._ops, "run", real_run)
    assert _reserved(store, first)[1] == 1 and _reserved(store, second) == [0] * 5
    assert store.reservation(res.reservation_id).allocations == (Allocation("N1", first, 1),)


def test_extend_and_reject_scripts_are_idempotent(stores, monkeypatch):
    """redis-py may send a script again after a lost reply: it must not apply twice."""
    store = stores()
    store.load_snapshot(*_rows(lambda i, j: 3))
    first, second = _two_shard_skus(store)
    real_run = store._ops.run

    def twice(name, keys, args, client=None):
        real_run(name, keys, args, client)
        return real_run(name, keys, args, client)

    res = store.reserve("O1", [Allocation("N1", first, 1), Allocation("N0", first, 1)])
    monkeypatch.setattr(store._ops, "run", twice)
    more = store.extend(res.reservation_id, [Allocation("N1", first, 1), Allocation("N2", second, 1),
                                             Allocation("N0", second, 1)])
    assert more.allocations == (Allocation("N1", first, 2), Allocation("N0", first, 1),
                                Allocation("N2", second, 1), Allocation("N0", second, 1))
    assert _reserved(store, first) == [1, 2, 0, 0, 0] and _reserved(store, second) == [1, 0, 1, 0, 0]
    assert store.capacity_left()[0] == 4  # N0 (cap 5) counts one shipment, not two or three
    left = store.reject(res.reservation_id, "N1")
    assert left.rejected_nodes == ("N1",)
    assert _reserved(store, first) == [1, 0, 0, 0, 0]
    left = store.reject(res.reservation_id, "N0")
    assert left.rejected_nodes == ("N1", "N0") and left.allocations == (Allocation("N2", second, 1),)
    assert store.capacity_left()[0] == 5
