"""Inventory stores behind the SnapshotStore protocol (base.py): MemoryStore is the embedded default;
RedisStore (redis_store.py, imported on demand) is shared by several server processes."""

from .base import (
    Allocation,
    Reservation,
    ReservationConflict,
    SnapshotStore,
    StockDelta,
    StockView,
    StoreUnavailable,
)
from .memory import MemoryStore

__all__ = ["Allocation", "MemoryStore", "Reservation", "ReservationConflict", "SnapshotStore", "StockDelta",
           "StockView", "StoreUnavailable"]
