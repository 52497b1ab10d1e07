"""Reading reservations back from Redis (by id, by order, many orders at once) and turning their
per-shard records into Reservations: the read half of RedisHolds (redis_holds.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ..domain import NotFoundError, ValidationError
from .base import Allocation, Reservation
from .redis_connection import decode_record, observed

# Orders per round trip when looking up many orders' reservations.
LOOKUP_CHUNK = 1000


class HoldReads:
    """Reservation look-ups of RedisStore (mixed into RedisHolds; uses the store's `_ops`, `_cache`,
    `_network` and clock helpers)."""

    def reservation(self, reservation_id: str) -> Reservation:
        """A live (held or committed) reservation; NotFoundError if unknown, released or expired."""
        with observed(f"read reservation {reservation_id!r}", "reservation", self.observer):
            return self._reservation_of(reservation_id, self._live_records(reservation_id))

    def reservation_for_order(self, order_id: str) -> Reservation | None:
        try:
            return self.reservation(self.reservation_id(order_id))
        except NotFoundError:
            return None

    def reservations_for_orders(self, order_ids: Sequence[str]) -> dict[str, Reservation]:
        """The live reservations of those of `order_ids` that hold one: one round trip per
        LOOKUP_CHUNK orders (an HMGET per shard) instead of one per order (batch retries)."""
        ids = list(dict.fromkeys(order_ids))
        found: dict[str, Reservation] = {}
        with observed(f"read the reservations of {len(ids)} orders", "reservations", self.observer):
            for start in range(0, len(ids), LOOKUP_CHUNK):
                chunk = ids[start:start + LOOKUP_CHUNK]
                rids = [self.reservation_id(order_id) for order_id in chunk]
                pipe = self._ops.pipe()
                for shard in range(self._ops.k.shards):
                    pipe.hmget(self._ops.k.holds(shard), rids)
                by_shard = pipe.execute()
                now_ms = self._now_ms()
                for i, (order_id, rid) in enumerate(zip(chunk, rids, strict=True)):
                    raw = {shard: row[i] for shard, row in enumerate(by_shard) if row[i] is not None}
                    records = self._live_only({s: decode_record(r) for s, r in raw.items()}, now_ms)
                    if records:
                        found[order_id] = self._reservation_of(rid, records)
        return found

    def _allocations(self, merged) -> tuple[Allocation, ...]:
        ordered = sorted(merged, key=lambda m: m[3])
        return tuple(Allocation(self._network.nodes[m[0]].node_id, m[1], m[2]) for m in ordered)

    def _live_records(self, reservation_id: str) -> dict[int, dict]:
        """Hold records by shard, without those already expired (not yet swept)."""
        records = self._live_only(self._ops.records(reservation_id), self._now_ms())
        if not records:
            raise NotFoundError("reservation_id", f"unknown reservation {reservation_id!r}")
        return records

    @staticmethod
    def _live_only(records: dict[int, dict], now_ms: int) -> dict[int, dict]:
        """The unexpired records, or {} when the reservation is not live: it is while it holds
        something or a node rejected it (emptied by rejects: still re-routable); an empty record
        without rejects is a tombstone of release(node)."""
        records = {s: r for s, r in records.items() if r["c"] == 1 or r["e"] > now_ms}
        return records if any(r["a"] or r["r"] for r in records.values()) else {}

    @staticmethod
    def _refuse_committed(reservation_id: str, records: dict[int, dict]) -> None:
        """ValidationError when every record is committed (always, given no records)."""
        if all(r["c"] == 1 for r in records.values()):
            raise ValidationError("reservation_id", f"reservation {reservation_id!r} is committed: "
                                                    "its shipments were released to the nodes")

    @staticmethod
    def _rejected(records: dict[int, dict]) -> list[int]:
        """Rejected node indices in order. Every record notes each reject; on a Cluster a reject
        cut short may have reached only some, so the longest list leads and the rest follow."""
        lists = sorted((r["r"] for r in records.values()), key=len, reverse=True)
        return list(dict.fromkeys(int(x) for nodes in lists for x in nodes))

    def _reservation_of(self, reservation_id: str, records: dict[int, dict]) -> Reservation:
        merged = [(a[1], a[0], int(a[2]), int(a[3])) for r in records.values() for a in r["a"]]
        committed = all(r["c"] == 1 for r in records.values())
        some = next(iter(records.values()))
        expires = None if committed else datetime.fromtimestamp(
            max(r["e"] for r in records.values()) / 1000, UTC)
        rejected = tuple(self._network.nodes[i].node_id for i in self._rejected(records))
        return Reservation(reservation_id, some["o"], self._allocations(merged),
                           min(int(r["v"]) for r in records.values()), expires, committed, rejected)
