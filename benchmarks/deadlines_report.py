"""Figures for issue 9 item 3 (deadlines and budgets), medians of REPEAT runs:

1. RouteBatch of 2,000 orders over a real gRPC server on loopback with a 20 / 100 / 500 ms deadline:
   when the client gets its answer (or gives up), and the server's CPU seconds after it gave up
   (process CPU from the client's give-up until the server's handler returns);
2. Engine.route_batch of 2,000 orders with time_budget_ms 100;
3. Engine.route_batch of 50,000 orders with 3 s (DOM_BENCH_50K=0 skips it);
4. Engine.route of a 200-line order of one SKU with 20 ms.

    PYTHONPATH=$PWD python -m benchmarks.deadlines_report
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import replace

import grpc
import numpy as np

from benchmarks.batch_data import BATCH_NOW, wave
from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.engine import Engine
from dom_engine.domain.order import Line
from dom_engine.inventory.memory import MemoryStore
from dom_engine.io.demo import order_stream
from dom_engine.service.converters import order_to_proto
from dom_engine.service.server import build_server
from dom_engine.service.servicer import RoutingServicer
from dom_engine.testing import demo_engine

REPEAT = int(os.environ.get("DOM_BENCH_REPEAT", "3"))


class _HandlerEnd:
    """When the server's RouteBatch handler returned (process CPU time), whatever ended it: the
    parser stopping, the engine, or the answer's conversion."""

    def __init__(self) -> None:
        self.done, self.ended_cpu = threading.Event(), 0.0
        handler = RoutingServicer.RouteBatch

        def timed(servicer, request, context):
            try:
                return handler(servicer, request, context)
            finally:
                self.ended_cpu = time.process_time()
                self.done.set()

        RoutingServicer.RouteBatch = timed   # this script's servers only


def _engine(n: int) -> tuple[Engine, object]:
    w = wave(n)
    store = MemoryStore.from_arrays(w.network, w.stock.skus, w.stock.atp, clock=lambda: BATCH_NOW)
    engine = Engine(w.network, w.rate_card, store, policies={"default": w.policies[0]},
                    clock=lambda: BATCH_NOW)
    engine.warm_up()   # as `dom serve` does before it listens
    return engine, w


def grpc_deadlines() -> None:
    engine, w = _engine(2_000)
    end = _HandlerEnd()
    server, port = build_server(engine, "127.0.0.1:0", max_workers=2)
    server.start()
    request = routing_pb.RouteBatchRequest(orders=[order_to_proto(o) for o in w.orders],
                                           time_budget_ms=600_000)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = routing_grpc_pb.RoutingServiceStub(channel)
        for deadline_ms in (20, 100, 500):
            answers, after = [], []
            for _ in range(REPEAT):
                end.done.clear()
                t0 = time.perf_counter()
                try:
                    stub.RouteBatch(request, timeout=deadline_ms / 1000)
                    code = "OK"
                except grpc.RpcError as exc:
                    code = exc.code().name
                answers.append((time.perf_counter() - t0) * 1000)
                gave_up = time.process_time()
                end.done.wait(120)
                after.append(max(0.0, end.ended_cpu - gave_up) * 1000)
            print(f"RouteBatch 2,000 orders, deadline {deadline_ms} ms: "
                  f"answer {statistics.median(answers):.0f} ms "
                  f"({code}), server CPU after the client gave up {statistics.median(after):.1f} ms")
    server.stop(None)


def batch_budget(n: int, budget_ms: float) -> None:
    engine, w = _engine(n)
    runs = []
    for _ in range(REPEAT if n <= 2_000 else 1):
        t0 = time.perf_counter()
        r = engine.route_batch(list(w.orders), time_budget_ms=budget_ms)
        runs.append((time.perf_counter() - t0) * 1000)
    print(f"route_batch {n:,} orders, budget {budget_ms:.0f} ms: {statistics.median(runs):.0f} ms, "
          f"{r.status.name}, unreached {r.stats.get('unreached', 0):.0f}, "
          f"objective {r.objective:.1f}, bound {r.lower_bound:.1f}")


def one_sku_order() -> None:
    engine = demo_engine()
    view = engine.store.read([f"SKU-{i:05d}" for i in range(1, 50)])
    sku = view.skus[int(np.argmax((view.atp > 0).sum(axis=0)))]
    base = next(iter(order_stream(7, 1)))
    lines = tuple(Line(line_id=f"L{i}", sku=sku, quantity=1) for i in range(200))
    order = replace(base, order_id="MANY", lines=lines, options=replace(base.options, allow_backorder=True))
    runs = []
    for _ in range(max(REPEAT, 5)):
        t0 = time.perf_counter()
        plan = engine.route(order, time_budget_ms=20)
        runs.append((time.perf_counter() - t0) * 1000)
    print(f"route 200 lines of one SKU, budget 20 ms: {statistics.median(runs):.1f} ms, {plan.status.name}")


if __name__ == "__main__":
    one_sku_order()
    batch_budget(2_000, 100.0)
    grpc_deadlines()
    if os.environ.get("DOM_BENCH_50K", "1") != "0":
        batch_budget(50_000, 3_000.0)
