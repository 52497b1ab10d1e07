"""Wrapping a gRPC method handler, for the interceptors that run code around a unary call, and
reading the status the call ended with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


def with_behavior(handler: grpc.RpcMethodHandler, behavior: Callable[[Any, grpc.ServicerContext], Any]
                  ) -> grpc.RpcMethodHandler:
    """A unary handler like `handler` (same parsing and serializing) that runs `behavior`."""
    return grpc.unary_unary_rpc_method_handler(behavior, request_deserializer=handler.request_deserializer,
                                               response_serializer=handler.response_serializer)


def final_code(context: grpc.ServicerContext) -> grpc.StatusCode:
    """The status a call ends with (OK unless the handler set or aborted with another), for the
    interceptors that record it after the handler returns (metrics, tracing)."""
    try:
        code = context.code()
    except Exception:  # noqa: BLE001 - an older context without code(): count it as OK
        return grpc.StatusCode.OK
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.OK if code in (None, 0) else grpc.StatusCode.UNKNOWN
