"""RedisStore: the SnapshotStore shared by several server processes, on standalone Redis or Redis
Cluster (redis-py `Redis` / `RedisCluster`).

Key layout (namespace `dom`, `shards` = 16; shard(sku) = crc32(sku) % shards; N = network size;
arrays are int64 little-endian in the Network's node order, so reads decode with np.frombuffer):

    dom:{meta}:version               current snapshot version (what readers follow)
    dom:{meta}:seq                   INCR source of new versions
    dom:{meta}:layout                {"shards": 16, "nodes": N}; a process with another layout refuses
    dom:{i<s>}:ver                   the current version as seen by shard s (what scripts follow)
    dom:{i<s>}:v<V>:s:<sku>          on hand and safety stock of <sku> in version V: [2, N] int64
    dom:{i<s>}:v<V>:catalogue        set of the SKUs of shard s in version V
    dom:{i<s>}:reserved              hash sku -> units held, [N] int64 (not versioned)
    dom:{i<s>}:holds                 hash reservation id -> JSON hold record of shard s
                                     {o: order, v: version, e: expires ms, c: committed 0/1,
                                      a: [[sku, node index, qty, position]], s: [shards], t: created ms}
    dom:{i<s>}:expiry                zset reservation id -> expiry (ms since epoch)
    dom:{i<s>}:events                zset applied delta event id -> when applied (ms)
    dom:{cap}:used                   hash UTC day -> shipments held per node, [N] int64
    dom:{cap}:holds, dom:{cap}:expiry  capacity hold per reservation {d: day, n: [nodes]}, expiry

Why this shape: every key one Lua script touches carries one hash tag, so each script runs in one
Cluster slot. Reserved units live in one hash per shard (not one key per SKU) because the lazy sweep
of expired holds must give back units of any SKU while declaring its keys up front.

Snapshots: `load_snapshot` writes version V's keys in pipelined MSET batches, then moves the shard
pointers and finally `{meta}:version` forward (monotonic, so racing loads converge on the newest).
The previous version's keys get an EXPIRE grace period (`snapshot_grace_s`), so a reader that
fetched the old pointer still reads one whole version. A read pipelines GET of the pointer with MGET
/ HMGET of the order's SKUs for the version it last saw and reads again if the pointer moved: one
round trip normally. Deltas and commits change on-hand stock of the current version in place
(SETRANGE); a delta for a version that is being replaced is lost with it (the snapshot wins).

Deltas: each event id is applied once per shard within `dedupe_window_s` (default 24 h; ids older
than that are trimmed from the shard's events zset). Adjustments that would go below zero clip at 0.

Reservations: the id is `res-<order_id>`, so a retried request finds its hold. Each script sweeps
the expired holds of its shards first, so expiry needs no background job (`sweep()` forces it).
Standalone Redis: one script call holds the whole order and its capacity, atomically. Cluster: one
call per shard in shard order, then one for capacity ({cap} slot); if a later call fails, the shards
already held are released again (compensation). A process that dies in between leaves holds that
expire after their TTL, and a retry of the same order completes the missing shards. Commit
subtracts the held units from on-hand stock and from reserved, and keeps the record (committed) for
`committed_ttl_s`; a shipment stays counted against its day's capacity. Reads do not sweep: until
a script touches its shard (or `sweep()` runs), an expired hold still lowers the ATP a read reports
(conservative, never an oversell). `reserve_many` sends many orders' scripts in one pipelined round
trip on standalone Redis (each order still all or nothing).

Expiry and capacity days use `clock` (UTC), so the servers sharing a Redis need synchronized
clocks. Lost connections raise StoreUnavailable; quotes are served from the cache up to
`degraded_staleness_s` meanwhile (columns this process changed since they were fetched included:
they are skipped only while Redis answers), and every call tries Redis again (no sticky broken
state). Every script is idempotent, so redis-py re-sending one after a lost reply is harmless.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import redis
from redis.cluster import RedisCluster

from ..domain import ConfigError, Network, NotFoundError, ValidationError
from .base import (
    Allocation,
    Progress,
    Reservation,
    ReservationConflict,
    StockDelta,
    StockView,
    StoreUnavailable,
)
from .redis_cache import ReadCache
from .redis_keys import RedisKeys
from .redis_ops import Ops, build_snapshot, connect, unavailable

__all__ = ["RedisStore"]

UNLIMITED = np.int64(2**62)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RedisStore:
    """Inventory in Redis behind the SnapshotStore protocol (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        client_or_url: str | redis.Redis | RedisCluster,
        *,
        namespace: str = "dom",
        cache_staleness_s: float = 1.0,
        degraded_staleness_s: float = 60.0,
        hold_ttl_s: float = 900.0,
        shards: int = 16,
        clock: Callable[[], datetime] = _utc_now,
        snapshot_grace_s: float = 60.0,
        dedupe_window_s: float = 86_400.0,
        committed_ttl_s: float = 7 * 86_400.0,
        load_batch_rows: int = 200_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("cache_staleness_s", cache_staleness_s), ("hold_ttl_s", hold_ttl_s),
                            ("snapshot_grace_s", snapshot_grace_s), ("dedupe_window_s", dedupe_window_s)):
            if value < 0:
                raise ConfigError(name, f"must be >= 0, got {value}")
        if degraded_staleness_s < cache_staleness_s:
            raise ConfigError("degraded_staleness_s", "must be >= cache_staleness_s")
        self._network = network
        self._n = len(network)
        self.keys = RedisKeys(namespace, shards)
        self.client = connect(client_or_url)
        self.cluster = isinstance(self.client, RedisCluster)
        self._ops = Ops(self.client, self.keys, self._n, self.cluster)
        self.cache_staleness_s = cache_staleness_s
        self.degraded_staleness_s = degraded_staleness_s
        self.hold_ttl_s = hold_ttl_s
        self.snapshot_grace_s = snapshot_grace_s
        self.dedupe_window_s = dedupe_window_s
        self.committed_ttl_s = committed_ttl_s
        self.load_batch_rows = max(load_batch_rows, 1)
        self._clock = clock
        self._monotonic = monotonic       # ages of cached reads (tests drive it by hand)
        self._cache = ReadCache()
        self._lock = threading.Lock()
        self._seen = 0                      # the version pointer as last read
        self._catalogue: tuple[int, float, frozenset[str]] | None = None
        self._layout_checked = False
        caps = [node.daily_shipment_capacity for node in network.nodes]
        self._limits = np.array([-1 if c is None else c for c in caps], dtype=np.int64)
        self._has_caps = bool((self._limits >= 0).any())

    # ----------------------------------------------------------------- protocol: reads
    @property
    def network(self) -> Network:
        return self._network

    @property
    def version(self) -> int:
        """The current snapshot version (the last one seen while Redis is unreachable)."""
        with contextlib.suppress(StoreUnavailable), unavailable("read the snapshot version"):
            self._set_seen(int(self.client.get(self.keys.version) or 0))
        return self._seen

    def known_skus(self) -> frozenset[str]:
        """SKUs of the current version (refreshed at most every cache_staleness_s)."""
        now = self._monotonic()
        cached = self._catalogue
        if cached is not None and now - cached[1] <= self.cache_staleness_s:
            return cached[2]
        try:
            with unavailable("read the SKU catalogue"):
                self._check_layout()
                version, skus = self._ops.catalogue()
        except StoreUnavailable:
            if cached is not None and now - cached[1] <= self.degraded_staleness_s:
                return cached[2]
            raise
        self._set_seen(version)
        self._catalogue = (version, now, frozenset(skus))
        return self._catalogue[2]

    def read(self, skus: Sequence[str]) -> StockView:
        """ATP of `skus` at every node from one version; unknown SKUs read as 0. Hot SKUs come
        from the cache (staleness_s says how old); on an outage the cache serves up to
        degraded_staleness_s, after that StoreUnavailable."""
        skus = tuple(skus)
        day = self._day() if self._has_caps else None
        now = self._monotonic()
        hit = self._cache.get(skus, self.cache_staleness_s, now, need_capacity=self._has_caps, day=day)
        if hit is None:
            try:
                with unavailable("read stock"):
                    self._check_layout()
                    version, atp, used = self._ops.read(skus, self._seen, day)
                self._set_seen(version)
                self._cache.put(version, now, skus, atp, used, day)
                return StockView(version, skus, atp, 0.0, self._capacity_left(used))
            except StoreUnavailable:
                hit = self._cache.get(skus, self.degraded_staleness_s, self._monotonic(),
                                      need_capacity=self._has_caps, day=day, degraded=True)
                if hit is None:
                    raise
        return StockView(hit.version, skus, hit.atp, self._monotonic() - hit.oldest,
                         self._capacity_left(hit.capacity_used))

    def capacity_left(self) -> np.ndarray | None:
        """Shipments each node may still take today; None when no node has a cap (uncapped nodes
        report 2**62)."""
        if not self._has_caps:
            return None
        with unavailable("read capacity"):
            return self._capacity_left(self._ops.capacity_used(self._day()))

    # ----------------------------------------------------------------- protocol: reservations
    @staticmethod
    def reservation_id(order_id: str) -> str:
        """Deterministic, so a retried request finds the hold of its first attempt."""
        return f"res-{order_id}"

    def reserve(self, order_id: str, allocations: Sequence[Allocation],
                ttl_s: float | None = None) -> Reservation:
        """Hold every allocation and one shipment of capacity per capped node, or nothing
        (ReservationConflict). Idempotent per order_id."""
        request = self._reserve_request(order_id, allocations, ttl_s)
        with unavailable(f"reserve order {order_id!r}"):
            self._check_layout()
            outcome = self._ops.reserve(*request)
            self._cache.invalidate([m[1] for m in request[2]], capacity=bool(request[6]))
            if outcome[0] == "EXISTS":
                return self.reservation(request[0])
        return self._reserved_or_raise(request, outcome)

    def reserve_many(self, orders: Sequence[tuple[str, Sequence[Allocation]]],
                     ttl_s: float | None = None) -> list[Reservation | Exception]:
        """Reserve several orders, each all or nothing and idempotent as in `reserve`, and return
        per order its Reservation or the exception `reserve` would raise. On standalone Redis the
        orders go out in one pipelined round trip (batch allocation, replays); a Cluster reserves
        them one by one."""
        if self.cluster:
            results: list[Reservation | Exception] = []
            for order_id, allocations in orders:
                try:
                    results.append(self.reserve(order_id, allocations, ttl_s))
                except (ReservationConflict, NotFoundError, ValidationError) as exc:
                    results.append(exc)
            return results
        requests: list = []
        for order_id, allocations in orders:
            try:
                requests.append(self._reserve_request(order_id, allocations, ttl_s))
            except (NotFoundError, ValidationError) as exc:
                requests.append(exc)
        todo = [r for r in requests if not isinstance(r, Exception)]
        with unavailable(f"reserve {len(todo)} orders"):
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
            except (ReservationConflict, NotFoundError, ValidationError) as exc:
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
        cap_nodes = sorted({node for node, _, _, _ in merged if self._limits[node] >= 0})
        return (self.reservation_id(order_id), order_id, merged, now_ms, now_ms + int(ttl * 1000), self._seen,
                [(i, int(self._limits[i])) for i in cap_nodes], self._day(now),
                (now - timedelta(days=1)).date().isoformat())

    def _reserved_or_raise(self, request: tuple, outcome: tuple) -> Reservation:
        rid, order_id, merged, _, expires_ms = request[:5]
        status = outcome[0]
        if status == "SHORT":
            _, sku, node, atp = outcome
            qty = next(q for i, s, q, _ in merged if i == node and s == sku)
            raise ReservationConflict(f"node {self._network.nodes[node].node_id!r} SKU {sku!r}: "
                                      f"wants {qty}, ATP is {atp}")
        if status == "NOSKU":
            k = next(k for _, s, _, k in merged if s == outcome[1])
            raise NotFoundError(f"allocations[{k}].sku", f"unknown SKU {outcome[1]!r}")
        if status == "CAPACITY":
            node_id = self._network.nodes[outcome[1]].node_id
            raise ReservationConflict(f"node {node_id!r} has no shipment capacity left today "
                                      f"(limit {outcome[2]})")
        return Reservation(rid, order_id, self._allocations(merged), outcome[1],
                           datetime.fromtimestamp(expires_ms / 1000, UTC), False)

    def release(self, reservation_id: str, node_id: str | None = None) -> Reservation | None:
        """Give back all held units, or those at `node_id` (and that node's shipment of capacity).
        Returns what is still held, None when nothing is. NotFoundError if unknown or expired;
        ValidationError once committed."""
        node = -1 if node_id is None else self._network.index_of(node_id, "node_id")
        with unavailable(f"release {reservation_id!r}"):
            records = self._live_records(reservation_id)
            if all(r["c"] == 1 for r in records.values()):
                raise ValidationError("reservation_id", f"reservation {reservation_id!r} is committed: "
                                                        "its shipments were released to the nodes")
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

    def commit(self, reservation_id: str) -> Reservation:
        """The held units leave on-hand stock (current version) and reserved; the hold no longer
        expires. Idempotent."""
        with unavailable(f"commit {reservation_id!r}"):
            for _ in range(5):
                records = self._live_records(reservation_id)
                if all(r["c"] == 1 for r in records.values()):
                    return self._reservation_of(reservation_id, records)
                skus = {s: sorted({a[0] for a in r["a"]}) for s, r in records.items()}
                keep_until = self._now_ms() + int(self.committed_ttl_s * 1000)
                status, found = self._ops.commit(reservation_id, skus, self._seen, self._now_ms(),
                                                 keep_until, self._has_caps)
                self._cache.invalidate([sku for v in skus.values() for sku in v])
                if status == "OK":
                    if found == 0:
                        break
                    return self.reservation(reservation_id)
        raise NotFoundError("reservation_id", f"unknown reservation {reservation_id!r}")

    def reservation(self, reservation_id: str) -> Reservation:
        """A live (held or committed) reservation; NotFoundError if unknown, released or expired."""
        with unavailable(f"read reservation {reservation_id!r}"):
            return self._reservation_of(reservation_id, self._live_records(reservation_id))

    def reservation_for_order(self, order_id: str) -> Reservation | None:
        try:
            return self.reservation(self.reservation_id(order_id))
        except NotFoundError:
            return None

    def sweep(self) -> int:
        """Give back the units (and capacity) of every expired hold now. Returns how many holds
        (stock shards and capacity records) were swept."""
        with unavailable("sweep expired holds"):
            swept = self._ops.sweep(self._now_ms())
        if swept:
            self._cache.invalidate()
        return swept

    # ----------------------------------------------------------------- protocol: writes
    def load_snapshot(self, node_ids: Sequence[str], skus: Sequence[str], on_hand: np.ndarray,
                      safety: np.ndarray | None = None, progress: Progress | None = None) -> int:
        """Write a new version (pipelined batches, `progress(rows done, rows total)`), then switch
        readers to it atomically. Returns the new version."""
        snap = build_snapshot(self._network, node_ids, skus, on_hand, safety)
        with unavailable("load a snapshot"):
            self._check_layout()
            version = self._ops.load(snap, self.load_batch_rows, self.snapshot_grace_s, progress)
        self._set_seen(version)
        self._cache.clear()
        self._catalogue = None
        return version

    def apply_deltas(self, deltas: Sequence[StockDelta]) -> int:
        """Apply warehouse changes in order: on hand becomes `on_hand` (when given) plus `adjust`;
        a redelivered event id is skipped. All or none (per shard on a Cluster): a change that
        would leave negative stock raises ValidationError. Returns how many were applied."""
        rows = []
        for k, d in enumerate(deltas):
            node = self._network.index_of(d.node_id, f"deltas[{k}].node_id")
            if not d.event_id:
                raise ValidationError(f"deltas[{k}].event_id", "must not be empty")
            if not d.sku:
                raise ValidationError(f"deltas[{k}].sku", "must not be empty")
            if d.on_hand is not None and d.on_hand < 0:
                raise ValidationError(f"deltas[{k}].on_hand", f"must be >= 0, got {d.on_hand}")
            if d.safety_stock is not None and d.safety_stock < 0:
                raise ValidationError(f"deltas[{k}].safety_stock", f"must be >= 0, got {d.safety_stock}")
            rows.append((d.event_id, d.sku, node, -1 if d.on_hand is None else int(d.on_hand),
                         int(d.adjust), -1 if d.safety_stock is None else int(d.safety_stock)))
        if not rows:
            return 0
        with unavailable("apply stock deltas"):
            self._check_layout()
            status, result = self._ops.deltas(rows, self._seen, self._now_ms(),
                                              int(self.dedupe_window_s * 1000))
        self._cache.invalidate([r[1] for r in rows])
        self._catalogue = None
        if status == "NEGATIVE":
            event_id, on_hand, applied = result
            k = next(i for i, d in enumerate(deltas) if d.event_id == event_id)
            d = deltas[k]
            raise ValidationError(f"deltas[{k}]", f"would leave on hand {on_hand} at {d.node_id!r} for "
                                                  f"{d.sku!r} (must be >= 0); {applied} applied before it")
        return int(result)

    # ----------------------------------------------------------------- helpers
    def _set_seen(self, version: int) -> None:
        with self._lock:
            self._seen = version

    def _now_ms(self) -> int:
        return int(self._clock().timestamp() * 1000)

    def _day(self, now: datetime | None = None) -> str:
        return (now or self._clock()).astimezone(UTC).date().isoformat()

    def _check_layout(self) -> None:
        if not self._layout_checked:
            self._ops.check_layout()
            self._layout_checked = True

    def _capacity_left(self, used: np.ndarray | None) -> np.ndarray | None:
        if not self._has_caps:
            return None
        used = np.zeros(self._n, dtype=np.int64) if used is None else used
        return np.where(self._limits < 0, UNLIMITED, (self._limits - used).clip(0))

    def _merge(self, allocations: Sequence[Allocation]) -> list[tuple[int, str, int, int]]:
        """(node index, sku, quantity, position) per distinct (node, SKU), in first-seen order."""
        merged: dict[tuple[int, str], list[int]] = {}
        for k, a in enumerate(allocations):
            qty = a.quantity
            if isinstance(qty, bool) or not isinstance(qty, int | np.integer) or qty <= 0:
                raise ValidationError(f"allocations[{k}].quantity",
                                      f"must be a positive integer, got {a.quantity!r}")
            if not a.sku:
                raise ValidationError(f"allocations[{k}].sku", "must not be empty")
            node = self._network.index_of(a.node_id, f"allocations[{k}].node_id")
            entry = merged.setdefault((node, a.sku), [0, k])
            entry[0] += int(a.quantity)
        if not merged:
            raise ValidationError("allocations", "must not be empty")
        return [(node, sku, qty, k) for (node, sku), (qty, k) in merged.items()]

    def _allocations(self, merged) -> tuple[Allocation, ...]:
        ordered = sorted(merged, key=lambda m: m[3])
        return tuple(Allocation(self._network.nodes[node].node_id, sku, qty) for node, sku, qty, _ in ordered)

    def _live_records(self, reservation_id: str) -> dict[int, dict]:
        """Hold records by shard, without those already expired (not yet swept)."""
        now_ms = self._now_ms()
        records = {s: r for s, r in self._ops.records(reservation_id).items()
                   if r["c"] == 1 or r["e"] > now_ms}
        if not any(r["a"] for r in records.values()):
            raise NotFoundError("reservation_id", f"unknown reservation {reservation_id!r}")
        return records

    def _reservation_of(self, reservation_id: str, records: dict[int, dict]) -> Reservation:
        merged = [(a[1], a[0], int(a[2]), int(a[3])) for r in records.values() for a in r["a"]]
        committed = all(r["c"] == 1 for r in records.values())
        some = next(iter(records.values()))
        expires = None if committed else datetime.fromtimestamp(
            max(r["e"] for r in records.values()) / 1000, UTC)
        return Reservation(reservation_id, some["o"], self._allocations(merged),
                           min(int(r["v"]) for r in records.values()), expires, committed)

