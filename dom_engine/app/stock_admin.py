"""Stock administration: snapshot loads, deltas from warehouse systems and the reservation lifecycle
(get / commit / release) — what InventoryService and `dom inventory` do, over any SnapshotStore.
Front ends call this use case; they never touch a store themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..domain.reservation import Reservation, StockDelta
from ..inventory.base import Progress, SnapshotStore


@dataclass(frozen=True)
class StockAdmin:
    """Stock changes and reservation lifecycle over one store."""

    store: SnapshotStore

    def load_snapshot(self, node_ids: Sequence[str] | np.ndarray, skus: Sequence[str] | np.ndarray,
                      on_hand: np.ndarray,
                      safety_stock: np.ndarray, progress: Progress | None = None) -> int:
        """Replace the stock with these rows (all or nothing); the new snapshot version."""
        return self.store.load_snapshot(node_ids, skus, on_hand, safety_stock, progress=progress)

    def apply_deltas(self, deltas: Sequence[StockDelta]) -> tuple[int, int]:
        """Apply the deltas not applied before (event ids); (deltas applied, version after)."""
        applied = self.store.apply_deltas(deltas)
        return applied, self.store.version

    def reservation(self, reservation_id: str) -> Reservation:
        return self.store.reservation(reservation_id)

    def commit(self, reservation_id: str) -> Reservation:
        return self.store.commit(reservation_id)

    def release(self, reservation_id: str) -> Reservation:
        """Give the units back; the reservation as it was before release."""
        before = self.store.reservation(reservation_id)
        self.store.release(reservation_id)
        return before
