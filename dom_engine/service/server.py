"""Server bootstrap: RoutingService plus standard grpc.health.v1 and server reflection, behind the
error-mapping interceptor. `build_server` for embedding and tests, `serve` for `dom serve`."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from dom_engine._proto.dom.v1 import events_pb2_grpc as events_grpc_pb
from dom_engine._proto.dom.v1 import inventory_pb2_grpc as inventory_grpc_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.opportunity import refresh_every
from dom_engine.app.tracing import shutdown as flush_traces
from dom_engine.app.tracing import tracer
from dom_engine.domain import ConfigError
from dom_engine.domain.reservation import StoreUnavailable

from .decision_log import DECISION_LOG_SERVICE_NAME, DecisionLogServicer
from .errors import ErrorMappingInterceptor
from .inventory import INVENTORY_SERVICE_NAME, InventoryServicer
from .metrics import MetricsInterceptor, ServerMetrics
from .security import Security, credentials
from .servicer import SERVICE_NAME, RoutingServicer
from .tracing import TracingInterceptor

if TYPE_CHECKING:
    from dom_engine.app.engine import Engine

log = logging.getLogger("dom_engine.service")

MiB = 1024 * 1024
# [server] max_message_mb: the largest request or response, for every RPC. A single order within
# the request limits is well under gRPC's default 4 MiB, but a RouteBatch of 10,000 orders and its
# 10,000 plans are not; anything bigger than the limit is refused (RESOURCE_EXHAUSTED) unparsed.
DEFAULT_MAX_MESSAGE_MB = 64
SERVER_OPTIONS: tuple[tuple[str, Any], ...] = (
    # Off: with SO_REUSEPORT (gRPC's default) a second server on a busy port starts "fine" and the
    # kernel splits connections between them. Multi-process serving turns it back on explicitly.
    ("grpc.so_reuseport", 0),
    # Concurrent calls per HTTP/2 connection; more wait on the client side instead of piling up.
    ("grpc.max_concurrent_streams", 256),
)


def message_options(max_message_mb: int) -> tuple[tuple[str, Any], ...]:
    """Channel options for a `max_message_mb` MiB send and receive limit (servers and clients)."""
    return (("grpc.max_receive_message_length", max_message_mb * MiB),
            ("grpc.max_send_message_length", max_message_mb * MiB))


class _Built:
    """What serve() needs beyond build_server's (server, port): the health servicer."""

    def __init__(self, server: grpc.Server, port: int, health_servicer: health.HealthServicer) -> None:
        self.server, self.port, self.health = server, port, health_servicer


def _build(
    engine: Engine,
    address: str,
    max_workers: int,
    options: Sequence[tuple[str, Any]],
    maximum_concurrent_rpcs: int | None,
    max_message_mb: int,
    security: Security | None = None,
    metrics: ServerMetrics | None = None,
) -> _Built:
    if max_workers < 1:
        raise ConfigError("server.max_workers", f"must be >= 1, got {max_workers}")
    if max_message_mb < 1:
        raise ConfigError("server.max_message_mb", f"must be >= 1, got {max_message_mb}")
    if security is not None:
        security.check(address)
    merged = dict(SERVER_OPTIONS + message_options(max_message_mb))
    merged.update(options)
    # Metrics outermost (they see the status the client gets), then error mapping: it parses
    # requests and maps what the inner interceptors raise.
    # Tracing outermost of all: its span covers the whole call, the caller's trace continued.
    interceptors = [*([TracingInterceptor()] if tracer() is not None else []),
                    *([MetricsInterceptor(metrics)] if metrics else []), ErrorMappingInterceptor(),
                    *(security.interceptors() if security else [])]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="dom-grpc"),
        interceptors=interceptors,
        options=list(merged.items()),
        maximum_concurrent_rpcs=maximum_concurrent_rpcs,
    )
    if metrics is not None and hasattr(engine.store, "observer"):   # a shared store: its calls and cache
        engine.store.observer = metrics
    routing_grpc_pb.add_RoutingServiceServicer_to_server(RoutingServicer(engine), server)
    inventory_grpc_pb.add_InventoryServiceServicer_to_server(InventoryServicer(engine), server)
    events_grpc_pb.add_DecisionLogServicer_to_server(DecisionLogServicer(engine), server)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME, INVENTORY_SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    _enable_reflection((SERVICE_NAME, INVENTORY_SERVICE_NAME, DECISION_LOG_SERVICE_NAME, health.SERVICE_NAME,
                        reflection.SERVICE_NAME, REFLECTION_V1), server)
    try:
        if security is not None and security.tls is not None:
            port = server.add_secure_port(address, credentials(security.tls))
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as err:  # grpc raises when it cannot bind
        raise ConfigError("server.address", f"cannot listen on {address!r}: {err}") from None
    if port == 0:
        raise ConfigError("server.address", f"cannot listen on {address!r}")
    return _Built(server, port, health_servicer)


# grpcio-reflection serves only v1alpha; current clients (grpcurl, Postman) ask v1 first. The two
# protocols differ only in their package name (the messages are field for field the same), so the
# v1 service is the same servicer registered under the v1 name with the v1alpha messages.
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def _enable_reflection(service_names: tuple[str, ...], server: grpc.Server) -> None:
    servicer = reflection.ReflectionServicer(service_names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo, request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(REFLECTION_V1,
                                                                         {"ServerReflectionInfo": v1}),))


# How often serve() asks the store whether it can still answer (health follows the answer).
HEALTH_INTERVAL_S = 1.0


def watch_store(engine: Engine, health_servicer: health.HealthServicer, stop: threading.Event,
                interval_s: float = HEALTH_INTERVAL_S, expire_holds: bool = True,
                metrics: ServerMetrics | None = None) -> None:
    """Until `stop`: NOT_SERVING for the server and its services while the store cannot answer a
    read (a shared store that is unreachable beyond its degraded window: quotes from its cache
    still count as serving until then), SERVING again once it can. Changes are logged. With
    `expire_holds`, holds whose time is up are given back and logged ("expired" events)."""
    serving = True
    while not stop.wait(interval_s):
        try:
            engine.store.known_skus()
            ok = True
        except StoreUnavailable as exc:
            ok, why = False, str(exc)
        if ok and expire_holds:
            _expire_holds(engine, metrics)
        if ok == serving:
            continue
        serving = ok
        status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME, INVENTORY_SERVICE_NAME):
            health_servicer.set(name, status)
        if ok:
            log.warning("inventory store reachable again: health SERVING")
        else:
            log.error("inventory store unreachable beyond its degraded window: health NOT_SERVING (%s)", why)


def _expire_holds(engine: Engine, metrics: ServerMetrics | None) -> None:
    try:
        expired = engine.expire_holds()
        if metrics is not None:
            metrics.expired.inc(expired)
    except StoreUnavailable as exc:    # health follows the store; the next pass tries again
        log.warning("could not give back expired holds: %s", exc)
    except Exception:                  # never the end of the health watcher
        log.exception("could not give back expired holds")


def _schedule_prices(engine: Engine, stop: threading.Event, leader: bool) -> None:
    """[opportunity] refresh_every_s: one process (the one that expires holds) re-computes the
    opportunity prices on that schedule and publishes them through the store for all; without a
    schedule, once at start when a forecast file is configured (the stock was just loaded)."""
    every = engine.opportunity_config.refresh_every_s
    if not leader or not engine.uses_prices:
        return
    if every > 0:
        threading.Thread(target=refresh_every, name="dom-prices", daemon=True,
                         args=(engine.refresh_prices, every, stop, log.info)).start()
    elif engine.prices_wanted():   # the stock was just loaded: prices for it, once
        once = threading.Event()
        once.set()
        threading.Thread(target=refresh_every, name="dom-prices", daemon=True,
                         args=(engine.refresh_prices, 0.0, once, log.info)).start()


def build_server(
    engine: Engine,
    address: str = "127.0.0.1:0",
    max_workers: int = 8,
    *,
    options: Sequence[tuple[str, Any]] = (),
    maximum_concurrent_rpcs: int | None = None,
    max_message_mb: int = DEFAULT_MAX_MESSAGE_MB,
    security: Security | None = None,
    metrics: ServerMetrics | None = None,
) -> tuple[grpc.Server, int]:
    """A bound, not yet started gRPC server for `engine`, and the port it is bound to (port 0 in
    `address` picks a free one). Call `server.start()`; stop with `server.stop(grace)`.

    Serves dom.v1.RoutingService, grpc.health.v1.Health (SERVING for "" and the routing service)
    and server reflection. `options` override SERVER_OPTIONS; `maximum_concurrent_rpcs` makes the
    server answer RESOURCE_EXHAUSTED beyond that many calls in flight (None: queue without limit);
    `max_message_mb` bounds every request and response ([server] max_message_mb); `security`: TLS
    and caller tokens (security.py; None: plain text, no tokens); `metrics`: record every call
    there (metrics.py; serving them over HTTP is the caller's: metrics.serve_http).
    Raises ConfigError if the address cannot be bound (e.g. already in use).
    """
    built = _build(engine, address, max_workers, options, maximum_concurrent_rpcs, max_message_mb, security,
                   metrics)
    return built.server, built.port


def serve(
    engine: Engine,
    address: str = "127.0.0.1:50051",
    *,
    max_workers: int = 8,
    grace_s: float = 5.0,
    options: Sequence[tuple[str, Any]] = (),
    maximum_concurrent_rpcs: int | None = None,
    stop: threading.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
    max_message_mb: int = DEFAULT_MAX_MESSAGE_MB,
    security: Security | None = None,
    health_interval_s: float = HEALTH_INTERVAL_S,
    metrics_address: str | None = None,
    record_metrics: bool = False,
    expire_holds: bool = True,
) -> None:
    """Serve until SIGTERM or SIGINT (or until `stop` is set), then stop gracefully: health turns
    NOT_SERVING so load balancers drain, calls in flight get `grace_s` seconds to finish.

    Signal handlers are only installed when called from the main thread (and restored on return);
    from another thread, use `stop`. `on_ready(port)` runs once the server is listening. SIGHUP
    re-reads the tokens file (security.auth). Health follows the store (watch_store), checked
    every `health_interval_s`. With `metrics_address`, Prometheus metrics on that HOST:PORT;
    `record_metrics` records them without serving (a worker whose parent serves them merged).
    `expire_holds`: this process gives back expired holds and logs them (watch_store); with
    several worker processes one of them does.
    """
    security = security or Security()
    metrics = ServerMetrics() if metrics_address or record_metrics else None
    built = _build(engine, address, max_workers, options, maximum_concurrent_rpcs, max_message_mb, security,
                   metrics)
    if metrics is not None and metrics_address is not None:
        metrics_port = metrics.serve_http(metrics_address)
        log.info("metrics on http://%s:%d/metrics", metrics_address.rpartition(":")[0], metrics_port)
    stop = stop or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda s, f: stop.set())
        auth = security.auth
        if auth is not None:
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda s, f: auth.reload())
    try:
        # Batch allocation's modules and compiled kernels: loaded (or compiled, once per
        # installation) now, not inside the first call's time budget.
        engine.warm_up()
        built.server.start()
        watcher = threading.Thread(target=watch_store, name="dom-store-health", daemon=True,
                                   args=(engine, built.health, stop, health_interval_s, expire_holds,
                                         metrics))
        watcher.start()
        _schedule_prices(engine, stop, leader=expire_holds)
        host = address.rsplit(":", 1)[0]
        log.info("dom_engine gRPC server listening on %s:%d (%s)", host, built.port, security.describe())
        if on_ready is not None:
            on_ready(built.port)
        while not stop.wait(0.5):
            pass
        log.info("shutting down: draining calls for up to %.1f s", grace_s)
        built.health.enter_graceful_shutdown()
    finally:
        built.server.stop(grace_s).wait()
        if not engine.decisions.drain(grace_s):   # shadow routes and buffered events, then exit
            log.warning("decision log: some events could not be written before exit")
        flush_traces(grace_s)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        log.info("server stopped")
