"""Several processes x many threads reserving, committing and releasing a few hot SKUs on one
Redis (standalone and Cluster): stock is never oversold and the ledger reconciles exactly."""

from __future__ import annotations

import multiprocessing as mp
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dom_engine.inventory.base import Allocation, ReservationConflict
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import row_network
from tests.redis_servers import client_url, new_namespace

NET = row_network(4)
HOT = ["HOT-1", "HOT-2", "HOT-3"]
STOCK, SAFETY = 40, 2
PROCESSES, THREADS, ORDERS = 3, 6, 25


def _thread(url: str, namespace: str, seed: int, prefix: str) -> list:
    """One client thread: reserve random small orders (retrying each once, which must return the
    same hold), then commit, release, release one node, or keep. Returns its ledger."""
    store = RedisStore(NET, url, namespace=namespace, cache_staleness_s=0.0)
    rng = random.Random(seed)
    ledger = []
    for k in range(ORDERS):
        order = f"{prefix}-{k}"
        allocations = [Allocation(f"N{rng.randrange(4)}", rng.choice(HOT), rng.randint(1, 4))
                       for _ in range(rng.randint(1, 3))]
        try:
            res = store.reserve(order, allocations)
        except ReservationConflict:
            continue
        assert store.reserve(order, allocations[:1]).allocations == res.allocations  # idempotent
        action = rng.random()
        if action < 0.3:
            store.commit(res.reservation_id)
            ledger.append(("committed", res.allocations))
        elif action < 0.5:
            store.release(res.reservation_id)
        elif action < 0.6:
            left = store.release(res.reservation_id, res.allocations[0].node_id)
            ledger.append(("held", left.allocations if left else ()))
        else:
            ledger.append(("held", res.allocations))
    store.client.close()
    return ledger


def _process(url: str, namespace: str, p: int) -> list:
    with ThreadPoolExecutor(THREADS) as pool:
        parts = pool.map(lambda t: _thread(url, namespace, 1000 * p + t, f"p{p}t{t}"), range(THREADS))
        return [entry for part in parts for entry in part]


@pytest.mark.parametrize("backend", ["redis", "cluster"])
def test_processes_and_threads_never_oversell_and_the_ledger_reconciles(backend, request):
    target = request.getfixturevalue("redis_server" if backend == "redis" else "redis_cluster")
    url, namespace = client_url(target), new_namespace()
    store = RedisStore(NET, url, namespace=namespace, cache_staleness_s=0.0)
    nodes = [n.node_id for n in NET.nodes for _ in HOT]
    skus = [s for _ in NET.nodes for s in HOT]
    store.load_snapshot(nodes, skus, np.full(len(nodes), STOCK), np.full(len(nodes), SAFETY))

    with mp.get_context("spawn").Pool(PROCESSES) as pool:
        ledgers = pool.starmap(_process, [(url, namespace, p) for p in range(PROCESSES)])

    col = {sku: j for j, sku in enumerate(HOT)}
    held = np.zeros((len(NET), len(HOT)), dtype=np.int64)
    committed = np.zeros_like(held)
    for kind, allocations in (entry for ledger in ledgers for entry in ledger):
        for a in allocations:
            (held if kind == "held" else committed)[NET.index_of(a.node_id), col[a.sku]] += a.quantity
    assert committed.sum() > 0 and held.sum() > 0
    # what Redis holds is exactly what the clients were told they hold
    reserved = np.stack([np.frombuffer(store.client.hget(store.keys.reserved(store.keys.shard_of(s)), s)
                                       or bytes(8 * len(NET)), dtype="<i8") for s in HOT], axis=1)
    np.testing.assert_array_equal(reserved, held)
    # on hand lost exactly the committed units, and nothing was promised beyond stock - safety
    view = store.read(HOT)
    np.testing.assert_array_equal(view.atp, STOCK - SAFETY - committed - held)
    assert (held + committed <= STOCK - SAFETY).all()
    store.client.close()
