"""[store] backend = "memory": the embedded default, stock in this process."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ..domain import ConfigError, Network
from .base import SnapshotStore


@dataclass(frozen=True)
class MemoryStoreConfig:
    """Stock and reservations in this process, loaded from [data] inventory (or the demo's stock)
    at start-up. One process only: stock in memory would oversell across processes."""

    backend: ClassVar[str] = "memory"
    shared: ClassVar[bool] = False

    hold_ttl_s: float = 900.0        # seconds an uncommitted reservation is held

    def __post_init__(self) -> None:
        if not (math.isfinite(self.hold_ttl_s) and self.hold_ttl_s > 0):
            raise ConfigError("store.hold_ttl_s", f"must be > 0, got {self.hold_ttl_s!r}")

    def open(self, network: Network, local_stock: Callable[..., SnapshotStore] | None = None
             ) -> SnapshotStore:
        """The configured stock as a MemoryStore (`local_stock` reads the file or draws the demo)."""
        if local_stock is None:
            raise ConfigError("store.backend", "the memory store is loaded from [data] inventory at start-up")
        return local_stock(hold_ttl_s=self.hold_ttl_s)
