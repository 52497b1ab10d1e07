"""[store] backend = "redis": stock and reservations shared by every server process."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..domain import ConfigError, Network
from .base import SnapshotStore


@dataclass(frozen=True)
class RedisStoreConfig:
    """A standalone Redis or a Redis Cluster (stock is loaded into it by `dom inventory load`)."""

    backend: ClassVar[str] = "redis"
    shared: ClassVar[bool] = True

    url: str = ""                       # redis://HOST:PORT/DB, rediss:// for TLS, unix://
    cluster: bool = False               # a Redis Cluster (url names any node)
    namespace: str = "dom"              # key prefix
    cache_staleness_s: float = 1.0      # how old cached stock may be for quotes
    hold_ttl_s: float = 900.0           # seconds an uncommitted reservation is held
    degraded_staleness_s: float = 60.0  # how old cached stock may be while Redis is down
    coalesce_reserves: bool = True      # concurrent reserves of one process share a round trip
    attempt_lease_s: float = 5.0        # Cluster: how long one reserve attempt may hold units
    username: str = ""                  # ACL user (empty: the URL's, or the default user)
    password_env: str = ""              # environment variable holding the password (never the file)
    tls_ca_file: str = ""               # CA that signed Redis's certificate (rediss:// only)
    tls_cert_file: str = ""             # client certificate, when Redis asks for one (rediss:// only)
    tls_key_file: str = ""              # its key

    def __post_init__(self) -> None:
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("store.url", f"must be a redis:// or rediss:// URL, got {self.url!r}")
        for key in ("cache_staleness_s", "hold_ttl_s", "degraded_staleness_s", "attempt_lease_s"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"store.{key}", f"must be > 0, got {value!r}")
        if not self.namespace:
            raise ConfigError("store.namespace", "must not be empty")
        if self.degraded_staleness_s < self.cache_staleness_s:
            raise ConfigError("store.degraded_staleness_s", "must be >= cache_staleness_s")
        self._check_tls_files()

    def _check_tls_files(self) -> None:
        tls_keys = ("tls_ca_file", "tls_cert_file", "tls_key_file")
        for key in tls_keys:
            path = getattr(self, key)
            if path and not self.url.startswith("rediss://"):
                raise ConfigError(f"store.{key}", "needs a rediss:// URL (TLS) in store.url")
            if path and not os.path.isfile(path):
                raise ConfigError(f"store.{key}", f"no such file: {path}")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("store.tls_key_file", "give tls_cert_file and tls_key_file together")

    def connection_options(self) -> dict[str, Any]:
        """redis-py options for the ACL user, its password and the TLS files."""
        options: dict[str, Any] = {}
        if self.username:
            options["username"] = self.username
        if self.password_env:
            password = os.environ.get(self.password_env)
            if password is None:
                raise ConfigError("store.password_env",
                                  f"environment variable {self.password_env} is not set")
            options["password"] = password
        if self.tls_ca_file:
            options["ssl_ca_certs"] = self.tls_ca_file
        if self.tls_cert_file:
            options.update(ssl_certfile=self.tls_cert_file, ssl_keyfile=self.tls_key_file)
        return options

    def client(self):
        """A client for this Redis (standalone or Cluster) with the ACL and TLS options."""
        from .redis_connection import connect

        url = self.url.replace("://", "+cluster://", 1) if self.cluster else self.url
        return connect(url, **self.connection_options())

    def open(self, network: Network, local_stock: Callable[..., SnapshotStore] | None = None
             ) -> SnapshotStore:
        """The shared store; it opens its own client from the URL, with short timeouts so an
        outage surfaces fast. Local stock files play no part (`dom inventory load` fills Redis)."""
        from .redis_store import RedisStore  # lazy: redis-py is only needed for this backend

        return RedisStore(network, self.client(), namespace=self.namespace,
                          cache_staleness_s=self.cache_staleness_s,
                          degraded_staleness_s=self.degraded_staleness_s, hold_ttl_s=self.hold_ttl_s,
                          coalesce_reserves=self.coalesce_reserves, attempt_lease_s=self.attempt_lease_s)
