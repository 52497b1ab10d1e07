"""RouteOrder through a real loopback gRPC server vs Engine.route in process, same orders, same run;
and a health check round trip as the transport floor.

The server is `build_server(engine, "127.0.0.1:0")` over the demo engine with its clock fixed at
BENCH_NOW; the client is one insecure channel in this process (so client and server share the GIL
and the two cores, as a sidecar deployment would not). extra_info: p50/p99 of both, the ratio
gRPC / in-process, and how many wire plans equal the in-process plan (asserted: all).
"""

from __future__ import annotations

import pytest

from benchmarks.conftest import scheduled
from benchmarks.measure import GrpcRow, bench_each, grpc_harness, same_plan


@pytest.fixture(scope="module")
def grpc_bench():
    """A started loopback server over a fixed-clock demo engine and stubs on one channel."""
    with grpc_harness() as harness:
        yield harness


def _cross_check(results: dict, n_lines: int) -> None:
    inproc, wire = results.get(("grpc-inprocess", n_lines)), results.get(("grpc-wire", n_lines))
    if inproc is None or wire is None:
        return
    (i_times, plans, i_info), (w_times, wire_plans, w_info) = inproc, wire
    same = [same_plan(p, w) for p, w in zip(plans, wire_plans, strict=True)]
    row = GrpcRow(n_lines, i_times, w_times, sum(same), len(same))
    for info in (i_info, w_info):
        info.update(row.extra_info() if i_times and w_times else {"plans_identical": row.identical})
    if i_times and w_times:
        results["grpc-row", n_lines] = row
    bad = [p.order_id for p, ok in zip(plans, same, strict=True) if not ok]
    assert not bad, f"wire plans differ from in-process plans for {bad}"


def test_engine_route_inprocess(benchmark, request, grpc_bench, orders, results):
    """Engine.route (validation, store read, routing) in this process: the gRPC baseline."""
    n, engine = orders.n_lines, grpc_bench.engine
    benchmark.group = f"grpc {n:2d} lines"
    benchmark.extra_info.update(n_lines=n, measured="Engine.route in process")
    times, plans = bench_each(benchmark, lambda k: engine.route(orders.orders[k]), len(orders))
    results["grpc-inprocess", n] = (times, plans, benchmark.extra_info)
    if ("grpc-wire", n) not in results and not scheduled(request, "test_grpc_route_order", n):
        return
    _cross_check(results, n)


def test_grpc_route_order(benchmark, request, grpc_bench, orders, results):
    """RouteOrder round trip: client serialisation, loopback HTTP/2, servicer, engine, and back."""
    n = orders.n_lines
    benchmark.group = f"grpc {n:2d} lines"
    benchmark.extra_info.update(n_lines=n, measured="RouteOrder over loopback gRPC")
    reqs = grpc_bench.requests(orders)
    times, wire_plans = bench_each(benchmark, lambda k: grpc_bench.route_order(reqs[k]), len(orders))
    results["grpc-wire", n] = (times, wire_plans, benchmark.extra_info)
    if ("grpc-inprocess", n) not in results and not scheduled(request, "test_engine_route_inprocess", n):
        results["grpc-inprocess", n] = ([], [grpc_bench.engine.route(o) for o in orders.orders], {})
    _cross_check(results, n)


def test_grpc_health_check(benchmark, grpc_bench, n_orders, results):
    """grpc.health.v1 Check: the round trip with no work behind it."""
    from grpc_health.v1 import health_pb2

    benchmark.group = "grpc health"
    times, replies = bench_each(benchmark, lambda k: grpc_bench.health_check(), n_orders)
    assert all(r.status == health_pb2.HealthCheckResponse.SERVING for r in replies)
    if times:
        from benchmarks.measure import percentiles_ms

        p50, p99 = percentiles_ms(times)
        benchmark.extra_info.update(p50_ms=p50, p99_ms=p99, calls=len(times))
        results["grpc-health"] = (times, [], benchmark.extra_info)
