"""Connecting to Redis (standalone or Cluster) and turning "cannot reach Redis" into
StoreUnavailable; the JSON records reservations are kept as."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from ..domain.stock import StoreObserver
from .base import StoreUnavailable

__all__ = ["DOWN", "connect", "decode_record", "observed", "text", "unavailable"]


DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ClusterDownError,
         redis.exceptions.MasterDownError, redis.exceptions.SlotNotCoveredError,
         redis.exceptions.TryAgainError, redis.exceptions.ClusterError, ConnectionError, TimeoutError)


@contextlib.contextmanager
def unavailable(what: str) -> Iterator[None]:
    """Turn "Redis cannot be reached" errors into StoreUnavailable naming the operation."""
    try:
        yield
    except redis.exceptions.AuthenticationError as exc:   # reachable, but refused: say which settings
        raise StoreUnavailable(f"inventory store (Redis) refused the login, could not {what}: {exc} "
                               "(check store.username / store.password_env, or the URL's user)") from exc
    except DOWN as exc:
        raise StoreUnavailable(f"inventory store (Redis) unreachable, could not {what}: "
                               f"{type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def observed(what: str, op: str, observer: StoreObserver | None) -> Iterator[None]:
    """`unavailable(what)`, timed and told to `observer` as the store call `op` (ok unless Redis
    could not be reached; a refused hold is an answer, not a failure)."""
    started = time.perf_counter()
    reached = True
    try:
        with unavailable(what):
            yield
    except StoreUnavailable:
        reached = False
        raise
    finally:
        if observer is not None:
            observer.call(op, time.perf_counter() - started, reached)


def connect(client_or_url: str | redis.Redis | RedisCluster, **options: Any) -> redis.Redis | RedisCluster:
    """A client from a URL (`redis://host:port/db`; `rediss://` for TLS; `redis+cluster://host:port`
    for a Cluster), with short timeouts and one quick retry so an outage surfaces fast; or the
    client given. `options` go to redis-py as they are (username, password, ssl_ca_certs, ...)."""
    if not isinstance(client_or_url, str):
        return client_or_url
    opts: dict[str, Any] = dict(socket_connect_timeout=1.0, socket_timeout=2.0,
                                retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1))
    opts.update(options)
    for scheme in ("redis+cluster://", "rediss+cluster://"):
        if client_or_url.startswith(scheme):
            return RedisCluster.from_url(client_or_url.replace("+cluster", "", 1), **opts)
    return redis.Redis.from_url(client_or_url, **opts)


def text(value) -> str:
    """A Redis reply as str (replies are bytes unless decoded)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_record(raw: bytes) -> dict:
    """A reservation record as stored (JSON), with empty lists where cjson wrote {} or nothing."""
    rec = json.loads(raw)
    for field in ("a", "r"):  # cjson encodes an empty table as {}; `r` is absent before any reject
        if not rec.get(field):
            rec[field] = []
    return rec
