"""The inventory store protocol. Routing reads a StockView: available-to-promise (ATP) of a few
SKUs over every node of the network, as one numpy array, tagged with the snapshot version.

ATP = on hand - reserved - safety stock, clipped at 0. Node order is the Network's node order, so
`atp[i, j]` is the ATP of `skus[j]` at `network.nodes[i]`.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..domain.errors import NotFoundError, ValidationError
from ..domain.opportunity import OpportunityPrices
from ..domain.reservation import Allocation, Reservation, ReservationConflict, StockDelta, StoreUnavailable
from ..domain.stock import StockView

__all__ = ["Allocation", "Progress", "Reservation", "ReservationConflict", "SnapshotStore", "StockDelta",
           "StockView", "StoreUnavailable"]


def check_keep(keep: object, where: str) -> int:
    """An allocation's `keep` as an int >= 0 (ValidationError naming `where` otherwise)."""
    if isinstance(keep, bool) or not isinstance(keep, int | np.integer) or keep < 0:
        raise ValidationError(where, f"must be an integer >= 0, got {keep!r}")
    return int(keep)


# What one order of a reserve_many gets back instead of its Reservation (the others go on).
ORDER_ERRORS = (ReservationConflict, NotFoundError, ValidationError)


def reserve_each(reserve: Callable[..., Reservation], orders: Sequence[tuple[str, Sequence[Allocation]]],
                 ttl_s: float | None) -> list[Reservation | Exception]:
    """reserve_many as one `reserve(order_id, allocations, ttl_s)` per order: its Reservation or
    its ORDER_ERRORS exception; anything else (StoreUnavailable) ends the call."""
    results: list[Reservation | Exception] = []
    for order_id, allocations in orders:
        try:
            results.append(reserve(order_id, allocations, ttl_s))
        except ORDER_ERRORS as exc:
            results.append(exc)
    return results


# Called with (rows done, rows total) while a bulk load runs.
Progress = Callable[[int, int], None]


@runtime_checkable
class SnapshotStore(Protocol):
    """What routing needs from an inventory store. Implementations: MemoryStore (embedded
    default) and RedisStore (shared by several server processes)."""

    @property
    def version(self) -> int: ...

    def known_skus(self) -> Container[str]: ...

    def read(self, skus: Sequence[str]) -> StockView:
        """ATP of `skus` at every node from one snapshot version (never a mix of two)."""
        ...

    def reserve(self, order_id: str, allocations: Sequence[Allocation],
                ttl_s: float | None = None) -> Reservation:
        """All or nothing: hold every allocation (and one shipment of daily capacity per node) or
        raise ReservationConflict; an allocation fits when the ATP left after it is at least its
        `keep` (the plan's stock buffer), checked atomically with the hold. Idempotent per
        order_id: reserving the same order again returns the existing reservation. The hold
        expires after `ttl_s` (store default when None)."""
        ...

    def reserve_many(self, orders: Sequence[tuple[str, Sequence[Allocation]]],
                     ttl_s: float | None = None) -> list[Reservation | Exception]:
        """Reserve several orders (order_id, allocations), each all or nothing and idempotent as in
        `reserve`; returns per order, in order, its Reservation or the exception `reserve` would
        raise (ReservationConflict, NotFoundError, ValidationError). StoreUnavailable is raised,
        not returned. Batch allocation reserves a whole batch with one call."""
        ...

    def release(self, reservation_id: str, node_id: str | None = None) -> Reservation | None:
        """Give held units back: all of them, or only those at `node_id` (a node rejected its
        shipment). Returns what is still held, None when nothing is. NotFoundError if unknown."""
        ...

    def reject(self, reservation_id: str, node_id: str) -> Reservation:
        """A node refused its shipment: give back what the reservation holds there and record the
        node in `rejected_nodes`. The reservation stays live (even with nothing left) so the rest of
        the order can be re-routed into it with `extend`. NotFoundError if the reservation is
        unknown or holds nothing at the node; ValidationError if it is committed."""
        ...

    def extend(self, reservation_id: str, allocations: Sequence[Allocation], *,
               token: str | None = None) -> Reservation:
        """Hold more units under a live, uncommitted reservation (all or nothing, with a shipment of
        capacity for each node it did not use yet; ReservationConflict if they do not fit). The
        expiry stays as it was. With `token` (an idempotency key, bound to the allocations) a
        repeat with the same token and allocations adds nothing twice; without, every call adds."""
        ...

    def commit(self, reservation_id: str) -> Reservation:
        """The shipments were released to the nodes: the held units leave on-hand stock for good
        and the hold no longer expires. Idempotent."""
        ...

    def reservation(self, reservation_id: str) -> Reservation:
        """A live reservation by id (NotFoundError if unknown, released or expired)."""
        ...

    def reservation_for_order(self, order_id: str) -> Reservation | None:
        """The live reservation of an order, if any (so a retried request returns the same plan)."""
        ...

    def take_expired(self) -> list[Reservation]:
        """The holds given back on expiry (units and capacity) since the last call, each returned
        once even to several processes sharing the store. Expiry is lazy: call `sweep()` first for
        everything due now."""
        ...

    def sweep(self) -> int:
        """Give back every expired, uncommitted hold now. Returns how many."""
        ...

    def reservations_for_orders(self, order_ids: Sequence[str]) -> dict[str, Reservation]:
        """order_id -> live reservation for those of `order_ids` that hold one (a retried batch
        finds its holds with one call instead of one per order)."""
        ...

    def load_snapshot(self, node_ids: Sequence[str] | np.ndarray, skus: Sequence[str] | np.ndarray,
                      on_hand: np.ndarray,
                      safety: np.ndarray | None = None, progress: Progress | None = None) -> int:
        """Replace all stock with these rows (parallel arrays, one row per node x SKU); readers
        see the old snapshot or the new one, never a mix. Returns the new version."""
        ...

    def apply_deltas(self, deltas: Sequence[StockDelta]) -> int:
        """Apply warehouse changes in order; an event id already applied is skipped. Returns how
        many were applied."""
        ...

    def publish_prices(self, prices: OpportunityPrices) -> None:
        """Make `prices` the opportunity prices every process sharing this store routes on."""
        ...

    def current_prices(self) -> OpportunityPrices | None:
        """The last published opportunity prices (None: none yet). A shared store may answer the
        last ones it read while it is unreachable; callers judge prices by their age."""
        ...
