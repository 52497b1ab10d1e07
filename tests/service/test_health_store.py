"""Health tells the truth about the store: a server whose Redis goes away keeps answering SERVING
while its cache may still serve quotes, turns NOT_SERVING once Redis has been unreachable beyond
the degraded window, and SERVING again when Redis is back, without a restart (serve(), as
`dom serve` runs it, on a real redis-server that is killed and started again)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dom_engine.inventory.redis_store import RedisStore
from dom_engine.service.server import serve
from dom_engine.service.servicer import SERVICE_NAME
from tests.redis_servers import new_namespace


def _status(stub, service: str = "") -> int:
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def _wait_for(stub, wanted: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _status(stub) == wanted and _status(stub, SERVICE_NAME) == wanted:
            return True
        time.sleep(0.1)
    return False


def test_health_follows_the_store(private_redis, make_engine):
    redis = private_redis(durable=True)
    base = make_engine()
    store = RedisStore(base.network, redis.url, namespace=new_namespace("health"), cache_staleness_s=0.2,
                       degraded_staleness_s=1.5, clock=base.clock)
    skus, on_hand, _, safety = base.store.arrays()
    rows, cols = np.nonzero(on_hand)
    ids, sku_ids = np.array(base.network.node_ids, dtype=object), np.array(skus, dtype=object)
    store.load_snapshot(ids[rows], sku_ids[cols], on_hand[rows, cols], safety[rows, cols])
    stop, ready = threading.Event(), []
    thread = threading.Thread(target=serve, args=(replace(base, store=store), "127.0.0.1:0"),
                              kwargs={"stop": stop, "on_ready": ready.append, "health_interval_s": 0.2,
                                      "grace_s": 1.0}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not ready and time.monotonic() < deadline:
            time.sleep(0.05)
        with grpc.insecure_channel(f"127.0.0.1:{ready[0]}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            serving = health_pb2.HealthCheckResponse.SERVING
            not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
            assert _status(stub) == serving
            store.known_skus()          # what the server last read from Redis: cached from now on
            redis.stop()
            started = time.monotonic()
            assert _wait_for(stub, not_serving), "health stayed SERVING with Redis gone"
            assert time.monotonic() - started >= 1.0      # not before the degraded window ran out
            redis.start(fresh=False)
            assert _wait_for(stub, serving), "health did not come back once Redis was up again"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
