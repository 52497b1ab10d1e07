"""Key names of the Redis store (the layout is documented in redis_store.py)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ..domain import ConfigError


@dataclass(frozen=True)
class RedisKeys:
    """Builds every key name from the namespace and the shard count. A SKU's shard is
    crc32(sku) % shards; each shard's keys share the hash tag `{i<shard>}`, so one Lua script
    that touches one shard stays in one Redis Cluster slot."""

    namespace: str = "dom"
    shards: int = 16

    def __post_init__(self) -> None:
        if not self.namespace or any(c in self.namespace for c in "{}: "):
            raise ConfigError("namespace", f"must be non-empty without braces, colons or spaces, "
                                           f"got {self.namespace!r}")
        if not 1 <= self.shards <= 16384:
            raise ConfigError("shards", f"must be within [1, 16384], got {self.shards}")

    def shard_of(self, sku: str) -> int:
        return zlib.crc32(sku.encode()) % self.shards

    def tag(self, shard: int) -> str:
        return f"{self.namespace}:{{i{shard}}}"

    # ------------------------------------------------------------------ global ({meta} slot)
    @property
    def version(self) -> str:
        return f"{self.namespace}:{{meta}}:version"

    @property
    def sequence(self) -> str:
        return f"{self.namespace}:{{meta}}:seq"

    @property
    def layout(self) -> str:
        return f"{self.namespace}:{{meta}}:layout"

    # ------------------------------------------------------------------ per shard ({i<shard>} slot)
    def shard_version(self, shard: int) -> str:
        return f"{self.tag(shard)}:ver"

    def stock(self, shard: int, version: int | str, sku: str) -> str:
        return f"{self.tag(shard)}:v{version}:s:{sku}"

    def catalogue(self, shard: int, version: int | str) -> str:
        return f"{self.tag(shard)}:v{version}:catalogue"

    def reserved(self, shard: int) -> str:
        return f"{self.tag(shard)}:reserved"

    def holds(self, shard: int) -> str:
        return f"{self.tag(shard)}:holds"

    def expiry(self, shard: int) -> str:
        return f"{self.tag(shard)}:expiry"

    def expired(self, shard: int) -> str:
        """Holds the shard's sweeps gave back, not yet taken (a list; the Lua derives it from holds)."""
        return f"{self.tag(shard)}:expired"

    def expired_claim(self, reservation_id: str) -> str:
        """Set by the one process that reports a reservation's expiry (its shards are swept apart)."""
        return f"{self.namespace}:expired-claim:{reservation_id}"

    def events(self, shard: int) -> str:
        return f"{self.tag(shard)}:events"

    def hold_keys(self, shard: int) -> list[str]:
        """[reserved, holds, expiry] of a shard: what a sweep touches."""
        return [self.reserved(shard), self.holds(shard), self.expiry(shard)]

    # ------------------------------------------------------------------ opportunity prices ({prices} slot)
    @property
    def prices_pointer(self) -> str:
        """The id of the current publication."""
        return f"{self.namespace}:{{prices}}:current"

    def prices_blob(self, publication: str) -> str:
        return f"{self.namespace}:{{prices}}:v{publication}"

    # ------------------------------------------------------------------ capacity ({cap} slot)
    @property
    def cap_used(self) -> str:
        return f"{self.namespace}:{{cap}}:used"

    @property
    def cap_holds(self) -> str:
        return f"{self.namespace}:{{cap}}:holds"

    @property
    def cap_expiry(self) -> str:
        return f"{self.namespace}:{{cap}}:expiry"

    def cap_keys(self) -> list[str]:
        return [self.cap_used, self.cap_holds, self.cap_expiry]
