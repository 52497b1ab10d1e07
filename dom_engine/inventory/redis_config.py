"""[store] backend = "redis": stock and reservations shared by every server process."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

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

    def open(self, network: Network, local_stock: Callable[..., SnapshotStore] | None = None
             ) -> SnapshotStore:
        """The shared store; it opens its own client from the URL, with short timeouts so an
        outage surfaces fast. Local stock files play no part (`dom inventory load` fills Redis)."""
        from .redis_store import RedisStore  # lazy: redis-py is only needed for this backend

        url = self.url.replace("://", "+cluster://", 1) if self.cluster else self.url
        return RedisStore(network, url, namespace=self.namespace, cache_staleness_s=self.cache_staleness_s,
                          degraded_staleness_s=self.degraded_staleness_s, hold_ttl_s=self.hold_ttl_s,
                          coalesce_reserves=self.coalesce_reserves, attempt_lease_s=self.attempt_lease_s)
