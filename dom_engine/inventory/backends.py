"""Store backends and their config classes (Feast's online-store config pattern, with domain types
in the signatures). Each backend's config lives next to its code and knows how to open its store;
the `[store]` table of dom.toml names one with `backend = "..."`. A new backend is one module with
its config class and one line in BACKENDS."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Protocol

from ..domain import Network
from .base import SnapshotStore
from .memory_config import MemoryStoreConfig
from .redis_config import RedisStoreConfig

# Builds the in-process store from the configured stock ([data] inventory, or the demo's), with
# the keyword arguments a MemoryStore takes (hold_ttl_s).
LocalStock = Callable[..., SnapshotStore]


class StoreBackendConfig(Protocol):
    """What every backend's config class offers."""

    backend: ClassVar[str]            # its name in [store] backend
    shared: ClassVar[bool]            # several server processes may share it (--workers N)

    @property
    def hold_ttl_s(self) -> float:    # seconds an uncommitted reservation is held
        ...

    def open(self, network: Network, local_stock: LocalStock | None = None) -> SnapshotStore:
        """The store this config describes, over `network`; an in-process backend builds it with
        `local_stock`, a shared one connects to where the stock already is."""
        ...


BACKENDS: dict[str, type] = {
    MemoryStoreConfig.backend: MemoryStoreConfig,
    RedisStoreConfig.backend: RedisStoreConfig,
}
