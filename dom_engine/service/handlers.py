"""Wrapping a gRPC method handler, for the interceptors that run code around a unary call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


def with_behavior(handler: grpc.RpcMethodHandler, behavior: Callable[[Any, grpc.ServicerContext], Any]
                  ) -> grpc.RpcMethodHandler:
    """A unary handler like `handler` (same parsing and serializing) that runs `behavior`."""
    return grpc.unary_unary_rpc_method_handler(behavior, request_deserializer=handler.request_deserializer,
                                               response_serializer=handler.response_serializer)
