"""Holds that run out are given back by the server and logged as "expired" events: serve(), as
`dom serve` runs it, with the memory store and with a real redis-server; the store's clock is moved
past the hold's expiry instead of sleeping."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import grpc
import numpy as np
import pytest

from dom_engine._proto.dom.v1 import events_pb2 as events_pb
from dom_engine._proto.dom.v1 import events_pb2_grpc as events_grpc_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.service.server import serve
from tests.redis_servers import new_namespace
from tests.service.conftest import NOW, ON_HAND, SKUS


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


def make_store(kind: str, base, clock: Clock, request: pytest.FixtureRequest, cache_staleness_s: float = 0.0):
    """The test engine's stock in a MemoryStore or a RedisStore (on the session's redis-server),
    holds lasting 60 s by `clock`."""
    if kind == "memory":
        return MemoryStore.from_arrays(base.network, SKUS, ON_HAND, clock=clock, hold_ttl_s=60)
    store = RedisStore(base.network, request.getfixturevalue("redis_server").url, clock=clock,
                       namespace=new_namespace("exp"), hold_ttl_s=60, cache_staleness_s=cache_staleness_s)
    rows, cols = np.nonzero(ON_HAND)
    store.load_snapshot(np.array(base.network.node_ids, dtype=object)[rows],
                        np.array(SKUS, dtype=object)[cols], ON_HAND[rows, cols])
    return store


@pytest.fixture(params=["memory", "redis"])
def served(request, make_engine) -> Iterator[tuple[int, Clock, object]]:
    base, clock = make_engine(), Clock()
    engine = replace(base, store=make_store(request.param, base, clock, request))
    for port in serving(engine):
        yield port, clock, engine


def serving(engine, **kwargs) -> Iterator[int]:
    """serve(engine) on a thread, its store watched every 0.1 s; yields the port."""
    stop, ready = threading.Event(), []
    thread = threading.Thread(target=serve, args=(engine, "127.0.0.1:0"), daemon=True,
                              kwargs={"stop": stop, "on_ready": ready.append, "health_interval_s": 0.1,
                                      "grace_s": 1.0, **kwargs})
    thread.start()
    deadline = time.monotonic() + 30
    while not ready and time.monotonic() < deadline:
        time.sleep(0.05)
    yield ready[0]
    stop.set()
    thread.join(timeout=30)


def test_an_expired_hold_is_given_back_and_logged(served, valid_request):
    port, clock, engine = served
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        plan = routing_grpc_pb.RoutingServiceStub(channel).RouteOrder(valid_request("ex-1", reserve=True),
                                                                      timeout=10).plan
        held = {(s.node_id, ln.sku, ln.quantity) for s in plan.shipments for ln in s.lines}
        assert held and engine.store.reservation_for_order("ex-1") is not None
        log = events_grpc_pb.DecisionLogStub(channel)

        def expired() -> list[events_pb.Event]:
            engine.decisions.drain(5.0)
            request = events_pb.ListEventsRequest(order_id="ex-1", kinds=["expired"])
            return list(log.ListEvents(request, timeout=10).events)

        time.sleep(0.5)
        assert expired() == []                    # not before its time
        clock.now += timedelta(seconds=61)
        deadline = time.monotonic() + 15
        while not (found := expired()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(found) == 1, "the server did not log the hold's expiry"
        event = found[0]
        assert event.reservation_id == plan.reservation_id and event.status == "expired"
        detail = json.loads(event.detail_json)
        assert {(a["node_id"], a["sku"], a["quantity"]) for a in detail["allocations"]} == held
        assert engine.store.reservation_for_order("ex-1") is None
        time.sleep(0.5)
        assert len(expired()) == 1                # once
