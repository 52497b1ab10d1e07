"""What the benchmarks measure, shared by the pytest suites and `benchmarks.report`.

- `route_one`: the engine's entry point `optimize.route` on a pre-read stock view.
- `cpsat_one`: the plain OR-Tools baseline, `build_problem` + `solve_cpsat` (CP-SAT, 1 worker, a
  generous time limit so it proves optimality) over the same candidate options.
- `GrpcHarness`: a real loopback gRPC server over a demo Engine with a fixed clock.

Percentiles are computed here (pytest-benchmark has no p99) from per-order wall times
(`time.perf_counter`), with numpy's default linear interpolation. A ratio of percentiles is
baseline percentile / engine percentile, both measured in the same run.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dom_engine.domain import Limits, Plan, PlanStatus
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.cpsat import solve_cpsat
from dom_engine.optimize.problem import build_problem
from dom_engine.optimize.solution import Solution

from .data import TARGET_MAX_LINES, TARGET_P50_MS, TARGET_P99_MS, Demo, OrderSet, bench_engine

TIME_BUDGET_MS = Limits().time_budget_ms   # the engine's default budget, as a server would use it
CPSAT_TIME_LIMIT_S = 60.0                  # generous: the baseline must prove optimality
CPSAT_WORKERS = 1
REL_TOL, ABS_TOL = 1e-6, 1e-3
WARMUP_ORDERS = 5
GRPC_TIMEOUT_S = 10.0


# ----------------------------------------------------------------------------- per-order work
def route_one(d: Demo, orders: OrderSet, k: int) -> Plan:
    """The engine: `optimize.route` of order k on its pre-read stock view."""
    return solve_order(OrderProblem(orders.orders[k], orders.stocks[k], d.network, d.rate_card, d.policy,
                                    d.now), Deadline.after_ms(TIME_BUDGET_MS))


def cpsat_one(d: Demo, orders: OrderSet, k: int) -> Solution:
    """The plain OR-Tools baseline: build the problem of order k and solve it with CP-SAT."""
    p = build_problem(orders.orders[k], orders.stocks[k], d.network, d.rate_card, d.policy, d.now)
    return solve_cpsat(p, time_limit_s=CPSAT_TIME_LIMIT_S, workers=CPSAT_WORKERS)


def build_one(d: Demo, orders: OrderSet, k: int) -> object:
    """Only `build_problem` (shared by both paths): how much of either figure is the numpy model."""
    return build_problem(orders.orders[k], orders.stocks[k], d.network, d.rate_card, d.policy, d.now)


def time_each(fn: Callable[[int], object], n: int, warmup: int = WARMUP_ORDERS) -> tuple[list[float], list]:
    """Call fn(0..n-1) once each, timed one by one; a few untimed calls first warm caches up.
    Returns (seconds per call, results)."""
    for k in range(min(warmup, n)):
        fn(k)
    times, results = [], []
    for k in range(n):
        t0 = time.perf_counter()
        r = fn(k)
        times.append(time.perf_counter() - t0)
        results.append(r)
    return times, results


_MISSING = object()


def record_pair(pair: dict[str, tuple[list[float], dict]], key: str, times: list[float], info: dict,
                baseline: str, other: str, suffix: str = "") -> None:
    """Keep one side (`key`) of two measured in the same run; once both `baseline` and `other`
    have timings, add the p50 and p99 ratios other / baseline to both sides' extra_info."""
    pair[key] = (times, info)
    if {baseline, other} <= pair.keys() and all(pair[k][0] for k in (baseline, other)):
        base, then = pair[baseline][0], pair[other][0]
        ratios = {f"p50_ratio{suffix}": float(np.median(then) / np.median(base)),
                  f"p99_ratio{suffix}": float(np.percentile(then, 99) / np.percentile(base, 99))}
        for k in (baseline, other):
            pair[k][1].update(ratios)


def bench_each(benchmark, fn: Callable[[int], Any], n: int) -> tuple[list[float], list]:
    """Benchmark fn(0), fn(1), ..., fn(n-1): one pedantic round per call, each also timed with
    perf_counter for p50/p99. With --benchmark-disable only one round runs; the remaining calls
    then run untimed so correctness is still checked on every order."""
    for k in range(min(WARMUP_ORDERS, n)):
        fn(k)
    times: list[float] = []
    outputs: list = [_MISSING] * n
    ks = iter(range(n))

    def setup() -> tuple[tuple[int], dict]:
        return (next(ks),), {}

    def one(k: int) -> None:
        t0 = time.perf_counter()
        out = fn(k)
        times.append(time.perf_counter() - t0)
        outputs[k] = out

    benchmark.pedantic(one, setup=setup, rounds=n, iterations=1)
    for k in range(n):
        if outputs[k] is _MISSING:
            outputs[k] = fn(k)
    if len(times) < n:
        times = []  # not a timing run
    return times, outputs


# ----------------------------------------------------------------------------- statistics
def percentiles_ms(times_s: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    if not times_s:
        return math.nan, math.nan
    p50, p99 = np.percentile(np.asarray(times_s) * 1000.0, [50, 99])
    return float(p50), float(p99)


def objectives_match(plan: Plan, sol: Solution) -> bool:
    """Same objective within 1e-6 relative + 1e-3 absolute; or both proven infeasible."""
    engine_has, cp_has = plan.status.has_plan, bool(np.isfinite(sol.objective))
    if not engine_has or not cp_has:
        return plan.status == PlanStatus.INFEASIBLE and not cp_has and sol.proven_optimal
    return abs(plan.objective - sol.objective) <= REL_TOL * abs(sol.objective) + ABS_TOL


def mismatches(plans: Sequence[Plan], sols: Sequence[Solution]) -> list[str]:
    """One line per order whose engine objective differs from the proven CP-SAT optimum."""
    out = []
    for plan, sol in zip(plans, sols, strict=True):
        if not objectives_match(plan, sol):
            out.append(f"{plan.order_id}: engine {plan.status.name} {plan.objective!r} ({plan.solver}) "
                       f"vs CP-SAT {sol.objective!r} (proven={sol.proven_optimal})")
    return out


def solver_paths(plans: Sequence[Plan]) -> dict[str, int]:
    return dict(Counter(p.solver for p in plans).most_common())


@dataclass
class RouteRow:
    """Engine vs the plain OR-Tools model on one order size, as measured in one run."""

    n_lines: int
    engine_s: list[float]
    cpsat_s: list[float]
    matched: int
    total: int
    paths: dict[str, int]
    build_s: list[float] = field(default_factory=list)   # build_problem alone (report only)
    multi: list[bool] | None = None  # per order: searched sets of >= 2 shipments (report only)

    @property
    def engine(self) -> tuple[float, float]:
        return percentiles_ms(self.engine_s)

    @property
    def cpsat(self) -> tuple[float, float]:
        return percentiles_ms(self.cpsat_s)

    @property
    def ratios(self) -> tuple[float, float]:
        (e50, e99), (c50, c99) = self.engine, self.cpsat
        return c50 / e50, c99 / e99

    def target_met(self) -> str:
        e50, e99 = self.engine
        ok = e50 <= TARGET_P50_MS and e99 <= TARGET_P99_MS and self.matched == self.total
        if self.n_lines > TARGET_MAX_LINES:
            return f"n/a (target is ≤ {TARGET_MAX_LINES} lines; figures {'within' if ok else 'outside'} it)"
        return "yes" if ok else "**no**"

    def extra_info(self) -> dict:
        (e50, e99), (c50, c99), (r50, r99) = self.engine, self.cpsat, self.ratios
        return {"engine_p50_ms": e50, "engine_p99_ms": e99, "cpsat_p50_ms": c50, "cpsat_p99_ms": c99,
                "ratio_p50": r50, "ratio_p99": r99, "objectives_matched": self.matched,
                "orders": self.total, "solver_paths": self.paths}


@dataclass
class GrpcRow:
    """gRPC RouteOrder round trip vs in-process Engine.route of the same orders, one run."""

    n_lines: int
    inproc_s: list[float]
    grpc_s: list[float]
    identical: int
    total: int

    @property
    def ratios(self) -> tuple[float, float]:
        (i50, i99), (g50, g99) = percentiles_ms(self.inproc_s), percentiles_ms(self.grpc_s)
        return g50 / i50, g99 / i99

    def extra_info(self) -> dict:
        (i50, i99), (g50, g99), (r50, r99) = (percentiles_ms(self.inproc_s), percentiles_ms(self.grpc_s),
                                             self.ratios)
        return {"inprocess_p50_ms": i50, "inprocess_p99_ms": i99, "grpc_p50_ms": g50, "grpc_p99_ms": g99,
                "ratio_p50": r50, "ratio_p99": r99, "plans_identical": self.identical, "orders": self.total}


# ----------------------------------------------------------------------------- gRPC
@dataclass
class GrpcHarness:
    """A started loopback server over `engine`, a channel and the stubs the benchmarks call."""

    engine: object
    port: int
    route_stub: object
    health_stub: object

    def requests(self, orders: OrderSet) -> list:
        from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
        from dom_engine.service.converters import order_to_proto

        return [routing_pb.RouteOrderRequest(order=order_to_proto(o), request_id=o.order_id)
                for o in orders.orders]

    def route_order(self, request) -> object:
        return self.route_stub.RouteOrder(request, timeout=GRPC_TIMEOUT_S).plan

    def health_check(self) -> object:
        from grpc_health.v1 import health_pb2

        return self.health_stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=GRPC_TIMEOUT_S)


@contextmanager
def grpc_harness() -> Iterator[GrpcHarness]:
    """build_server(engine, "127.0.0.1:0") started, one insecure channel; stopped on exit."""
    import grpc
    from grpc_health.v1 import health_pb2_grpc

    from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
    from dom_engine.service.server import build_server

    engine = bench_engine()
    server, port = build_server(engine, "127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            yield GrpcHarness(engine, port, routing_grpc_pb.RoutingServiceStub(channel),
                              health_pb2_grpc.HealthStub(channel))
    finally:
        server.stop(0).wait()


def same_plan(plan: Plan, wire) -> bool:
    """The wire plan has the in-process plan's status, objective and shipping nodes."""
    from dom_engine.service.converters import plan_from_proto

    got = plan_from_proto(wire)
    return (got.status == plan.status
            and abs(got.objective - plan.objective) <= REL_TOL * abs(plan.objective) + ABS_TOL
            and sorted(s.node_id for s in got.shipments) == sorted(s.node_id for s in plan.shipments))


# ----------------------------------------------------------------------------- tables
def _ms(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def _paths(paths: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in paths.items()) or "—"


def route_table(rows: Sequence[RouteRow]) -> str:
    head = ("| n_lines | engine p50 | engine p99 | OR-Tools p50 | OR-Tools p99 | ratio p50 | ratio p99 "
            "| objectives matched | solver paths used | target met? |")
    out = [head, "|" + "---|" * 10]
    for r in rows:
        (e50, e99), (c50, c99), (r50, r99) = r.engine, r.cpsat, r.ratios
        out.append(f"| {r.n_lines} | {_ms(e50)} | {_ms(e99)} | {_ms(c50)} | {_ms(c99)} | {r50:.1f}× | "
                   f"{r99:.1f}× | {r.matched}/{r.total} | {_paths(r.paths)} | {r.target_met()} |")
    return "\n".join(out)


def grpc_table(rows: Sequence[GrpcRow], health_s: Sequence[float] = ()) -> str:
    head = ("| gRPC (loopback) | in-process Engine.route p50 | p99 | RouteOrder round trip p50 | p99 "
            "| ratio p50 | ratio p99 | plans identical |")
    out = [head, "|" + "---|" * 8]
    for r in rows:
        (i50, i99), (g50, g99), (r50, r99) = (percentiles_ms(r.inproc_s), percentiles_ms(r.grpc_s),
                                             r.ratios)
        out.append(f"| {r.n_lines} lines | {_ms(i50)} | {_ms(i99)} | {_ms(g50)} | {_ms(g99)} | {r50:.2f}× | "
                   f"{r99:.2f}× | {r.identical}/{r.total} |")
    if health_s:
        h50, h99 = percentiles_ms(health_s)
        out.append(f"| health Check (transport floor) | — | — | {_ms(h50)} | {_ms(h99)} | — | — | — |")
    return "\n".join(out)
