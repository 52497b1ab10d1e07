"""One OpenTelemetry span per RPC (when tracing is on: app/tracing.py), continuing the trace the
caller's metadata names (W3C `traceparent`), with the gRPC method and final status as attributes;
the engine's spans (store.read, solve, store.reserve, batch) become its children."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from dom_engine.app.tracing import tracer

from .handlers import final_code, with_behavior


class TracingInterceptor(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        current = tracer()
        if handler is None or handler.unary_unary is None or current is None:
            return handler
        from opentelemetry import propagate, trace

        service, _, method = details.method.lstrip("/").rpartition("/")
        carrier = {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}
        inner = handler.unary_unary

        def behavior(request: Any, context: grpc.ServicerContext) -> Any:
            parent = propagate.extract(carrier)
            attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
            with current.start_as_current_span(details.method.lstrip("/"), context=parent,
                                               kind=trace.SpanKind.SERVER, attributes=attributes) as span:
                try:
                    return inner(request, context)
                finally:
                    status = final_code(context)
                    span.set_attribute("rpc.grpc.status_code", status.value[0])
                    if status is not grpc.StatusCode.OK:
                        span.set_status(trace.Status(trace.StatusCode.ERROR, status.name))

        return with_behavior(handler, behavior)
