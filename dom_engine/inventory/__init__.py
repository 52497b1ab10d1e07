"""Inventory stores behind the SnapshotStore protocol (base.py); MemoryStore is the embedded default."""

from .base import Allocation, Reservation, ReservationConflict, SnapshotStore, StockView
from .memory import MemoryStore

__all__ = ["Allocation", "MemoryStore", "Reservation", "ReservationConflict", "SnapshotStore", "StockView"]
