"""[server]: where the gRPC server listens, its TLS files and its callers' tokens (the keys are
documented with the rest in app/config.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..domain import ConfigError
from ..io.tables import Table
from .tokens import Token, load_token_file, parse_tokens

# gRPC message lengths are int32 bytes: at most 2 GiB - 1.
MAX_MESSAGE_MB = 2047

PathOf = Callable[[Table, str], Path | None]     # a table's path key, resolved against the config


@dataclass(frozen=True)
class TlsFiles:
    """[server.tls]: the server's certificate chain and key; a client CA for mutual TLS."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


@dataclass(frozen=True)
class ServerConfig:
    """[server]: where and how the gRPC server listens, and who may call it."""

    address: str = "127.0.0.1:50051"
    max_workers: int = 8
    workers: int | None = None              # server processes; None ("auto"): see effective_workers
    max_message_mb: int = 64
    insecure: bool = False
    tls: TlsFiles | None = None
    tokens_file: Path | None = None
    tokens: tuple[Token, ...] = ()
    metrics_address: str | None = None      # [server.metrics] address: Prometheus /metrics (None: off)
    max_in_flight: int | None = None        # calls in flight beyond which new ones get RESOURCE_EXHAUSTED
    log_format: str = "text"                # "text" or "json" (JSON lines)
    log_calls: bool = False                 # one log line per routing call (request and order id, ...)


def parse_server(s: Table, path_of: PathOf) -> ServerConfig:
    tls, (tokens_file, tokens) = _tls(s.table("tls"), path_of), _auth(s.table("auth"), path_of)
    m = s.table("metrics")
    metrics_address = m.get("address", str, None)
    m.done()
    if metrics_address is not None:
        check_address(metrics_address, "server.metrics.address")
    server = ServerConfig(s.get("address", str, ServerConfig.address),
                          s.get("max_workers", int, ServerConfig.max_workers),
                          _workers(s.get("workers", (int, str), "auto")),
                          s.get("max_message_mb", int, ServerConfig.max_message_mb),
                          s.get("insecure", bool, False), tls, tokens_file, tokens, metrics_address,
                          s.get("max_in_flight", int, None), s.get("log_format", str, "text"),
                          s.get("log_calls", bool, False))
    s.done()
    check_address(server.address, "server.address")
    if server.log_format not in ("text", "json"):
        raise ConfigError("server.log_format", f'must be "text" or "json", got {server.log_format!r}')
    if server.max_workers < 1:
        raise ConfigError("server.max_workers", f"must be >= 1, got {server.max_workers}")
    if server.max_in_flight is not None and server.max_in_flight < 1:
        raise ConfigError("server.max_in_flight",
                          f"must be >= 1 (or left out: no limit), got {server.max_in_flight}")
    if not 1 <= server.max_message_mb <= MAX_MESSAGE_MB:
        raise ConfigError("server.max_message_mb",
                          f"must be within [1, {MAX_MESSAGE_MB}] (MiB), got {server.max_message_mb}")
    return server


# More processes than cores only adds contention; beyond this many the store, not Python, limits.
MAX_AUTO_WORKERS = 8


def _workers(value: int | str) -> int | None:
    if isinstance(value, str):      # TOML "auto", or any DOM_SERVER_WORKERS value
        if value.strip().lstrip("+-").isdigit():
            return _workers(int(value))
        if value.strip().lower() != "auto":
            raise ConfigError("server.workers", f'must be a whole number >= 1 or "auto", got {value!r}')
        return None
    if value < 1:
        raise ConfigError("server.workers", f"must be >= 1 (or \"auto\"), got {value}")
    return value


def effective_workers(configured: int | None, shared_store: bool, address: str) -> int:
    """Server processes `dom serve` runs. "auto" (None): one per core this process may use (at most
    MAX_AUTO_WORKERS) when the store is shared (Redis), since one Python process uses one core for
    routing (the GIL); one with the in-memory store (stock is per process) or on port 0 (processes
    share one fixed port)."""
    if configured is not None:
        return configured
    if not shared_store or address.rpartition(":")[2] == "0":
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_AUTO_WORKERS))


def _tls(t: Table, path_of: PathOf) -> TlsFiles | None:
    """[server.tls]: both cert_file and key_file, or neither; every file readable."""
    cert, key, ca = (path_of(t, name) for name in ("cert_file", "key_file", "client_ca_file"))
    t.done()
    if cert is None and key is None:
        if ca is not None:
            raise ConfigError(t.key("client_ca_file"), "mutual TLS needs cert_file and key_file too")
        return None
    for name, path in (("cert_file", cert), ("key_file", key), ("client_ca_file", ca)):
        if name != "client_ca_file" and path is None:
            raise ConfigError(t.key(name), "TLS needs both cert_file and key_file")
        if path is not None and not path.is_file():
            raise ConfigError(t.key(name), f"no such file: {path}")
    assert cert is not None and key is not None
    return TlsFiles(cert, key, ca)


def _auth(t: Table, path_of: PathOf) -> tuple[Path | None, tuple[Token, ...]]:
    """[server.auth]: a tokens file (checked now) or inline tokens, not both."""
    path = path_of(t, "tokens_file")
    inline = t.get("tokens", list, None)
    t.done()
    if path is not None and inline is not None:
        raise ConfigError(t.key("tokens"), "give tokens_file or inline tokens, not both")
    if path is not None:
        if not path.is_file():
            raise ConfigError(t.key("tokens_file"), f"no such file: {path}")
        load_token_file(path)
        return path, ()
    return None, (parse_tokens(inline, t.key("tokens")) if inline is not None else ())


def check_address(address: str, key: str) -> None:
    """Raise ConfigError naming `key` unless `address` is HOST:PORT."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(key, f"must be HOST:PORT (e.g. 127.0.0.1:50051), got {address!r}")
