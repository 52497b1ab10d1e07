"""Throughput under concurrency (benchmarks/throughput.py): the default `dom serve` over a real
redis-server, loaded by the independent Node generator (benchmarks/loadgen) with 32 concurrent
calls over 4 channels: grpc.health Check, then RouteOrder reserve=true of distinct demo orders,
against the same server in the same run. extra_info: both rates, their ratio, RouteOrder p50/p99.

Asserted (behaviour, not timing): no call failed, the orders did not run out, and the load's
orders were reserved (the first one's replay answers its reservation).

    python -m pytest benchmarks/test_throughput.py --benchmark-only -s
"""

from __future__ import annotations

import os

import pytest

from benchmarks.throughput import measure, node_available, table
from tests.redis_servers import REDIS_SERVER

QUICK = os.environ.get("DOM_BENCH_QUICK", "") not in ("", "0", "false", "no")


@pytest.mark.skipif(not node_available(), reason="node and npm are needed for the load generator")
@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server not installed")
def test_route_order_rate_against_health_rate(benchmark):
    seconds, warmup = (3.0, 1.0) if QUICK else (10.0, 2.0)
    result: dict = {}
    benchmark.pedantic(lambda: result.update(measure(concurrency=32, seconds=seconds, warmup=warmup)),
                       rounds=1, iterations=1, warmup_rounds=0)
    health, route = result["health"], result["route"]
    assert health["failed"] == 0 and route["failed"] == 0, (health["errors"], route["errors"])
    assert route["calls"] > 0 and not route["exhausted"]
    assert result["reserved"]
    benchmark.extra_info.update(health_rate=health["rate"], route_rate=route["rate"], ratio=result["ratio"],
                                route_p50_ms=route["p50_ms"], route_p99_ms=route["p99_ms"])
    print("\n" + table(result))
