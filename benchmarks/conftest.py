"""Fixtures for the benchmark suites: the fixed-seed demo instances, a per-run results store (so a
baseline measured in the same run gives the ratios), and a terminal summary with p50/p99.

    python -m pytest benchmarks --benchmark-only                        # 200 orders per size
    DOM_BENCH_QUICK=1 python -m pytest benchmarks --benchmark-only -q   # 30 orders per size (CI)
    DOM_BENCH_ORDERS=50 python -m pytest benchmarks --benchmark-only

One benchmark round is one order (pedantic rounds cycling through the orders, after a few untimed
warm-up orders), so pytest-benchmark's own min/median/mean are per-order figures too. Benchmarks
assert correctness (objectives equal the proven CP-SAT optimum; wire plans equal in-process ones),
never timings.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.data import N_LINES, Demo, OrderSet, demo, order_set, orders_per_size
from benchmarks.measure import grpc_table, route_table
from tests.redis_servers import REDIS_CLI, REDIS_SERVER, RedisServer

RESULTS = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS] = {}


@pytest.fixture(scope="session")
def bench_demo() -> Demo:
    """The demo network (100 nodes), rate card, default policy and stock, clock fixed at BENCH_NOW."""
    return demo()


@pytest.fixture(scope="session")
def n_orders() -> int:
    """Orders per size (200; 30 with DOM_BENCH_QUICK=1; DOM_BENCH_ORDERS overrides)."""
    return orders_per_size()


@pytest.fixture(scope="module", params=N_LINES, ids=lambda n: f"{n}-lines")
def orders(request: pytest.FixtureRequest, bench_demo: Demo, n_orders: int) -> OrderSet:
    """The fixed-seed orders of one size with their stock views. Module scope + params makes pytest
    run all tests of one size together, so the baseline and the engine are measured back to back."""
    return order_set(request.param, n_orders)


@pytest.fixture(scope="module")
def bench_redis():
    """A standalone redis-server (no persistence) on a free loopback port for one module;
    skipped where redis-server is not installed (CI installs it)."""
    if REDIS_SERVER is None or REDIS_CLI is None:
        pytest.skip("redis-server not installed")
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def results(pytestconfig: pytest.Config) -> dict:
    """This run's measurements: key -> (seconds per order, outputs, that test's extra_info dict)."""
    return pytestconfig.stash[RESULTS]


def scheduled(request: pytest.FixtureRequest, test_name: str, n_lines: int) -> bool:
    """Whether `test_name` for this order size is part of this run (not deselected with -k)."""
    return any(getattr(item, "originalname", "") == test_name
               and getattr(getattr(item, "callspec", None), "params", {}).get("orders") == n_lines
               for item in request.session.items)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the p50/p99 tables of this run (pytest-benchmark's own table has no p99 or ratios)."""
    res = config.stash.get(RESULTS, {})
    route_rows = [res["route-row", n] for n in N_LINES if ("route-row", n) in res]
    grpc_rows = [res["grpc-row", n] for n in N_LINES if ("grpc-row", n) in res]
    health = res["grpc-health"][0] if "grpc-health" in res else []
    batch_rows = [v for k, v in sorted(res.items(), key=lambda kv: str(kv[0])) if k[0] == "batch-row"]
    if batch_rows:
        from benchmarks.batch_measure import cost_table, time_table

        terminalreporter.section("dom_engine batch benchmark summary (scarce waves, same run)")
        terminalreporter.write_line(cost_table(sorted(batch_rows, key=lambda r: r.n_orders)))
        terminalreporter.write_line("")
        terminalreporter.write_line(time_table(sorted(batch_rows, key=lambda r: r.n_orders)))
    if not (route_rows or grpc_rows or health):
        return
    tr = terminalreporter
    tr.section("dom_engine benchmark summary (per-order wall time, same run)")
    if route_rows:
        tr.write_line(f"optimize.route vs build_problem + CP-SAT, {route_rows[0].total} orders per size:")
        tr.write_line(route_table(route_rows))
        tr.write_line("")
    if grpc_rows or health:
        tr.write_line(grpc_table(grpc_rows, health))
