"""What `dom serve` and `dom validate-config` say about the stock store, and the check that a
shared store can serve: reachable, and holding stock unless allowed empty."""

from __future__ import annotations

from collections.abc import Sized

from ..domain import DomainError
from ..domain.reservation import StoreUnavailable
from ..inventory.base import SnapshotStore
from .config import EngineConfig


def stock_source(config: EngineConfig) -> str:
    """Where the stock comes from: the shared store (its URL) or the file / demo it was loaded from."""
    if config.store.shared:
        return f"{config.store.backend} store {getattr(config.store, 'url', '')}".rstrip()
    return str(config.inventory or "demo stock")


def check_shared_store(config: EngineConfig, store: SnapshotStore, allow_empty: bool) -> None:
    """Refuse to serve from a shared store nothing answers at, or that holds no stock (a server
    would answer every order with unknown SKUs) unless `allow_empty`."""
    try:
        skus = store.known_skus()
    except StoreUnavailable as exc:
        raise DomainError("store.url", f"cannot serve: {exc}") from None
    if not skus and not allow_empty:
        raise DomainError("store", f"the {stock_source(config)} holds no stock: load a snapshot with "
                                   "`dom inventory load FILE` (same config), or pass --allow-empty-store")


def inventory_summary(config: EngineConfig, store: SnapshotStore) -> str:
    """The store's SKU count and snapshot version, and where the stock comes from (a shared store
    is asked: unreachable is said, not raised)."""
    where = stock_source(config)
    try:
        skus, version = store.known_skus(), store.version
    except StoreUnavailable as exc:
        return f"unreachable: {exc}  ({where})"
    count = len(skus) if isinstance(skus, Sized) else "?"
    empty = " (empty: load stock with `dom inventory load`)" if count == 0 and config.store.shared else ""
    return f"{count} SKUs, snapshot v{version}  from {where}{empty}"
