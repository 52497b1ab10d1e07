"""The inventory store protocol. Routing reads a StockView: available-to-promise (ATP) of a few
SKUs over every node of the network, as one numpy array, tagged with the snapshot version.

ATP = on hand - reserved - safety stock, clipped at 0. Node order is the Network's node order, so
`atp[i, j]` is the ATP of `skus[j]` at `network.nodes[i]`.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..domain.stock import StockView

__all__ = ["Allocation", "Reservation", "ReservationConflict", "SnapshotStore", "StockView"]


@dataclass(frozen=True, slots=True)
class Allocation:
    """Units to hold at one node for one SKU (a reservation is a list of these)."""

    node_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: str
    order_id: str
    allocations: tuple[Allocation, ...]
    version: int


class ReservationConflict(Exception):
    """Stock moved since the plan: some allocation no longer fits. Nothing was reserved."""


@runtime_checkable
class SnapshotStore(Protocol):
    """What routing needs from an inventory store. Implementations: MemoryStore (embedded default);
    a Redis store drops in behind the same methods."""

    @property
    def version(self) -> int: ...

    def known_skus(self) -> Container[str]: ...

    def read(self, skus: Sequence[str]) -> StockView: ...

    def reserve(self, order_id: str, allocations: Sequence[Allocation]) -> Reservation:
        """All or nothing: hold every allocation or raise ReservationConflict. Idempotent per
        order_id: reserving the same order again returns the existing reservation."""
        ...

    def release(self, reservation_id: str) -> None: ...

    def reservation_for_order(self, order_id: str) -> Reservation | None:
        """The live reservation of an order, if any (so a retried request returns the same plan)."""
        ...
