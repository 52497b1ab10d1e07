"""Group commit of RedisStore.reserve (inventory/redis_batcher.py): the Coalescer with plain Python
send functions, then threads reserving through a real redis-server. A round trip is held open with
CLIENT PAUSE WRITE (Redis itself waits), so callers pile up behind it deterministically. Every
wait has a timeout: a caller that hangs fails the test instead of stalling the run."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest
import redis

from dom_engine.app.config import load_config
from dom_engine.domain import ConfigError, NotFoundError, ValidationError
from dom_engine.inventory.base import Allocation, ReservationConflict, StoreUnavailable
from dom_engine.inventory.redis_batcher import Coalescer
from dom_engine.inventory.redis_config import RedisStoreConfig
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import row_network
from tests.redis_servers import client_url, new_namespace

TIMEOUT = 20.0
NET = row_network(4)
HOT = ["HOT-1", "HOT-2", "HOT-3"]


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


class Gate:
    """A send function whose first call blocks until `open()`, so later callers queue behind it;
    `fail` makes every call raise after waiting."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.batches: list[list] = []
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.fail = fail

    def open(self) -> None:
        self.opened.set()

    def __call__(self, requests):
        self.batches.append(list(requests))
        self.entered.set()
        assert self.opened.wait(TIMEOUT)
        if self.fail is not None:
            raise type(self.fail)(*self.fail.args)  # a new one per call, as a real send raises
        return [r * 10 for r in requests]


def _pile_up(coalescer: Coalescer, pool: ThreadPoolExecutor, first, rest) -> tuple[Future, list[Future]]:
    """Submit `first` (it leads and its round trip stays open), then `rest` behind it; returns
    when all of `rest` are queued."""
    lead = pool.submit(coalescer.submit, first)
    _wait_for(lambda: coalescer.in_flight, "the leader's round trip")
    queued = [pool.submit(coalescer.submit, r) for r in rest]
    _wait_for(lambda: coalescer.queued == len(rest), "the callers to queue")
    return lead, queued


# ----------------------------------------------------------------------------- the Coalescer alone
def test_a_lone_caller_sends_at_once_in_its_own_thread():
    calls = []
    coalescer = Coalescer(lambda rs: calls.append(threading.get_ident()) or [r + 1 for r in rs])
    assert coalescer.submit(1) == 2 and coalescer.submit(2) == 3
    assert calls == [threading.get_ident()] * 2
    stats = coalescer.stats()
    assert (stats.requests, stats.round_trips, stats.largest, stats.coalesced_round_trips) == (2, 2, 1, 0)
    assert not coalescer.in_flight


def test_callers_arriving_during_a_round_trip_share_the_next_one():
    gate = Gate()
    coalescer = Coalescer(gate)
    with ThreadPoolExecutor(9) as pool:
        lead, queued = _pile_up(coalescer, pool, 0, range(1, 9))
        gate.open()
        assert lead.result(TIMEOUT) == 0
        assert [f.result(TIMEOUT) for f in queued] == [10 * r for r in range(1, 9)]
    assert gate.batches[0] == [0] and sorted(gate.batches[1]) == list(range(1, 9))
    stats = coalescer.stats()
    assert (stats.requests, stats.round_trips, stats.largest, stats.coalesced_round_trips) == (9, 2, 8, 1)
    assert stats.per_round_trip == 4.5


def test_batches_are_capped_at_max_batch():
    gate = Gate()
    coalescer = Coalescer(gate, max_batch=3)
    with ThreadPoolExecutor(8) as pool:
        lead, queued = _pile_up(coalescer, pool, 0, range(1, 8))
        gate.open()
        assert [f.result(TIMEOUT) for f in [lead, *queued]] == [10 * r for r in range(8)]
    assert [len(b) for b in gate.batches] == [1, 3, 3, 1]
    assert sorted(r for b in gate.batches for r in b) == list(range(8))


def test_a_failed_round_trip_reaches_every_caller_and_the_next_one_works():
    gate = Gate(fail=ConnectionError("Redis went away"))
    coalescer = Coalescer(gate)
    with ThreadPoolExecutor(5) as pool:
        lead, queued = _pile_up(coalescer, pool, 0, range(1, 5))
        gate.open()
        errors = []
        for f in [lead, *queued]:
            with pytest.raises(ConnectionError, match="Redis went away") as err:
                f.result(TIMEOUT)
            errors.append(err.value)
    # one exception object per caller: raising one object in several threads mixes tracebacks
    assert len({id(e) for e in errors}) == 5
    gate.fail = None
    assert coalescer.submit(7) == 70 and not coalescer.in_flight and coalescer.queued == 0
    assert coalescer.stats().round_trips == 3


def test_a_send_that_loses_outcomes_is_an_error_for_every_caller():
    coalescer = Coalescer(lambda rs: rs[:-1])
    with pytest.raises(RuntimeError, match="0 outcomes for 1 requests"):
        coalescer.submit(1)
    assert not coalescer.in_flight


def test_many_threads_each_get_their_own_outcome():
    """16 threads x 200 requests against a send that takes a little time: no outcome is lost,
    swapped or delivered twice, and batches of more than one happen."""
    def send(requests):
        time.sleep(0.0002)
        return [("done", r) for r in requests]

    coalescer = Coalescer(send)
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(coalescer.submit, i) for i in range(3200)]
        assert [f.result(TIMEOUT) for f in futures] == [("done", i) for i in range(3200)]
    stats = coalescer.stats()
    assert stats.requests == 3200 and stats.round_trips < 3200 and stats.largest <= 128


def test_max_batch_must_be_positive():
    with pytest.raises(ValueError, match="max_batch"):
        Coalescer(lambda rs: rs, max_batch=0)


# ----------------------------------------------------------------------------- through Redis
def _store(url: str, stock: int = 20, safety: int = 0, **kw) -> RedisStore:
    store = RedisStore(NET, url, namespace=new_namespace("gc"), cache_staleness_s=0.0, **kw)
    nodes = [n.node_id for n in NET.nodes for _ in HOT]
    skus = [s for _ in NET.nodes for s in HOT]
    store.load_snapshot(nodes, skus, np.full(len(nodes), stock), np.full(len(nodes), safety))
    return store


def _held(store: RedisStore) -> np.ndarray:
    """Units Redis says are held, nodes x HOT."""
    rows = []
    for sku in HOT:
        raw = store.client.hget(store.keys.reserved(store.keys.shard_of(sku)), sku)
        rows.append(np.zeros(len(NET), dtype=np.int64) if raw is None else np.frombuffer(raw, dtype="<i8"))
    return np.stack(rows, axis=1)


class Paused:
    """CLIENT PAUSE WRITE on a server: scripts wait inside Redis until `release()`."""

    def __init__(self, url: str) -> None:
        self.admin = redis.Redis.from_url(url)

    def __enter__(self) -> Paused:
        self.admin.client_pause(int(TIMEOUT * 1000), all=False)
        return self

    def release(self) -> None:
        self.admin.client_unpause()

    def __exit__(self, *exc) -> None:
        try:
            self.release()
        except redis.exceptions.ConnectionError:
            pass  # the server was stopped on purpose
        self.admin.close()


def _reserve_behind_a_paused_leader(store, url, pool, orders, after_queued=None) -> list[Future]:
    """Reserve orders[0] (the leader, held by a paused Redis), then orders[1:] behind it; returns
    the futures once all are queued (and `after_queued` has run)."""
    batcher = store.reserve_batcher
    with Paused(url) as paused:
        futures = [pool.submit(store.reserve, *orders[0])]
        _wait_for(lambda: batcher.in_flight, "the leader's round trip")
        futures += [pool.submit(store.reserve, *o) for o in orders[1:]]
        _wait_for(lambda: batcher.queued == len(orders) - 1, "the callers to queue")
        if after_queued is not None:
            after_queued()
        else:
            paused.release()
    return futures


def test_one_pipelined_round_trip_gives_each_caller_its_own_outcome(redis_server):
    store = _store(redis_server.url, stock=4)
    store.reserve("warm-up", [Allocation("N3", "HOT-3", 1)])  # layout checked, script loaded
    before = store.reserve_batcher.stats()
    dup = ("dup", [Allocation("N2", "HOT-2", 3)])
    orders = [("lead", [Allocation("N1", "HOT-1", 1)]),
              *((f"hot-{k}", [Allocation("N0", "HOT-1", 1)]) for k in range(6)),
              dup, dup, ("nosku", [Allocation("N0", "HOT-2", 1), Allocation("N1", "NOPE", 1)])]
    with ThreadPoolExecutor(len(orders)) as pool:
        futures = _reserve_behind_a_paused_leader(store, redis_server.url, pool, orders)
        with pytest.raises(ValidationError):  # refused before it queues: nothing to send
            store.reserve("bad", [Allocation("N0", "HOT-1", 0)])
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result(TIMEOUT))
            except (ReservationConflict, NotFoundError) as exc:
                outcomes.append(exc)
    stats = store.reserve_batcher.stats()
    assert stats.requests - before.requests == len(orders)
    assert stats.round_trips - before.round_trips == 2 and stats.largest == len(orders) - 1

    assert outcomes[0].allocations == (Allocation("N1", "HOT-1", 1),)
    hot = outcomes[1:7]   # 4 units for 6 one-unit orders: exactly 4 hold, 2 conflict
    assert sum(not isinstance(o, Exception) for o in hot) == 4
    conflicts = [o for o in hot if isinstance(o, Exception)]
    assert all(isinstance(o, ReservationConflict) and "ATP is 0" in str(o) for o in conflicts)
    first, second = outcomes[7:9]   # the same order twice in one batch: one hold, both see it
    assert first.reservation_id == second.reservation_id == "res-dup"
    assert first.allocations == second.allocations == (Allocation("N2", "HOT-2", 3),)
    assert isinstance(outcomes[9], NotFoundError) and outcomes[9].field == "allocations[1].sku"

    held = _held(store)
    assert held[0, 0] == 4 and held[1, 0] == 1 and held[2, 1] == 3 and held[3, 2] == 1
    assert held.sum() == 9  # the NOSKU order held nothing (all or nothing)
    assert store.reserve_batcher.queued == 0 and not store.reserve_batcher.in_flight


def test_coalesced_reserves_keep_their_stock_buffers(redis_server):
    """Six one-unit orders that each keep 2 units (a policy's stock buffer) share one pipelined
    round trip on 4 units: exactly 2 hold, the others are refused with the buffer named."""
    store = _store(redis_server.url, stock=4)
    store.reserve("warm-up", [Allocation("N3", "HOT-3", 1)])
    orders = [("lead", [Allocation("N1", "HOT-1", 1, keep=2)]),
              *((f"kept-{k}", [Allocation("N0", "HOT-1", 1, keep=2)]) for k in range(6))]
    with ThreadPoolExecutor(len(orders)) as pool:
        outcomes = []
        for f in _reserve_behind_a_paused_leader(store, redis_server.url, pool, orders):
            try:
                outcomes.append(f.result(TIMEOUT))
            except ReservationConflict as exc:
                outcomes.append(exc)
    assert store.reserve_batcher.stats().largest == len(orders) - 1
    kept = outcomes[1:]
    assert sum(not isinstance(o, Exception) for o in kept) == 2
    assert all("stock buffer keeps 2" in str(o) for o in kept if isinstance(o, Exception))
    assert _held(store)[0, 0] == 2 and store.read(["HOT-1"]).atp[0, 0] == 2


def test_many_threads_on_hot_skus_never_oversell_and_the_ledger_reconciles(redis_server):
    """16 threads reserve random small orders on 3 hot SKUs (retrying each once, which must return
    the same hold); what Redis holds is exactly what the callers were told, and no more than the
    stock above safety."""
    stock, safety, threads, per_thread = 20, 2, 16, 30
    store = _store(redis_server.url, stock=stock, safety=safety)
    store.read(HOT)
    start = threading.Barrier(threads)

    def client(t: int) -> tuple[list[Allocation], int]:
        rng = random.Random(t)
        told: list[Allocation] = []
        calls = 0
        start.wait(TIMEOUT)
        for k in range(per_thread):
            allocations = [Allocation(f"N{rng.randrange(4)}", rng.choice(HOT), rng.randint(1, 3))
                           for _ in range(rng.randint(1, 3))]
            calls += 1
            try:
                res = store.reserve(f"t{t}-{k}", allocations)
            except ReservationConflict:
                continue
            calls += 1
            assert store.reserve(f"t{t}-{k}", allocations[:1]) == res  # idempotent retry
            told.extend(res.allocations)
        return told, calls

    with ThreadPoolExecutor(threads) as pool:
        results = [f.result(TIMEOUT * 3) for f in [pool.submit(client, t) for t in range(threads)]]
    expected = np.zeros((len(NET), len(HOT)), dtype=np.int64)
    for a in (a for ledger, _ in results for a in ledger):
        expected[NET.index_of(a.node_id), HOT.index(a.sku)] += a.quantity
    held = _held(store)
    assert (held == expected).all()
    assert (held <= stock - safety).all() and held.sum() > 0
    assert (store.read(HOT).atp == stock - safety - held).all()
    stats = store.reserve_batcher.stats()
    assert stats.requests == sum(calls for _, calls in results)
    assert stats.coalesced_round_trips > 0 and stats.round_trips < stats.requests


def test_a_batch_that_finds_a_new_snapshot_is_retried_order_by_order(redis_server):
    """Requests built against version 1 meet version 2 in Redis (STALE): each is retried alone and
    holds against the new version."""
    store = _store(redis_server.url)
    store.read(HOT)
    other = RedisStore(NET, redis_server.url, namespace=store.keys.namespace)
    nodes = [n.node_id for n in NET.nodes for _ in HOT]
    v2 = other.load_snapshot(nodes, [s for _ in NET.nodes for s in HOT], np.full(len(nodes), 20))
    assert store._seen == v2 - 1  # this process has not seen the new version yet
    orders = [(f"o{k}", [Allocation(f"N{k % 4}", HOT[k % 3], 1)]) for k in range(6)]
    with ThreadPoolExecutor(len(orders)) as pool:
        results = [f.result(TIMEOUT) for f in _reserve_behind_a_paused_leader(store, redis_server.url,
                                                                              pool, orders)]
    assert [r.version for r in results] == [v2] * len(orders)
    assert store.reserve_batcher.stats().largest == len(orders) - 1
    assert _held(store).sum() == len(orders)
    other.client.close()


def test_redis_stopped_mid_batch_fails_every_caller_then_the_batcher_recovers(private_redis):
    server = private_redis(durable=True)  # the snapshot survives the restart
    store = _store(server.url)
    store.reserve("warm-up", [Allocation("N0", "HOT-1", 1)])
    orders = [(f"q{k}", [Allocation("N1", "HOT-2", 1)]) for k in range(6)]
    with ThreadPoolExecutor(len(orders)) as pool:
        futures = _reserve_behind_a_paused_leader(store, server.url, pool, orders, after_queued=server.stop)
        for (order_id, _), f in zip(orders, futures, strict=True):
            with pytest.raises(StoreUnavailable, match=f"reserve order '{order_id}'"):
                f.result(TIMEOUT)
    assert not store.reserve_batcher.in_flight and store.reserve_batcher.queued == 0

    server.start()
    after = store.reserve("after", [Allocation("N1", "HOT-2", 2)])
    assert after.allocations == (Allocation("N1", "HOT-2", 2),)
    with ThreadPoolExecutor(len(orders)) as pool:   # and batches coalesce again
        again = [f.result(TIMEOUT) for f in _reserve_behind_a_paused_leader(store, server.url, pool, orders)]
    assert [r.order_id for r in again] == [o for o, _ in orders]
    assert _held(store)[1, 1] == 2 + len(orders) and _held(store)[0, 0] == 1


def test_pipelined_reservations_reload_a_lost_script(redis_server):
    """After SCRIPT FLUSH (as after a restart) a pipeline of EVALSHA calls loads the script and
    sends the calls again, without the SCRIPT EXISTS round trip before every pipeline."""
    store = _store(redis_server.url)
    store.reserve_many([("a", [Allocation("N0", "HOT-1", 1)]), ("b", [Allocation("N0", "HOT-1", 1)])])
    store.client.script_flush()
    one = [Allocation("N0", "HOT-1", 1)]
    results = store.reserve_many([("c", one), ("a", one)])
    assert [r.reservation_id for r in results] == ["res-c", "res-a"]
    assert _held(store)[0, 0] == 3


# ----------------------------------------------------------------------------- the switch
def test_coalescing_is_on_by_default_and_can_be_switched_off(redis_server):
    assert _store(redis_server.url).reserve_batcher is not None
    store = _store(redis_server.url, coalesce_reserves=False)
    assert store.reserve_batcher is None
    assert store.reserve("x", [Allocation("N0", "HOT-1", 2)]).allocations == (Allocation("N0", "HOT-1", 2),)


def test_a_cluster_reserves_order_by_order(redis_cluster):
    store = RedisStore(NET, client_url(redis_cluster), namespace=new_namespace("gc"))
    assert store.cluster and store.reserve_batcher is None
    store.client.close()


def test_config_and_environment_switch_coalescing(tmp_path, redis_server):
    redis = {"DOM_STORE_BACKEND": "redis", "DOM_REDIS_URL": redis_server.url}
    assert load_config(None, env=redis).store.coalesce_reserves is True
    path = tmp_path / "dom.toml"
    path.write_text("[store]\ncoalesce_reserves = false\n")
    assert load_config(path, env=redis).store.coalesce_reserves is False
    for raw, want in (("false", False), ("0", False), ("no", False), ("true", True), ("1", True),
                      ("YES", True)):
        env = {**redis, "DOM_STORE_COALESCE_RESERVES": raw}
        assert load_config(None, env=env).store.coalesce_reserves is want
    with pytest.raises(ConfigError) as err:
        load_config(None, env={"DOM_STORE_COALESCE_RESERVES": "maybe"})
    assert err.value.field == "DOM_STORE_COALESCE_RESERVES"
    path.write_text('[store]\ncoalesce_reserves = "no"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env=redis)
    assert err.value.field == "store.coalesce_reserves"
    off = RedisStoreConfig(url=redis_server.url, coalesce_reserves=False).open(NET)
    on = RedisStoreConfig(url=redis_server.url).open(NET)
    assert off.reserve_batcher is None and on.reserve_batcher is not None
