"""What a reservation is, independent of any store: allocations held for an order, stock deltas from
warehouse systems, and the two ways a store call can fail that callers handle (conflict, outage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Allocation", "Reservation", "ReservationConflict", "StockDelta", "StoreUnavailable"]


@dataclass(frozen=True, slots=True)
class Allocation:
    """Units to hold at one node for one SKU (a reservation is a list of these).

    `keep` is the stock buffer the plan was made with (the policy's `min_stock_buffer` for the
    node's kind): the store holds the units only if at least `keep` units of the SKU stay available
    (ATP) at the node afterwards, else ReservationConflict. It is a condition of the request, not
    part of what is held: stores report held allocations with keep 0, and equality ignores it."""

    node_id: str
    sku: str
    quantity: int
    keep: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units held for one order. `expires_at` is None once committed (or for stores without
    expiry); a hold that is neither committed nor released by then is given back automatically."""

    reservation_id: str
    order_id: str
    allocations: tuple[Allocation, ...]
    version: int
    expires_at: datetime | None = None
    committed: bool = False
    rejected_nodes: tuple[str, ...] = ()   # nodes that refused their shipment, in order


@dataclass(frozen=True, slots=True)
class StockDelta:
    """A change from a warehouse system: set on hand to `on_hand` (absolute) or add `adjust`.
    `event_id` makes redelivery harmless: a store applies each event id once."""

    event_id: str
    node_id: str
    sku: str
    on_hand: int | None = None
    adjust: int = 0
    safety_stock: int | None = None


class ReservationConflict(Exception):
    """Stock moved since the plan: some allocation no longer fits. Nothing was reserved."""


class StoreUnavailable(Exception):
    """The store's backend cannot be reached. Quotes may still be served from a cache; holds and
    changes fail with this (the service maps it to UNAVAILABLE)."""
