"""OpenTelemetry tracing (optional: `pip install "dom-engine[tracing]"`). Off unless [tracing]
enabled is set: then `span(name)` opens a child span of the call's span (the server interceptor,
service/tracing.py, opens one per RPC from the caller's W3C traceparent) and spans go to an OTLP
gRPC collector. Off, or without the packages, `span` is a no-op costing one function call."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..domain import ConfigError
from ..io.tables import Table

log = logging.getLogger("dom_engine.tracing")

_tracer: Any = None          # an opentelemetry Tracer once configured; None: tracing off
_provider: Any = None


@dataclass(frozen=True)
class TracingConfig:
    """[tracing]: where spans go."""

    enabled: bool = False
    endpoint: str = "http://127.0.0.1:4317"     # OTLP gRPC collector (OTEL_EXPORTER_OTLP_ENDPOINT)
    service_name: str = "dom-engine"
    sample_ratio: float = 1.0                   # share of traces started here that are kept


def parse_tracing(t: Table) -> TracingConfig:
    d = TracingConfig()
    config = TracingConfig(t.get("enabled", bool, d.enabled), t.get("endpoint", str, d.endpoint),
                           t.get("service_name", str, d.service_name),
                           t.get("sample_ratio", float, d.sample_ratio))
    t.done()
    if not (math.isfinite(config.sample_ratio) and 0 <= config.sample_ratio <= 1):
        raise ConfigError("tracing.sample_ratio", f"must be within [0, 1], got {config.sample_ratio!r}")
    if not config.endpoint.startswith(("http://", "https://")):
        raise ConfigError("tracing.endpoint", f"must be an http:// or https:// URL, got {config.endpoint!r}")
    return config


def configure_tracing(config: TracingConfig) -> None:
    """Start exporting spans per `config` (no-op when disabled). ConfigError naming
    tracing.enabled when the OpenTelemetry packages are missing."""
    if not config.enabled:
        return
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError:
        raise ConfigError("tracing.enabled",
                          'needs the OpenTelemetry packages: pip install "dom-engine[tracing]"') from None
    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}),
                              sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)))
    insecure = config.endpoint.startswith("http://")
    exporter = OTLPSpanExporter(endpoint=config.endpoint, insecure=insecure)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    use_provider(provider)
    log.info("tracing: spans to %s as %s", config.endpoint, config.service_name)


def use_provider(provider: Any) -> None:
    """Trace with `provider` (an opentelemetry SDK TracerProvider; tests pass one with an
    in-memory exporter); None turns tracing off."""
    global _tracer, _provider
    _provider = provider
    _tracer = None if provider is None else provider.get_tracer("dom_engine")


def tracer() -> Any:
    """The configured Tracer, or None when tracing is off."""
    return _tracer


def shutdown(timeout_s: float = 5.0) -> None:
    """Export what is buffered (a server stopping)."""
    if _provider is not None:
        _provider.force_flush(int(timeout_s * 1000))


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A child span of the current one while the block runs (nothing when tracing is off)."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current
