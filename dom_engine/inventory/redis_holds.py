"""The reservation half of RedisStore (holds, releases, rejects, extensions, commits), mixed into
it: see redis_store.py for the key layout and how holds behave on standalone Redis and on a
Cluster, and redis_ops.py / redis_lua*.py for the round trips and scripts."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from ..domain import NotFoundError, ValidationError
from .base import (
    ORDER_ERRORS,
    Allocation,
    Reservation,
    ReservationConflict,
    StoreUnavailable,
    check_keep,
    reserve_each,
)
from .redis_connection import observed
from .redis_hold_reads import HoldReads

__all__ = ["RedisHolds"]

class RedisHolds(HoldReads):
    """Reservations of RedisStore. Uses the store's `_ops`, `_cache`, `_network`, `_limits`,
    `_has_caps`, `_seen`, `hold_ttl_s`, `committed_ttl_s`, `cluster`, `reserve_batcher` and its
    clock helpers."""

    @staticmethod
    def reservation_id(order_id: str) -> str:
        """Deterministic, so a retried request finds the hold of its first attempt."""
        return f"res-{order_id}"

    def reserve(self, order_id: str, allocations: Sequence[Allocation],
                ttl_s: float | None = None) -> Reservation:
        """Hold every allocation and one shipment of capacity per capped node, or nothing
        (ReservationConflict). Idempotent per order_id: the order's reservation once it is
        settled (on a Cluster, an attempt under way elsewhere is waited for; see _settled)."""
        for _ in range(3):
            request = self._reserve_request(order_id, allocations, ttl_s)
            with observed(f"reserve order {order_id!r}", "reserve", self.observer):
                self._check_layout()
                outcome = self._reserve_outcome(request)
                self._cache.invalidate([m[1] for m in request[2]], capacity=bool(request[6]))
                if outcome[0] != "EXISTS":
                    return self._reserved_or_raise(request, outcome)
                if not self.cluster:
                    return self.reservation(request[0])
                if self._settled(request[0]) is None:
                    continue  # the other attempt gave up (or was abandoned): try afresh
                if self._has_caps:
                    self._ensure_capacity(request)
                return self.reservation(request[0])
        with observed(f"reserve order {order_id!r}", "reserve", self.observer):
            return self.reservation(self.reservation_id(order_id))

    def _settled(self, rid: str) -> dict[int, dict] | None:
        """Cluster: the order's records once no attempt is under way (every shard some record
        lists holds one, or a commit, reject or extend touched them), or None when there are none
        any more. Another attempt's records are only waited for: they are released only when every
        one is older than twice the attempt lease (an attempt gives up at one lease, so those are
        abandoned: their process died). StoreUnavailable if the other attempt does not settle
        within a fifth of the lease (the caller retries later)."""
        lease = self._ops.attempt_lease_s
        give_up = time.monotonic() + lease / 5
        pause = 0.002
        while True:
            now_ms = self._now_ms()
            records = self._live_only(self._ops.records(rid), now_ms)
            if not records:
                return None
            wanted = {int(s) for r in records.values() for s in r.get("s") or []}
            if wanted <= set(records) or any(r["c"] == 1 or r["r"] or r.get("u") for r in records.values()):
                return records
            if all(now_ms - int(r.get("t", 0)) > 2000 * lease for r in records.values()):
                self._ops.compensate(rid, sorted(records), now_ms)
                self._cache.invalidate([a[0] for r in records.values() for a in r["a"]],
                                       capacity=self._has_caps)
                return None
            if time.monotonic() > give_up:
                raise StoreUnavailable(f"reservation {rid!r} is being made by another request; retry")
            time.sleep(pause)
            pause = min(2 * pause, 0.05)

    def _ensure_capacity(self, request: tuple) -> None:
        """Cluster: a retry found the order held (an earlier attempt may have held its shards and
        never reached the capacity step, e.g. a one-shard order whose reply was lost): make sure
        the uncommitted reservation holds one shipment per capped node it holds units at. The
        capacity hold is made only if the order has none (never counted twice). If the day is
        full, ReservationConflict; a reservation no reject or extend touched yet is then released
        if abandoned (every record older than twice the attempt lease): a younger one may be an
        attempt still on its way to its own capacity step, which gives back its units itself."""
        rid, order_id, _, now_ms = request[:4]
        records = self._live_records(rid)
        if any(r["c"] == 1 for r in records.values()):
            return  # committing: its capacity hold was dropped on purpose, its shipments counted
        nodes = sorted({int(a[1]) for r in records.values() for a in r["a"] if self._limits[int(a[1])] >= 0})
        if not nodes:
            return
        outcome = self._ops.hold_capacity(rid, order_id, [(i, int(self._limits[i])) for i in nodes], now_ms,
                                          max(r["e"] for r in records.values()),
                                          min(r.get("t", now_ms) for r in records.values()), *request[7:9])
        self._cache.invalidate([], capacity=True)
        if outcome[0] != "CAPACITY":
            return
        lease_ms = 1000 * self._ops.attempt_lease_s
        abandoned = all(now_ms - int(r.get("t", 0)) > 2 * lease_ms for r in records.values())
        if abandoned and not any(r["r"] or r.get("u") for r in records.values()):
            self._ops.compensate(rid, sorted(records), now_ms)
            self._cache.invalidate([a[0] for r in records.values() for a in r["a"]], capacity=True)
        self._raise_for([], outcome)

    def _reserve_outcome(self, request: tuple) -> tuple:
        """Ops.reserve's outcome for `request`: through `reserve_batcher` when there is one
        (threads reserving at the same time share a pipelined round trip, redis_batcher.py), else
        one script call of its own."""
        if self.reserve_batcher is None:
            return self._ops.reserve(*request)
        outcome = self.reserve_batcher.submit(request)
        if outcome[0] == "STALE":
            # a snapshot load moved the version: retry alone (Ops.reserve follows the pointer),
            # never through the batcher again, so a retry cannot wait behind itself
            return self._ops.reserve(*request)
        return outcome

    def _send_reserves(self, requests: Sequence[tuple]) -> list[tuple]:
        """The batcher's send: a lone request is one plain script call (no pipeline overhead, so
        a lone caller is not slower than without coalescing); several share one pipeline."""
        if len(requests) == 1:
            return [self._ops.reserve(*requests[0])]
        return self._ops.reserve_pipelined(list(requests))

    def reserve_many(self, orders: Sequence[tuple[str, Sequence[Allocation]]],
                     ttl_s: float | None = None) -> list[Reservation | Exception]:
        """Reserve several orders, each all or nothing and idempotent as in `reserve`, and return
        per order its Reservation or the exception `reserve` would raise. On standalone Redis the
        orders go out in one pipelined round trip (batch allocation, replays); a Cluster reserves
        them one by one."""
        if self.cluster:
            return reserve_each(self.reserve, orders, ttl_s)
        requests: list = []
        for order_id, allocations in orders:
            try:
                requests.append(self._reserve_request(order_id, allocations, ttl_s))
            except (NotFoundError, ValidationError) as exc:
                requests.append(exc)
        todo = [r for r in requests if not isinstance(r, Exception)]
        with observed(f"reserve {len(todo)} orders", "reserve_many", self.observer):
            self._check_layout()
            outcomes = iter(self._ops.reserve_pipelined(todo) if todo else [])
            self._cache.invalidate(list({m[1] for r in todo for m in r[2]}), capacity=self._has_caps)
        results = []
        for (order_id, allocations), request in zip(orders, requests, strict=True):
            if isinstance(request, Exception):
                results.append(request)
                continue
            outcome = next(outcomes)
            try:
                if outcome[0] in ("EXISTS", "STALE"):
                    results.append(self.reserve(order_id, allocations, ttl_s))
                else:
                    results.append(self._reserved_or_raise(request, outcome))
            except ORDER_ERRORS as exc:
                results.append(exc)
        return results

    def _reserve_request(self, order_id: str, allocations: Sequence[Allocation],
                         ttl_s: float | None) -> tuple:
        """The arguments of Ops.reserve: (rid, order_id, merged, now_ms, expires_ms, seen, capped
        nodes with limits, day, oldest day kept)."""
        if not order_id:
            raise ValidationError("order_id", "must not be empty")
        ttl = self.hold_ttl_s if ttl_s is None else ttl_s
        if ttl <= 0:
            raise ValidationError("ttl_s", f"must be > 0, got {ttl}")
        merged = self._merge(allocations)
        now = self._clock()
        now_ms = int(now.timestamp() * 1000)
        cap_nodes = sorted({m[0] for m in merged if self._limits[m[0]] >= 0})
        return (self.reservation_id(order_id), order_id, merged, now_ms, now_ms + int(ttl * 1000), self._seen,
                [(i, int(self._limits[i])) for i in cap_nodes], self._day(now),
                (now - timedelta(days=1)).date().isoformat())

    def _reserved_or_raise(self, request: tuple, outcome: tuple) -> Reservation:
        rid, order_id, merged, _, expires_ms = request[:5]
        self._raise_for(merged, outcome)
        return Reservation(rid, order_id, self._allocations(merged), outcome[1],
                           datetime.fromtimestamp(expires_ms / 1000, UTC), False)

    def _raise_for(self, merged, outcome: tuple) -> None:
        """Raise what a failed RESERVE / EXTEND outcome means for the allocations `merged`."""
        status = outcome[0]
        if status == "SHORT":
            _, sku, node, atp = outcome[:4]
            qty, keep = next((m[2], m[4]) for m in merged if m[0] == node and m[1] == sku)
            kept = f" and the stock buffer keeps {keep}" if keep else ""
            raise ReservationConflict(f"node {self._network.nodes[node].node_id!r} SKU {sku!r}: "
                                      f"wants {qty}, ATP is {atp}{kept}")
        if status == "NOSKU":
            k = next(m[3] for m in merged if m[1] == outcome[1])
            raise NotFoundError(f"allocations[{k}].sku", f"unknown SKU {outcome[1]!r}")
        if status == "CAPACITY":
            node_id = self._network.nodes[outcome[1]].node_id
            raise ReservationConflict(f"node {node_id!r} has no shipment capacity left today "
                                      f"(limit {outcome[2]})")

    def release(self, reservation_id: str, node_id: str | None = None) -> Reservation | None:
        """Give back all held units, or those at `node_id` (and that node's shipment of capacity).
        Returns what is still held, None when nothing is. NotFoundError if unknown or expired;
        ValidationError once committed."""
        node = -1 if node_id is None else self._network.index_of(node_id, "node_id")
        with observed(f"release {reservation_id!r}", "release", self.observer):
            records = self._live_records(reservation_id)
            self._refuse_committed(reservation_id, records)
            if node >= 0 and not any(a[1] == node for r in records.values() for a in r["a"]):
                raise NotFoundError("node_id", f"reservation {reservation_id!r} holds nothing at {node_id!r}")
            found, left = self._ops.release(reservation_id, sorted(records), node, self._now_ms(),
                                            self._has_caps)
            self._cache.invalidate([a[0] for r in records.values() for a in r["a"]],
                                   capacity=self._has_caps)
            if found == -1:
                raise ValidationError("reservation_id", f"reservation {reservation_id!r} is committed; "
                                                        "its units have left the stock")
            if found == 0:
                raise NotFoundError("reservation_id", f"unknown reservation {reservation_id!r}")
            if left == 0:
                if node >= 0:  # drop the tombstones: nothing is held any more
                    self._ops.release(reservation_id, sorted(records), -1, self._now_ms(), self._has_caps)
                return None
            return self.reservation(reservation_id)

    def reject(self, reservation_id: str, node_id: str) -> Reservation:
        """`node_id` refused its shipment: give back what the reservation holds there (units and
        that node's shipment of capacity) and note the node in `rejected_nodes`. The reservation
        stays live until its expiry even with nothing left, so the order can be re-routed into it
        with `extend`. NotFoundError if unknown / expired or nothing is held at the node;
        ValidationError once committed."""
        node = self._network.index_of(node_id, "node_id")
        with observed(f"reject {node_id!r} in {reservation_id!r}", "reject", self.observer):
            records = self._live_records(reservation_id)
            self._refuse_committed(reservation_id, records)
            if not any(a[1] == node for r in records.values() for a in r["a"]):
                raise NotFoundError("node_id", f"reservation {reservation_id!r} holds nothing at {node_id!r}")
            found, _ = self._ops.release(reservation_id, sorted(records), node, self._now_ms(),
                                         self._has_caps, reject=True)
            self._cache.invalidate([a[0] for r in records.values() for a in r["a"]],
                                   capacity=self._has_caps)
            if found == -1:
                self._refuse_committed(reservation_id, {})
            if found == 0:
                raise NotFoundError("reservation_id", f"unknown reservation {reservation_id!r}")
            return self.reservation(reservation_id)

    def extend(self, reservation_id: str, allocations: Sequence[Allocation], *,
               token: str | None = None) -> Reservation:
        """Hold more units under a live, uncommitted reservation: all or nothing (ReservationConflict
        when they do not fit, nothing held then), with one shipment of capacity for each capped node
        the reservation does not ship from yet. Units at a (node, SKU) it already holds add up; the
        expiry stays. NotFoundError if unknown or expired; ValidationError once committed (or once
        a commit has started). With `token` the call is idempotent: repeating it with the same
        token and allocations (after StoreUnavailable, say) adds nothing twice and, on a Cluster,
        finishes an extension cut short by a crash; without one every call adds. If a commit ran
        meanwhile (Cluster), what this call added is committed too and the committed reservation
        comes back."""
        merged = self._merge(allocations)
        if token is None:
            token = uuid.uuid4().hex
        else:  # bound to the allocations: other units under the same token are another extension
            cells = sorted((node, sku, qty) for node, sku, qty, _, _ in merged)
            token = hashlib.sha1(json.dumps([token, cells]).encode()).hexdigest()
        with observed(f"extend {reservation_id!r}", "extend", self.observer):
            self._check_layout()
            records = self._live_records(reservation_id)
            if any(r["c"] == 1 for r in records.values()):
                self._refuse_committed(reservation_id, {})
            live = {s: r for s, r in records.items() if r["c"] == 0}
            base = 1 + max((int(a[3]) for r in records.values() for a in r["a"]), default=-1)
            placed = [(node, sku, qty, base + k, keep) for node, sku, qty, k, keep in merged]
            some = next(iter(live.values()))
            shards = sorted(set(records) | {self.keys.shard_of(m[1]) for m in merged})
            template = {"o": some["o"], "e": max(r["e"] for r in live.values()), "t": some.get("t", 0),
                        "s": shards, "r": self._rejected(records)}
            now = self._clock()
            nodes = sorted({m[0] for m in merged})
            cap_nodes = [(i, int(self._limits[i])) for i in nodes if self._limits[i] >= 0]
            outcome = self._ops.extend(reservation_id, placed, sorted(live), template, token, self._seen,
                                       int(now.timestamp() * 1000), cap_nodes, self._day(now),
                                       (now - timedelta(days=1)).date().isoformat())
            self._cache.invalidate([m[1] for m in merged], capacity=bool(cap_nodes))
            if outcome[0] == "GONE":
                raise NotFoundError("reservation_id", f"unknown reservation {reservation_id!r} "
                                                      "(released or expired)")
            if outcome[0] == "COMMITTED":
                self._refuse_committed(reservation_id, {})
            self._raise_for(merged, outcome)
            records = self._live_records(reservation_id)
            if any(r["c"] == 1 for r in records.values()):
                # a commit ran since this call read the records (a Cluster extends shard by shard):
                # this extension came first, so commit it too, with the capacity hold, which a
                # commit that read the records before this call added to it may have left behind
                self._commit_records(reservation_id, {s: r for s, r in records.items() if r["c"] == 0})
                return self.commit(reservation_id)
            return self._reservation_of(reservation_id, records)

    def commit(self, reservation_id: str) -> Reservation:
        """The held units leave on-hand stock (current version) and reserved; the hold no longer
        expires. Idempotent. Reads the records again after committing until all are committed,
        so an extend that added a shard after they were read is committed too."""
        with observed(f"commit {reservation_id!r}", "commit", self.observer):
            for _ in range(6):
                records = self._live_records(reservation_id)
                todo = {s: r for s, r in records.items() if r["c"] == 0}
                if not todo:
                    return self._reservation_of(reservation_id, records)
                self._commit_records(reservation_id, todo)
        raise StoreUnavailable(f"reservation {reservation_id!r} kept changing during its commit; retry")

    def _commit_records(self, reservation_id: str, records: dict[int, dict]) -> None:
        """One commit pass over these records' shards (and the capacity hold); a record that
        changed since it was read is left for the next pass."""
        skus = {s: sorted({a[0] for a in r["a"]}) for s, r in records.items()}
        keep_until = self._now_ms() + int(self.committed_ttl_s * 1000)
        self._ops.commit(reservation_id, skus, self._seen, self._now_ms(), keep_until, self._has_caps)
        self._cache.invalidate([sku for v in skus.values() for sku in v])

    def take_expired(self) -> list[Reservation]:
        """The holds given back on expiry since the last call, each reported to one caller (see
        Ops.take_expired). Their allocations are the units the store's sweeps gave back."""
        with observed("take expired holds", "take_expired", self.observer):
            entries = self._ops.take_expired()
        by_hold: dict[tuple[str, int], list[dict]] = {}
        for entry in entries:
            by_hold.setdefault((entry["r"], int(entry["e"])), []).append(entry)
        taken = []
        for (rid, expires_ms), parts in by_hold.items():
            # cjson writes an empty Lua table (a record emptied by rejects) as {}
            merged = [(a[1], a[0], int(a[2]), int(a[3])) for p in parts if isinstance(p["a"], list)
                      for a in p["a"]]
            taken.append(Reservation(rid, parts[0]["o"], self._allocations(merged),
                                     min(int(p.get("v", 0)) for p in parts),
                                     datetime.fromtimestamp(expires_ms / 1000, UTC)))
        return taken

    def sweep(self) -> int:
        """Give back the units (and capacity) of every expired hold now. Returns how many holds
        (stock shards and capacity records) were swept."""
        with observed("sweep expired holds", "sweep", self.observer):
            swept = self._ops.sweep(self._now_ms())
        if swept:
            self._cache.invalidate()
        return swept


    # ----------------------------------------------------------------- helpers
    def _merge(self, allocations: Sequence[Allocation]) -> list[tuple[int, str, int, int, int]]:
        """(node index, sku, quantity, position, keep) per distinct (node, SKU), in first-seen
        order; keep is the largest asked for the cell."""
        merged: dict[tuple[int, str], list[int]] = {}
        for k, a in enumerate(allocations):
            qty = a.quantity
            if isinstance(qty, bool) or not isinstance(qty, int | np.integer) or qty <= 0:
                raise ValidationError(f"allocations[{k}].quantity",
                                      f"must be a positive integer, got {a.quantity!r}")
            if not a.sku:
                raise ValidationError(f"allocations[{k}].sku", "must not be empty")
            node = self._network.index_of(a.node_id, f"allocations[{k}].node_id")
            keep = check_keep(a.keep, f"allocations[{k}].keep")
            entry = merged.setdefault((node, a.sku), [0, k, 0])
            entry[0] += int(a.quantity)
            entry[2] = max(entry[2], keep)
        if not merged:
            raise ValidationError("allocations", "must not be empty")
        return [(node, sku, qty, k, keep) for (node, sku), (qty, k, keep) in merged.items()]
