"""Redis killed and restarted while orders are being reserved: quotes degrade to the cache (and
say how stale), then fail with StoreUnavailable; reservations fail with StoreUnavailable; after
the restart everything recovers by itself and no reservation is lost or duplicated."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dom_engine.inventory.base import Allocation, StoreUnavailable
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import row_network

NET = row_network(3)
SKUS = ["A", "B"]


def test_kill_and_restart_during_reservations(private_redis):
    server = private_redis(durable=True)  # acknowledged writes survive the kill (AOF, fsync always)
    now = [0.0]
    store = RedisStore(NET, server.url, namespace="outage", cache_staleness_s=1.0,
                       degraded_staleness_s=30.0, monotonic=lambda: now[0])
    nodes = [n.node_id for n in NET.nodes for _ in SKUS]
    store.load_snapshot(nodes, SKUS * len(NET), np.full(len(nodes), 1000))
    warm = store.read(SKUS)

    outcomes: dict[str, object] = {}
    unavailable = threading.Event()
    stop = threading.Event()

    def client(t: int) -> None:
        k = 0
        while not stop.is_set():
            order = f"t{t}-{k}"
            while True:  # like an OMS: retry the same order until Redis answers
                try:
                    outcomes[order] = store.reserve(order, [Allocation(f"N{k % 3}", SKUS[t % 2], 1)])
                    break
                except StoreUnavailable:
                    unavailable.set()
                    time.sleep(0.01)
            k += 1

    threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(4)]
    for t in threads:
        t.start()
    try:
        while len(outcomes) < 40:
            time.sleep(0.005)
        server.stop()
        assert unavailable.wait(30)
        _while_down(store, warm, now)
    finally:
        if server.proc is None:
            server.start()
        time.sleep(0.2)  # let the clients get some reservations through the restarted server
        stop.set()
        for t in threads:
            t.join(30)
    fresh = store.read(SKUS)
    assert fresh.staleness_s == 0.0
    # every order holds exactly one unit, once: Redis's reserved totals equal the orders made
    held = np.zeros((len(NET), len(SKUS)), dtype=np.int64)
    for order in outcomes:
        res = store.reservation_for_order(order)
        assert res is not None and len(res.allocations) == 1 and res.allocations[0].quantity == 1
        held[NET.index_of(res.allocations[0].node_id), SKUS.index(res.allocations[0].sku)] += 1
    np.testing.assert_array_equal(fresh.atp, 1000 - held)
    store.client.close()


def _while_down(store: RedisStore, warm, now: list[float]) -> None:
    now[0] += 5  # past the cache bound, within the degraded bound: served from cache, and says so
    view = store.read(SKUS)
    np.testing.assert_array_equal(view.atp, warm.atp)
    assert view.staleness_s == pytest.approx(5.0)
    now[0] += 30  # past the degraded bound too
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.read(SKUS)
    with pytest.raises(StoreUnavailable):
        store.commit("res-t0-0")
