"""Prometheus metrics of the gRPC server, served on their own HTTP port ([server.metrics] address;
scrape http://HOST:PORT/metrics). One interceptor, outermost, sees every call as the client does:

    dom_grpc_requests_total{method, code}        calls by method and final status code
    dom_grpc_request_seconds{method}             latency histogram per method
    dom_plans_total{method, status, solver}      plans answered, by status and the solver path
                                                 (lagrangian-bb, cp-sat, presolve, ...)
    dom_plan_gap                                 proven relative gap of FEASIBLE plans
    dom_reservations_held_total                  RouteOrder / RouteBatch answers holding stock
    dom_reservation_conflicts_total              calls answered ABORTED (stock moved; retry)
    dom_reservations_committed_total             CommitReservation / ReleaseReservation answered OK,
    dom_reservations_released_total                and holds given back on expiry (by the one
    dom_reservations_expired_total                 process that gives them back)
    dom_batch_orders                             orders per RouteBatch (histogram)
    dom_store_calls_total{op, outcome}           calls to a shared (Redis) store: ok / unreachable
    dom_store_call_seconds{op}                   their latency (a call's round trips together)
    dom_stock_reads_total{source}                stock reads answered from the cache or the store
                                                 (hit ratio: cache / all)
    dom_stock_read_staleness_seconds             age of the data cached reads answered with

Health and reflection calls are counted like any other. With `--workers N` the workers write
their values to prometheus-client's multiprocess files and the parent process serves them merged
on the one address (counters and histograms summed over the workers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from dom_engine.domain import ConfigError

from .handlers import final_code, with_behavior

log = logging.getLogger("dom_engine.service")

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)
BATCH_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000)
GAP_BUCKETS = (1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.5)
STALENESS_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 30.0)
# InventoryService calls that change a reservation -> the counter they count in
LIFECYCLE = {"CommitReservation": "committed", "ReleaseReservation": "released"}
# Plan.status values of dom.v1 (routing.proto)
PLAN_STATUS = {0: "UNSPECIFIED", 1: "OPTIMAL", 2: "FEASIBLE", 3: "INFEASIBLE", 4: "NO_PLAN_FOUND"}


class ServerMetrics:
    """The server's metrics in their own registry (tests and embedders may run several servers)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter("dom_grpc_requests", "gRPC calls by method and status code",
                                ["method", "code"], registry=r)
        self.latency = Histogram("dom_grpc_request_seconds", "gRPC call latency, seconds", ["method"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.plans = Counter("dom_plans", "plans answered, by status and solver path",
                             ["method", "status", "solver"], registry=r)
        self.gap = Histogram("dom_plan_gap", "proven relative gap of FEASIBLE plans", buckets=GAP_BUCKETS,
                             registry=r)
        self.held = Counter("dom_reservations_held", "answers that hold stock (RouteOrder / RouteBatch)",
                            registry=r)
        self.conflicts = Counter("dom_reservation_conflicts", "calls answered ABORTED: stock moved",
                                 registry=r)
        self.committed = Counter("dom_reservations_committed", "reservations committed", registry=r)
        self.released = Counter("dom_reservations_released", "reservations released", registry=r)
        self.expired = Counter("dom_reservations_expired", "holds given back on expiry", registry=r)
        self.store_calls = Counter("dom_store_calls", "calls to the shared store, by outcome",
                                   ["op", "outcome"], registry=r)
        self.store_seconds = Histogram("dom_store_call_seconds", "shared store call latency, seconds",
                                       ["op"], buckets=LATENCY_BUCKETS, registry=r)
        self.stock_reads = Counter("dom_stock_reads", "stock reads by source (cache / store)", ["source"],
                                   registry=r)
        self.staleness = Histogram("dom_stock_read_staleness_seconds", "age of cached stock reads, seconds",
                                   buckets=STALENESS_BUCKETS, registry=r)
        self.batch_orders = Histogram("dom_batch_orders", "orders per RouteBatch", buckets=BATCH_BUCKETS,
                                      registry=r)

    def serve_http(self, address: str) -> int:
        """Serve /metrics on `address` (HOST:PORT; port 0 picks one). Returns the port."""
        return serve_registry(self.registry, address)

    # StoreObserver (domain/stock.py): the store tells these
    def call(self, op: str, seconds: float, reached: bool) -> None:
        self.store_calls.labels(op, "ok" if reached else "unreachable").inc()
        self.store_seconds.labels(op).observe(seconds)

    def read(self, cached: bool, staleness_s: float) -> None:
        self.stock_reads.labels("cache" if cached else "store").inc()
        if cached:
            self.staleness.observe(staleness_s)

    def observe(self, method: str, code: grpc.StatusCode, seconds: float, response: Any) -> None:
        self.requests.labels(method, code.name).inc()
        self.latency.labels(method).observe(seconds)
        if code is grpc.StatusCode.ABORTED:
            self.conflicts.inc()
        elif code is grpc.StatusCode.OK and method in LIFECYCLE:
            getattr(self, LIFECYCLE[method]).inc()
        if response is None:
            return
        plans = [response.plan] if method == "RouteOrder" or method == "RejectShipment" else \
            list(response.plans) if method == "RouteBatch" else []
        if method == "RouteBatch":
            self.batch_orders.observe(len(plans))
        for plan in plans:
            status = PLAN_STATUS.get(plan.status, str(plan.status))
            self.plans.labels(method, status, plan.solver or "-").inc()
            if status == "FEASIBLE":
                self.gap.observe(plan.gap)
        if any(p.reservation_id for p in plans):
            self.held.inc()


def serve_registry(registry: CollectorRegistry, address: str) -> int:
    """Serve `registry` on http://`address`/metrics (HOST:PORT; port 0 picks one). Returns the port."""
    host, _, port = address.rpartition(":")
    try:
        server, _ = start_http_server(int(port), addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError("server.metrics.address", f"cannot listen on {address!r}: {exc}") from None
    return int(server.server_port)


class MetricsInterceptor(grpc.ServerInterceptor):
    """Times every unary call and records its final status code (errors mapped by the inner
    interceptors included) and what its answer says."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method.rpartition("/")[2]
        inner, metrics = handler.unary_unary, self.metrics

        def behavior(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            response = None
            try:
                response = inner(request, context)
                return response
            finally:
                code = final_code(context)
                try:
                    metrics.observe(method, code, time.perf_counter() - started, response)
                except Exception:  # noqa: BLE001 - metrics never fail a call
                    log.exception("metrics of %s not recorded", method)

        return with_behavior(handler, behavior)

