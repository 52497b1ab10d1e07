"""RouteOrder with reserve=true through a real loopback gRPC server: the engine over the in-memory
store vs over RedisStore (a redis-server started for this run), same orders, same run.

Every order gets a fresh id (reservations are idempotent per order id) and the demo stock is deep,
so no call conflicts: this measures the price of holding stock atomically in Redis (a Lua call per
order) on top of routing. extra_info: p50/p99 per store and the ratio Redis / memory. Asserted
(behaviour, not timing): every call returns a reservation, and the plans of both stores agree.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace

import grpc
import numpy as np
import pytest

from benchmarks.data import BENCH_SEED, _clock, bench_engine, order_set, orders_per_size
from benchmarks.measure import percentiles_ms
from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.io.demo import demo_stock
from dom_engine.service.converters import order_to_proto
from dom_engine.service.server import build_server
from tests.redis_servers import new_namespace

RESULTS: dict[str, list[float]] = {}
PLANS: dict[str, list] = {}


def _redis_engine(url: str):
    engine = bench_engine()
    store = RedisStore(engine.network, url, namespace=new_namespace("rsv"), clock=_clock)
    skus, on_hand, safety = demo_stock(engine.network, BENCH_SEED)
    rows, cols = np.nonzero(on_hand)
    ids = np.array(engine.network.node_ids, dtype=object)
    sku_ids = np.array(skus, dtype=object)
    store.load_snapshot(ids[rows], sku_ids[cols], on_hand[rows, cols], safety[rows, cols])
    return replace(engine, store=store)


@contextmanager
def _served(engine):
    server, port = build_server(engine, "127.0.0.1:0", max_workers=4)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield routing_grpc_pb.RoutingServiceStub(channel)
    finally:
        channel.close()
        server.stop(None)


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_route_and_reserve_over_grpc(benchmark, store, bench_redis):
    engine = bench_engine() if store == "memory" else _redis_engine(bench_redis.url)
    orders = order_set(3, orders_per_size())
    requests = [routing_pb.RouteOrderRequest(reserve=True, order=order_to_proto(o)) for o in orders.orders]
    for r in requests:  # fresh ids per store: reservations are idempotent per order id
        r.order.order_id = f"{store}-{r.order.order_id}"
    times, plans = [], []
    with _served(engine) as stub:
        for r in requests[:5]:  # warm-up calls under other ids
            warm = routing_pb.RouteOrderRequest()
            warm.CopyFrom(r)
            warm.order.order_id = f"warm-{r.order.order_id}"
            stub.RouteOrder(warm, timeout=10)
        pending = iter(requests)

        def call() -> None:
            started = time.perf_counter()
            plans.append(stub.RouteOrder(next(pending), timeout=10).plan)
            times.append(time.perf_counter() - started)

        benchmark.pedantic(call, rounds=len(requests), iterations=1)
    assert all(p.reservation_id for p in plans), "every order must be reserved"
    RESULTS[store], PLANS[store] = times, plans
    p50, p99 = percentiles_ms(times)
    benchmark.extra_info.update({"store": store, "p50_ms": round(p50, 3), "p99_ms": round(p99, 3)})
    if len(RESULTS) == 2:
        m50, m99 = percentiles_ms(RESULTS["memory"])
        benchmark.extra_info.update({"ratio_p50_redis_vs_memory": round(p50 / m50, 2),
                                     "ratio_p99_redis_vs_memory": round(p99 / m99, 2)})
        same = sum(abs(a.objective - b.objective) < 1e-6 for a, b in zip(PLANS["memory"], PLANS["redis"],
                                                                          strict=True))
        assert same == len(requests), "both stores hold the same stock: the plans must agree"

