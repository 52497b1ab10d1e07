"""Redis Cluster edge cases of extend / commit / release, on the real 3-master cluster: a process
that dies in the middle of an extend, capacity calls whose reply (or request) is lost, and a commit
racing an extend onto a new shard. Crashes and lost replies are simulated by wrapping Ops.run (the
script call still runs against the cluster, or does not, exactly where a real failure would cut)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dom_engine.inventory.base import Allocation, StoreUnavailable
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import numbered_skus, row_network
from tests.redis_faults import wrap_ops_run
from tests.redis_servers import client_url, new_namespace

NET = row_network(5, first_node_capacity=5)
SKUS = numbered_skus(20)


class Clock:
    """A settable UTC clock (noon, so moving it a few minutes stays on the same capacity day)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def stores(request) -> Iterator:
    """Factory for RedisStores ("processes") sharing one fresh namespace and one clock on the
    session cluster (or, where parametrized with `target`, the standalone server), loaded with 3
    units of every SKU at every node."""
    target = request.getfixturevalue(getattr(request, "param", "redis_cluster"))
    namespace, clock = new_namespace(), Clock()
    made: list[RedisStore] = []

    def make() -> RedisStore:
        store = RedisStore(NET, client_url(target), namespace=namespace, cache_staleness_s=0.0,
                           hold_ttl_s=60.0, clock=clock)
        if not made:
            node_ids = [n.node_id for n in NET.nodes for _ in SKUS]
            store.load_snapshot(node_ids, SKUS * len(NET), np.full(len(node_ids), 3))
        made.append(store)
        return store

    make.clock = clock
    yield make
    for store in made:
        store.client.close()


def _reserved(store: RedisStore, sku: str) -> list[int]:
    raw = store.client.hget(store.keys.reserved(store.keys.shard_of(sku)), sku)
    return [0] * len(NET) if raw is None else np.frombuffer(raw, dtype="<i8").tolist()


def _two_shard_skus(store: RedisStore) -> tuple[str, str]:
    """Two SKUs in different shards, the first in the lower one (a Cluster calls shards in order)."""
    by_shard = sorted(SKUS, key=store.keys.shard_of)
    first = by_shard[0]
    return first, next(s for s in by_shard if store.keys.shard_of(s) != store.keys.shard_of(first))


def _on_capacity(store: RedisStore, script: str):
    return lambda name, keys: name == script and store.keys.cap_used in keys


# ----------------------------------------------------------------- (a) an extend cut short by a crash
def test_an_extend_cut_short_by_a_crash_is_finished_by_its_retry_with_the_same_token(stores, monkeypatch):
    store = stores()
    first, second = _two_shard_skus(store)
    res = store.reserve("O1", [Allocation("N1", first, 1)])
    more = [Allocation("N1", first, 1), Allocation("N0", second, 1)]  # a live shard, a new one, capacity
    second_tag = store.keys.tag(store.keys.shard_of(second))
    # the process dies after extending the live shard: the new shard fails and nothing compensates
    wrap_ops_run(monkeypatch, store, lambda name, keys: (name == "EXTEND" and second_tag in keys[0])
          or name.startswith("UNEXTEND"), before=True)
    with pytest.raises(StoreUnavailable):
        store.extend(res.reservation_id, more, token="reject-N3")
    monkeypatch.undo()
    assert _reserved(store, first)[1] == 2 and _reserved(store, second) == [0] * 5  # half done
    assert store.capacity_left()[0] == 5

    done = store.extend(res.reservation_id, more, token="reject-N3")  # the retry finishes it
    assert set(done.allocations) == {Allocation("N1", first, 2), Allocation("N0", second, 1)}
    assert _reserved(store, first)[1] == 2 and _reserved(store, second)[0] == 1
    assert store.capacity_left()[0] == 4
    again = store.extend(res.reservation_id, more, token="reject-N3")  # and a repeat adds nothing
    assert set(again.allocations) == set(done.allocations) and store.capacity_left()[0] == 4
    assert _reserved(store, first)[1] == 2 and _reserved(store, second)[0] == 1
    # the token is bound to its allocations: other units under it are another extension
    store.extend(res.reservation_id, [Allocation("N2", second, 1)], token="reject-N3")
    assert _reserved(store, second)[:3] == [1, 0, 1]


# ----------------------------------------------------------------- (b) lost capacity replies
def test_an_extend_whose_capacity_reply_is_lost_gives_the_shipment_back(stores, monkeypatch):
    store = stores()
    first, second = _two_shard_skus(store)
    res = store.reserve("O1", [Allocation("N1", first, 1)])
    hits = wrap_ops_run(monkeypatch, store, _on_capacity(store, "EXTEND"))
    with pytest.raises(StoreUnavailable):
        store.extend(res.reservation_id, [Allocation("N0", second, 1)])
    monkeypatch.undo()
    assert hits["n"] == 1
    assert store.capacity_left()[0] == 5 and _reserved(store, second) == [0] * 5
    assert store.reservation(res.reservation_id).allocations == (Allocation("N1", first, 1),)
    store.release(res.reservation_id)
    assert store.capacity_left()[0] == 5


def test_a_reserve_whose_capacity_reply_is_lost_gives_the_shipment_back(stores, monkeypatch):
    store = stores()
    first, second = _two_shard_skus(store)
    wrap_ops_run(monkeypatch, store, _on_capacity(store, "RESERVE"))
    with pytest.raises(StoreUnavailable):
        store.reserve("O1", [Allocation("N0", first, 1), Allocation("N1", second, 1)])
    monkeypatch.undo()
    assert store.capacity_left()[0] == 5
    assert _reserved(store, first) == [0] * 5 and _reserved(store, second) == [0] * 5
    assert store.reservation_for_order("O1") is None


def test_a_release_whose_capacity_reply_is_lost_is_finished_by_its_retry(stores, monkeypatch):
    store = stores()
    first, second = _two_shard_skus(store)
    res = store.reserve("O1", [Allocation("N0", first, 1), Allocation("N1", second, 1)])
    assert store.capacity_left()[0] == 4
    wrap_ops_run(monkeypatch, store, _on_capacity(store, "RELEASE"))
    with pytest.raises(StoreUnavailable):
        store.release(res.reservation_id)
    monkeypatch.undo()
    assert store.release(res.reservation_id) is None  # found again: not NotFound
    assert store.capacity_left()[0] == 5
    assert _reserved(store, first) == [0] * 5 and _reserved(store, second) == [0] * 5


def test_a_commit_whose_capacity_call_fails_keeps_the_shipment_counted(stores, monkeypatch):
    store = stores()
    first, second = _two_shard_skus(store)
    res = store.reserve("O1", [Allocation("N0", first, 1), Allocation("N1", second, 1)])
    wrap_ops_run(monkeypatch, store, _on_capacity(store, "COMMIT"), before=True)
    with pytest.raises(StoreUnavailable):
        store.commit(res.reservation_id)
    monkeypatch.undo()
    assert store.commit(res.reservation_id).committed
    stores.clock.now += timedelta(minutes=5)  # past the hold's expiry: a capacity hold left behind
    store.sweep()                             # would give the shipment back now
    assert store.capacity_left()[0] == 4      # shipped today: it stays counted


# ----------------------------------------------------------------- (c) commit racing extend
@pytest.mark.parametrize("stores", ["redis_server", "redis_cluster"], indirect=True)
def test_a_commit_commits_a_shard_an_extend_added_after_it_read_the_records(stores, monkeypatch):
    committer, extender = stores(), stores()
    first, second = _two_shard_skus(committer)
    res = committer.reserve("O1", [Allocation("N1", first, 1)])
    fired = []

    def extend_now() -> None:
        if not fired:
            fired.append(extender.extend(res.reservation_id, [Allocation("N2", second, 2)]))

    wrap_ops_run(monkeypatch, committer, lambda name, keys: name == "COMMIT", action=extend_now)
    done = committer.commit(res.reservation_id)
    assert fired and done.committed
    assert set(done.allocations) == {Allocation("N1", first, 1), Allocation("N2", second, 2)}
    assert _reserved(committer, first) == [0] * 5 and _reserved(committer, second) == [0] * 5
    atp = committer.read([first, second]).atp
    assert atp[1, 0] == 2 and atp[2, 1] == 1  # the units left on-hand stock


def test_an_extend_onto_a_new_shard_racing_a_commit_is_committed_too(stores, monkeypatch):
    committer, extender = stores(), stores()
    first, second = _two_shard_skus(committer)
    res = committer.reserve("O1", [Allocation("N1", first, 1)])
    second_tag = committer.keys.tag(committer.keys.shard_of(second))
    commits = []

    def commit_now() -> None:
        if not commits:
            commits.append(committer.commit(res.reservation_id))

    # the extend has checked the hold is live; the commit lands before it writes the new shard
    wrap_ops_run(monkeypatch, extender, lambda name, keys: name == "EXTEND" and second_tag in keys[0],
          action=commit_now)
    done = extender.extend(res.reservation_id, [Allocation("N0", second, 2)])
    assert commits and commits[0].allocations == (Allocation("N1", first, 1),)
    assert done.committed
    assert set(done.allocations) == {Allocation("N1", first, 1), Allocation("N0", second, 2)}
    assert _reserved(committer, first) == [0] * 5 and _reserved(committer, second) == [0] * 5
    assert committer.read([second]).atp[0, 0] == 1
    stores.clock.now += timedelta(minutes=5)   # the extend's capacity hold did not outlive the commit:
    committer.sweep()                          # the shipment from N0 stays counted today
    assert committer.capacity_left()[0] == 4
