"""Reservations of the MemoryStore: hold, extend, reject, release, commit and expiry.

A mixin of MemoryStore (memory.py), which owns the matrices, the lock and the clock; every public
method takes the lock. Expired holds are given back lazily through a heap of expiry times, so the
common case costs a look at the heap's top.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np

from ..domain import NotFoundError, ValidationError
from .base import Allocation, Reservation, ReservationConflict, check_keep, reserve_each

# Expired holds kept for take_expired (the decision log's "expired" events) between two calls.
EXPIRED_KEPT = 10_000


@dataclass
class _Hold:
    """A reservation and its cells (rows, cols, qty in the matrices), with the day it took capacity."""

    reservation: Reservation
    rows: np.ndarray
    cols: np.ndarray
    qty: np.ndarray
    day: date
    tokens: frozenset = frozenset()  # extensions applied (idempotency tokens bound to their cells)


def reservation_id_for(order_id: str) -> str:
    """Reservation ids derive from order ids, so every process and store agrees on them."""
    return f"res-{order_id}"


class MemoryHolds:
    """Reservation methods of MemoryStore (see memory.py for the state they use)."""

    def reserve(self, order_id: str, allocations: Sequence[Allocation],
                ttl_s: float | None = None) -> Reservation:
        """Hold every allocation or none (ReservationConflict). Idempotent per order_id."""
        with self._lock:
            self._sweep_locked()
            existing = self._holds.get(reservation_id_for(order_id))
            if existing is not None:
                return existing.reservation
            rows, cols, qty = self._merge(allocations)
            nodes = np.unique(rows)
            self._check_fits(rows, cols, qty, nodes, self._keeps(allocations, rows, cols))
            np.add.at(self._reserved, (rows, cols), qty)
            self._shipments_today[nodes] += 1
            self._version += 1
            ttl = self._hold_ttl_s if ttl_s is None else ttl_s
            hold = _Hold(None, rows, cols, qty, self._day)  # type: ignore[arg-type]
            reservation = Reservation(reservation_id_for(order_id), order_id, self._allocations(hold),
                                      self._version, expires_at=self._clock() + timedelta(seconds=ttl))
            hold.reservation = reservation
            self._holds[reservation.reservation_id] = hold
            heapq.heappush(self._expiries, (reservation.expires_at, reservation.reservation_id))
            return reservation

    def reserve_many(self, orders: Sequence[tuple[str, Sequence[Allocation]]],
                     ttl_s: float | None = None) -> list[Reservation | Exception]:
        """Reserve several orders, each all or nothing and idempotent as in `reserve`, under one
        acquisition of the lock; per order its Reservation or the exception `reserve` would raise
        (ReservationConflict, NotFoundError, ValidationError), as RedisStore.reserve_many does."""
        with self._lock:
            return reserve_each(self.reserve, orders, ttl_s)

    def release(self, reservation_id: str, node_id: str | None = None) -> Reservation | None:
        """Give held units back: all, or those at `node_id`. Returns what is still held."""
        with self._lock:
            hold = self._open_hold(reservation_id)
            self._keep_only(hold, None if node_id is None else self._held_at(hold, node_id))
            if not hold.rows.size:
                del self._holds[reservation_id]
                return None
            return hold.reservation

    def reject(self, reservation_id: str, node_id: str) -> Reservation:
        """A node refused its shipment: give back its part and remember the node."""
        with self._lock:
            hold = self._open_hold(reservation_id)
            self._keep_only(hold, self._held_at(hold, node_id))
            rejected = hold.reservation.rejected_nodes + (node_id,)
            hold.reservation = replace(hold.reservation, rejected_nodes=rejected)
            return hold.reservation

    def extend(self, reservation_id: str, allocations: Sequence[Allocation], *,
               token: str | None = None) -> Reservation:
        """Hold more units under a live reservation, all or nothing. With `token`, a repeat with
        the same token and allocations adds nothing twice (as RedisStore.extend)."""
        with self._lock:
            hold = self._open_hold(reservation_id)
            rows, cols, qty = self._merge(allocations)
            if token is not None:
                token = repr((token, sorted(zip(rows.tolist(), cols.tolist(), qty.tolist(), strict=True))))
                if token in hold.tokens:
                    return hold.reservation
            self._check_fits(rows, cols, qty, np.setdiff1d(np.unique(rows), hold.rows),
                             self._keeps(allocations, rows, cols))
            np.add.at(self._reserved, (rows, cols), qty)
            self._shipments_today[np.setdiff1d(np.unique(rows), hold.rows)] += 1
            # Merge with the cells already held.
            n_skus = max(len(self._skus), 1)
            cells: dict[int, int] = {}
            for r, c, q in zip(np.r_[hold.rows, rows].tolist(), np.r_[hold.cols, cols].tolist(),
                               np.r_[hold.qty, qty].tolist(), strict=True):
                cells[r * n_skus + c] = cells.get(r * n_skus + c, 0) + q
            flat = np.fromiter(cells, dtype=np.int64, count=len(cells))
            hold.rows, hold.cols = flat // n_skus, flat % n_skus
            hold.qty = np.fromiter(cells.values(), dtype=np.int64, count=len(cells))
            self._version += 1
            hold.reservation = replace(hold.reservation, allocations=self._allocations(hold),
                                       version=self._version)
            if token is not None:
                hold.tokens = hold.tokens | {token}
            return hold.reservation

    def commit(self, reservation_id: str) -> Reservation:
        """The shipments were released to the nodes: held units leave on-hand stock for good."""
        with self._lock:
            self._sweep_locked()
            hold = self._live(reservation_id)
            if not hold.reservation.committed:
                np.subtract.at(self._reserved, (hold.rows, hold.cols), hold.qty)
                np.subtract.at(self._on_hand, (hold.rows, hold.cols), hold.qty)
                self._version += 1
                hold.reservation = replace(hold.reservation, committed=True, expires_at=None,
                                           version=self._version)
            return hold.reservation

    def consume(self, reservation_id: str) -> Reservation:
        """Alias of commit (the units shipped)."""
        return self.commit(reservation_id)

    def reservation_for_order(self, order_id: str) -> Reservation | None:
        with self._lock:
            self._sweep_locked()
            hold = self._holds.get(reservation_id_for(order_id))
            return None if hold is None else hold.reservation

    def reservations_for_orders(self, order_ids: Sequence[str]) -> dict[str, Reservation]:
        """The live reservations of those of `order_ids` that hold one."""
        with self._lock:
            self._sweep_locked()
            holds = ((order_id, self._holds.get(reservation_id_for(order_id))) for order_id in order_ids)
            return {order_id: hold.reservation for order_id, hold in holds if hold is not None}

    def reservation(self, reservation_id: str) -> Reservation:
        with self._lock:
            self._sweep_locked()
            return self._live(reservation_id).reservation

    def sweep(self) -> int:
        """Give back every expired, uncommitted hold now. Returns how many."""
        with self._lock:
            return self._sweep_locked()

    def take_expired(self) -> list[Reservation]:
        """The holds given back on expiry since the last call, each once, oldest first."""
        with self._lock:
            taken, self._expired = self._expired, []
            return taken

    def _check_fits(self, rows: np.ndarray, cols: np.ndarray, qty: np.ndarray, new_nodes: np.ndarray,
                    keep: np.ndarray) -> None:
        """ReservationConflict unless every cell has the ATP (and `keep` left after it) and every
        new node a shipment left."""
        atp = self._atp_cells(rows, cols)
        short = np.flatnonzero(atp - keep < qty)
        if short.size:
            k = int(short[0])
            kept = f" and the stock buffer keeps {int(keep[k])}" if keep[k] else ""
            raise ReservationConflict(
                f"node {self._network.nodes[rows[k]].node_id!r} SKU {self._skus[cols[k]]!r}: "
                f"wants {int(qty[k])}, ATP is {int(atp[k])}{kept}"
            )
        self._roll_day()
        left = self._capacity_left_locked()
        if left is not None:
            full = new_nodes[left[new_nodes] < 1]
            if full.size:
                node_id = self._network.nodes[int(full[0])].node_id
                raise ReservationConflict(f"node {node_id!r} has no shipment capacity left today")

    def _keeps(self, allocations: Sequence[Allocation], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The `keep` of each merged cell (rows, cols from _merge): the largest asked for it."""
        n_skus = max(len(self._skus), 1)
        wanted: dict[int, int] = {}
        for k, a in enumerate(allocations):
            keep = check_keep(a.keep, f"allocations[{k}].keep")
            if keep:
                cell = self._network.index_of(a.node_id) * n_skus + self._col[a.sku]
                wanted[cell] = max(wanted.get(cell, 0), keep)
        return np.array([wanted.get(c, 0) for c in (rows * n_skus + cols).tolist()], dtype=np.int64)

    def _allocations(self, hold: _Hold) -> tuple[Allocation, ...]:
        cells = zip(hold.rows.tolist(), hold.cols.tolist(), hold.qty.tolist(), strict=True)
        return tuple(Allocation(self._network.nodes[r].node_id, self._skus[c], int(q)) for r, c, q in cells)

    def _open_hold(self, reservation_id: str) -> _Hold:
        """The live, uncommitted hold (caller holds the lock)."""
        self._sweep_locked()
        hold = self._live(reservation_id)
        if hold.reservation.committed:
            raise ValidationError("reservation_id", f"{reservation_id!r} is committed: its shipments "
                                  "were released to the nodes")
        return hold

    def _held_at(self, hold: _Hold, node_id: str) -> np.ndarray:
        """Mask of the hold's cells at other nodes than `node_id` (NotFoundError if none is there)."""
        keep = hold.rows != self._network.index_of(node_id, "node_id")
        if keep.all():
            raise NotFoundError("node_id", f"reservation {hold.reservation.reservation_id!r} holds "
                                f"nothing at {node_id!r}")
        return keep

    def _keep_only(self, hold: _Hold, keep: np.ndarray | None) -> None:
        """Give back every cell of `hold` not in `keep` (None: all of them)."""
        keep = np.zeros(len(hold.rows), dtype=bool) if keep is None else keep
        self._give_back(hold, ~keep)
        self._version += 1
        hold.rows, hold.cols, hold.qty = hold.rows[keep], hold.cols[keep], hold.qty[keep]
        hold.reservation = replace(hold.reservation, allocations=self._allocations(hold),
                                   version=self._version)

    def _live(self, reservation_id: str) -> _Hold:
        hold = self._holds.get(reservation_id)
        if hold is None:
            raise NotFoundError("reservation_id",
                                f"unknown, released or expired reservation {reservation_id!r}")
        return hold

    def _give_back(self, hold: _Hold, cells: np.ndarray) -> None:
        """Return held units of the selected cells, and today's capacity of nodes no longer used."""
        np.subtract.at(self._reserved, (hold.rows[cells], hold.cols[cells]), hold.qty[cells])
        self._roll_day()
        if hold.day == self._day:
            freed = np.setdiff1d(np.unique(hold.rows[cells]), hold.rows[~cells])
            self._shipments_today[freed] = (self._shipments_today[freed] - 1).clip(0)

    def _sweep_locked(self) -> int:
        """Give back holds whose time is up (cheap when none is: a look at the heap's top)."""
        now = self._clock()
        swept = 0
        while self._expiries and self._expiries[0][0] <= now:
            expires_at, rid = heapq.heappop(self._expiries)
            hold = self._holds.get(rid)
            # Released, committed or re-made holds left stale heap entries behind: skip those.
            if hold is None or hold.reservation.committed or hold.reservation.expires_at != expires_at:
                continue
            del self._holds[rid]
            self._give_back(hold, np.ones(len(hold.rows), dtype=bool))
            if len(self._expired) < EXPIRED_KEPT:   # nobody takes them: keep the first ones only
                self._expired.append(hold.reservation)
            swept += 1
        if swept:
            self._version += 1
        return swept
