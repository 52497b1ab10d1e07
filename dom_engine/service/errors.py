"""The one place where exceptions become gRPC statuses.

    ValidationError, NotFoundError (and any other DomainError) -> INVALID_ARGUMENT
    NotFoundError of a reservation_id looked up by id          -> NOT_FOUND
    ConfigError, PreconditionError                             -> FAILED_PRECONDITION
    ReservationConflict                                        -> ABORTED (the client may retry)
    StoreUnavailable                                           -> UNAVAILABLE (retry later)
    anything else                                              -> INTERNAL, traceback logged

Domain errors carry the field path; the status details read "<field>: <reason>" and the trailing
metadata key `dom-error-field` carries the field alone, so clients can point at the input without
parsing text. An unexpected exception never reaches the client as text: it gets an error id that
matches the logged traceback.

A request body that does not parse as the request message is INVALID_ARGUMENT naming the message
type (the interceptor parses it, not grpcio: see ErrorMappingInterceptor). Details, field and log
lines never echo a huge input whole (`dom_engine.domain.errors.shorten`), and the details are
bounded in bytes so they always fit the client's metadata limit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import grpc

from dom_engine.domain import ConfigError, DomainError, NotFoundError, PreconditionError
from dom_engine.domain.errors import shorten
from dom_engine.domain.reservation import ReservationConflict, StoreUnavailable

log = logging.getLogger("dom_engine.service")

ERROR_FIELD_KEY = "dom-error-field"
# Status details travel in the grpc-message trailer, percent-encoded (a non-ASCII byte takes 3), and
# a client refuses trailers over its metadata limit (8 KiB by default) with RESOURCE_EXHAUSTED, so
# the details and the escaped field are bounded in bytes, whatever characters they hold.
MAX_DETAILS_BYTES = 1536
MAX_FIELD_BYTES = 512


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str, str | None]:
    """(status code, details, field path or None) for an exception raised while serving a call."""
    if isinstance(exc, (ConfigError, PreconditionError)):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc), exc.field
    if isinstance(exc, NotFoundError) and exc.field == "reservation_id":
        return grpc.StatusCode.NOT_FOUND, str(exc), exc.field
    if isinstance(exc, DomainError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc), exc.field
    if isinstance(exc, ReservationConflict):
        return grpc.StatusCode.ABORTED, f"reservation conflict, stock moved; retry: {exc}", None
    if isinstance(exc, StoreUnavailable):
        return grpc.StatusCode.UNAVAILABLE, f"inventory store unavailable, retry later: {exc}", None
    return grpc.StatusCode.INTERNAL, "internal error", None


class ErrorMappingInterceptor(grpc.ServerInterceptor):
    """Parses every request body itself and wraps every unary-unary handler so no exception
    escapes unmapped (streaming handlers, such as reflection and health Watch, keep their own
    error handling but get the same parsing).

    Why parse here: when grpcio's own deserializer fails it answers INTERNAL, never finishes the
    stream (the server holds it and its memory), and once `grpc.max_concurrent_streams` such calls
    pile up on one HTTP/2 connection, that connection refuses every new stream: the client's whole
    process is cut off, since its channels share the connection. Registering a raw-bytes
    deserializer (None) and parsing inside the handler turns a bad body into an ordinary
    INVALID_ARGUMENT that ends the call and frees it.
    """

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        parse = _parser(handler.request_deserializer, method)
        serialize = handler.response_serializer
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            def behavior(raw: bytes, context: grpc.ServicerContext) -> Any:
                request = parse(raw, context)
                try:
                    return inner(request, context)
                except Exception as exc:
                    if _already_aborted(context):
                        raise  # the handler chose its own status with context.abort()
                    abort(context, exc, method)

            return grpc.unary_unary_rpc_method_handler(behavior, response_serializer=serialize)
        if handler.unary_stream is not None:
            unary_stream = handler.unary_stream
            return grpc.unary_stream_rpc_method_handler(
                lambda raw, context: unary_stream(parse(raw, context), context),
                response_serializer=serialize)
        # Client-streaming handlers read a generator that parses each message as they ask for it;
        # a bad one aborts the call from inside their loop.
        if handler.stream_unary is not None:
            stream_unary = handler.stream_unary
            return grpc.stream_unary_rpc_method_handler(
                lambda raws, context: stream_unary((parse(raw, context) for raw in raws), context),
                response_serializer=serialize)
        stream_stream = handler.stream_stream
        return grpc.stream_stream_rpc_method_handler(
            lambda raws, context: stream_stream((parse(raw, context) for raw in raws), context),
            response_serializer=serialize)


def _parser(
    deserialize: Callable[[bytes], Any] | None, method: str
) -> Callable[[bytes, grpc.ServicerContext], Any]:
    """parse(raw, context): the request message, or the call aborted with INVALID_ARGUMENT naming
    the request message type when `raw` does not parse as it."""
    # Generated code registers `Message.FromString`, a classmethod: its __self__ names the type.
    message_type = getattr(getattr(getattr(deserialize, "__self__", None), "DESCRIPTOR", None),
                           "full_name", None) or f"the request message of {method}"

    def parse(raw: bytes, context: grpc.ServicerContext) -> Any:
        if deserialize is None:
            return raw
        try:
            return deserialize(raw)
        except Exception:  # DecodeError (which says no more than its type), or a custom one's error
            details = f"request body ({len(raw)} bytes) does not parse as {message_type}"
            log.info("%s -> INVALID_ARGUMENT: %s", method, details)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, details)
            raise  # not reached: abort raises

    return parse


def abort(context: grpc.ServicerContext, exc: Exception, method: str) -> None:
    """Log `exc` and end the call with its mapped status (context.abort raises)."""
    code, details, field = status_for(exc)
    details = _fit(shorten(details), MAX_DETAILS_BYTES)
    if code is grpc.StatusCode.INTERNAL:
        error_id = uuid.uuid4().hex[:12]
        log.exception("%s failed (error id %s)", method, error_id,
                      extra={"method": method, "code": code.name, "error_id": error_id})
        details = f"internal error (error id {error_id}; see server log)"
    else:
        log.info("%s -> %s: %s", method, code.name, details, extra={"method": method, "code": code.name})
    if field is not None:
        context.set_trailing_metadata(((ERROR_FIELD_KEY, _fit(_printable(shorten(field)), MAX_FIELD_BYTES)),))
    context.abort(code, details)


def _printable(text: str) -> str:
    """Metadata values must be printable ASCII: escape anything else rather than fail the call."""
    return "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)


def _fit(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` bytes of UTF-8 (then "... (N chars)" names its length)."""
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= max_bytes:
        return text
    head = encoded[: max_bytes - 24].decode("utf-8", "ignore")  # "ignore": a split last character
    return f"{head}... ({len(text)} chars)"


def _already_aborted(context: grpc.ServicerContext) -> bool:
    code = getattr(context, "code", None)
    try:
        return callable(code) and code() not in (None, grpc.StatusCode.OK)
    except Exception:  # a context without a readable code: treat as not aborted
        return False
