"""Transport security and caller authentication for the gRPC server.

- TLS from PEM files ([server.tls] cert_file, key_file); with client_ca_file, mutual TLS: every
  client must present a certificate signed by that CA, and its subject is logged with each call.
- Bearer tokens ([server.auth] tokens_file, or [[server.auth.tokens]] in the config): the caller
  sends `authorization: Bearer <token>` metadata; only SHA-256 hashes are stored (tokens are long
  random secrets, `dom token new` makes one), each with a name, the methods it may call and
  whether it may reserve stock (RouteOrder / RouteBatch with reserve = true). A missing or unknown
  token is UNAUTHENTICATED, a method or a reserve it is not allowed PERMISSION_DENIED. Hashes are
  compared in constant time against every entry. The tokens file is read again when it changes
  (checked at most once a second) or on reload() (SIGHUP in `dom serve`): tokens rotate without a
  restart; a file that no longer parses keeps the tokens in force and logs why.
- Health checks and server reflection stay open (load balancers and grpcurl need no token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from dom_engine.app.config import ServerConfig, TlsFiles
from dom_engine.app.tokens import TokenAuth
from dom_engine.domain import ConfigError

from .handlers import with_behavior

log = logging.getLogger("dom_engine.service")
access_log = logging.getLogger("dom_engine.access")

# Services any caller may use: health (load balancers) and reflection (grpcurl, tooling).
OPEN_SERVICES = frozenset({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                           "grpc.reflection.v1.ServerReflection"})
# Methods whose request has a `reserve` flag that holds stock when set.
RESERVING = frozenset({"RouteOrder", "RouteBatch"})


def credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    """Server credentials from [server.tls]: mutual TLS when client_ca_file is set."""
    cert, key = _read(tls.cert_file, "server.tls.cert_file"), _read(tls.key_file, "server.tls.key_file")
    ca = None if tls.client_ca_file is None else _read(tls.client_ca_file, "server.tls.client_ca_file")
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                       require_client_auth=ca is not None)


class AuthInterceptor(grpc.ServerInterceptor):
    """Refuses calls without a valid token for their method (before the request is parsed), and
    calls that would reserve without the right; logs who called (token name, client certificate)."""

    def __init__(self, auth: TokenAuth) -> None:
        self.auth = auth

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        service, _, method = details.method.lstrip("/").rpartition("/")
        if handler is None or service in OPEN_SERVICES:
            return handler
        secret = _bearer(details.invocation_metadata)
        token = self.auth.identify(secret) if secret else None
        if token is None:
            why = "missing bearer token (metadata 'authorization: Bearer <token>')" if not secret \
                else "unknown or revoked token"
            return _refuse(handler, grpc.StatusCode.UNAUTHENTICATED, why, details.method)
        if not token.may_call(method) or handler.unary_unary is None:
            return _refuse(handler, grpc.StatusCode.PERMISSION_DENIED,
                           f"token {token.name!r} may not call {method}", details.method)
        inner = handler.unary_unary
        check_reserve = method in RESERVING and not token.reserve

        def behavior(request: Any, context: grpc.ServicerContext) -> Any:
            access_log.info("%s by token %r%s", method, token.name, _peer_identity(context))
            if check_reserve and getattr(request, "reserve", False):
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"token {token.name!r} may not reserve stock (reserve: true)")
            return inner(request, context)

        return with_behavior(handler, behavior)


class PeerLogInterceptor(grpc.ServerInterceptor):
    """Without tokens but with mutual TLS: log each call's client certificate subject."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        service, _, method = details.method.lstrip("/").rpartition("/")
        if handler is None or service in OPEN_SERVICES or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        def behavior(request: Any, context: grpc.ServicerContext) -> Any:
            access_log.info("%s%s", method, _peer_identity(context))
            return inner(request, context)

        return with_behavior(handler, behavior)


@dataclass(frozen=True)
class Security:
    """How a server listens: TLS or not (`insecure` must say so, except on loopback), tokens or
    not."""

    tls: TlsFiles | None = None
    auth: TokenAuth | None = None
    insecure: bool = False

    @classmethod
    def from_config(cls, server: ServerConfig) -> Security:
        auth = None
        if server.tokens_file is not None or server.tokens:
            auth = TokenAuth(server.tokens, server.tokens_file)
        return cls(server.tls, auth, server.insecure)

    def interceptors(self) -> list[grpc.ServerInterceptor]:
        if self.auth is not None:
            return [AuthInterceptor(self.auth)]
        if self.tls is not None and self.tls.client_ca_file is not None:
            return [PeerLogInterceptor()]
        return []

    def check(self, address: str) -> None:
        """Plain text only where configured explicitly, or on a loopback address."""
        if self.tls is None and not self.insecure and not is_loopback(address):
            raise ConfigError("server.tls", f"{address} is not a loopback address: configure [server.tls] "
                                            "cert_file and key_file, or set [server] insecure = true to "
                                            "serve without TLS")

    def describe(self) -> str:
        if self.tls is None:
            transport = "INSECURE: no TLS"
        else:
            transport = "mutual TLS (client certificates required)" if self.tls.client_ca_file else "TLS"
        callers = self.auth.describe() if self.auth else "no authentication"
        return f"{transport}, {callers}"


def is_loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def _bearer(metadata: Sequence[tuple[str, Any]] | None) -> str:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, secret = value.partition(" ")
            if scheme.lower() == "bearer":
                return secret.strip()
    return ""


def _peer_identity(context: grpc.ServicerContext) -> str:
    """", client certificate CN=..." when the caller presented one (mutual TLS)."""
    auth: Mapping[str, Sequence[bytes]] = context.auth_context() or {}
    names = auth.get("x509_common_name") or auth.get("x509_subject_alternative_name") or ()
    return f", client certificate CN={names[0].decode(errors='replace')}" if names else ""


def _refuse(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, details: str, method: str
            ) -> grpc.RpcMethodHandler:
    """A handler of `handler`'s kind that ends the call with `code`, never parsing the request."""
    log.info("%s -> %s: %s", method, code.name, details)

    def deny(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, details)

    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(deny)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(deny)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(deny)
    return grpc.stream_stream_rpc_method_handler(deny)


def _read(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror or exc}") from None
