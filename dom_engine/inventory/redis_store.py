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
                                      a: [[sku, node index, qty, position]], s: [shards], t: created ms,
                                      r: [rejected node indices], u: [last extend tokens],
                                      xc: token of the extend that created it,
                                      k: token of the reserve attempt that created it}
    dom:{i<s>}:expiry                zset reservation id -> expiry (ms since epoch)
    dom:{i<s>}:events                zset applied delta event id -> when applied (ms)
    dom:{cap}:used                   hash UTC day -> shipments held per node, [N] int64
    dom:{cap}:holds, dom:{cap}:expiry  capacity hold per reservation {d: day, n: [nodes], u: [tokens]},
                                     expiry

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
A hold is checked against the stock buffer of each allocation (`keep`: ATP left after it must be at
least that). Standalone Redis: one script call holds the whole order and its capacity, atomically.
Cluster: one call per shard in shard order, then one for capacity ({cap} slot); if a later call
fails, the attempt releases what it held (compensation, by its token). A process that dies in
between leaves holds that expire after their TTL or are released as abandoned (below). Commit
subtracts the held units from on-hand stock and from reserved, and keeps the record (committed) for
`committed_ttl_s`; a shipment stays counted against its day's capacity. `reject` is a release at
one node that notes the node in every record (`r`) and keeps the records even when empty, so the
reservation stays live (until its expiry) for `extend`. `extend` adds units like a reservation of
its own, merging into existing records and creating records in new shards with the hold's expiry;
on a Cluster it calls the live shards first (they prove the hold still exists), then new shards,
then capacity, and takes the extension out wherever it landed if a later call fails. With a
`token`, an extend is idempotent: repeated with the same token and allocations it adds nothing
twice and on a Cluster finishes what a crash cut short (the token is bound to the allocations).
Reads do not sweep: until a script touches its shard (or `sweep()` runs), an expired hold still
lowers the ATP a read reports (conservative, never an oversell). `reserve_many` sends many orders'
scripts in one pipelined round trip on standalone Redis (each order still all or nothing).
With `coalesce_reserves` (the default) on standalone Redis, threads of one process that call
`reserve` while another's round trip is in flight share the next round trip the same way
(`reserve_batcher`, redis_batcher.py: a leader sends, no timers; a lone caller sends at once).

Cluster edge cases (each script is atomic on its shard; a call across shards is not):
- Compensation tries every shard (and the capacity hold) it must undo even when one fails, but
  what landed on a master it cannot reach, typically the one that failed, stays held until the
  hold's TTL, unless a retry finishes the call (the same order for `reserve`; the same token and
  allocations for `extend`).
- `reserve` attempts (Ops.reserve): every record and capacity hold an attempt makes carries its
  random token (`k`), and its compensation releases only those (the shard whose reply was lost
  included), never what another attempt of the same order holds. An attempt that meets another
  attempt's record gives back what it holds and waits for the order to settle (RedisHolds._settled:
  every shard some record lists in `s` holds one, or a commit / reject / extend touched it), then
  answers that reservation, or tries afresh when the records went; StoreUnavailable after a fifth
  of `attempt_lease_s`. An attempt gives up (compensating) once it has run `attempt_lease_s`
  before a call, so records of an incomplete reservation all older than twice the lease are
  abandoned (a dead process): the waiting attempt releases them and tries afresh; until then a
  half-held order from a crash stays held. A retry that finds every stock shard held (a one-shard
  order whose reply was lost and compensation failed, or an attempt on its way to the capacity
  step) makes the order's capacity hold if it has none (RESERVE with no stock group: never counted
  twice; an attempt whose own capacity call then finds it takes it as done) for the capped nodes
  its records hold units at, expiring with the records; if the day is full, it gets
  ReservationConflict, and a reservation no reject / extend touched is released once abandoned
  (a live attempt gives its units back itself). Assumed: server clocks within a lease of each
  other; a call sent within the lease lands long before twice the lease (socket timeout 2 s).
  Left open: a retry after a `commit` died between its capacity call and its first shard counts
  the shipment again. A retried RouteOrder (`Engine.route`) that finds the order held reserves its
  held units again, so the same path counts its capacity.
- `extend` without a token: an extension cut short by a crash stays held, as far as it got,
  until the hold's expiry, and a retry adds everything again. RejectShipment (`Engine.reject`)
  passes `reject:<reservation id>:<node>`: duplicates re-routing the same units hold them once.
  A retried RejectShipment re-plans only what is not held, so after an extension cut short by a
  crash (no compensation) it holds the rest under another token; the cut-short part stays held,
  its node's shipment uncounted if it was new and capped, until release/expiry.
- Lost capacity replies: `reserve` (compensation releases the order's capacity hold) and `extend`
  (UNEXTEND_CAP takes out what the last extension added) give the shipment back; if the {cap}
  master cannot be reached then, it stays counted until the hold's release or expiry, and a retry
  of the same order / token takes it as its own. `release` and `commit` drop the capacity hold
  before the stock shards, so whatever fails after that leaves records a retry finds and finishes.
- Commit racing extend: `commit` reads the records again until every one is committed, and an
  `extend` that finds a committed record once it is done commits what it added (dropping the
  capacity hold it may have made again), so an extension onto a new shard is never left
  uncommitted. An extend that adds units to several shards the reservation holds already can still
  meet the commit between two of them: its units in the shards it reached first are committed with
  the reservation, and it raises ValidationError (committed). A `release` racing a `commit` can end
  partly released, partly committed likewise.

Clocks: no script reads Redis's clock; every time comes from the calling server's `clock` (UTC), so
servers sharing a Redis need synchronized clocks (NTP). What a skew of D does: a hold's expiry is an
absolute time set by the server that made it (its clock + `hold_ttl_s`; an extension keeps it), and
every script, and every server judging a reservation live, treats as expired what is past by its
own clock: a server D ahead gives holds back D early (a hold made by a slower server lives
`hold_ttl_s` - D; once D >= `hold_ttl_s` the fast server's next script on that shard frees the units
at once and a later commit gets NotFound), a server behind keeps them D longer (conservative).
Shipment capacity is counted on the UTC day of the reserving (or extending) server's clock and read
for the reader's day, so shipments held within D of midnight UTC count against the neighbouring
day (a day can take that many more than its cap). The delta dedupe window (`dedupe_window_s`) and
how long committed records stay (`committed_ttl_s`) shift by D. Snapshot grace periods (Redis EXPIRE,
relative) and cache ages (each process's monotonic clock) do not depend on it.

Lost connections raise StoreUnavailable; quotes are served from the cache up to
`degraded_staleness_s` meanwhile (columns this process changed since they were fetched included:
they are skipped only while Redis answers), and every call tries Redis again (no sticky broken
state). Every script is idempotent, so redis-py re-sending one after a lost reply is harmless.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import redis
from redis.cluster import RedisCluster

from ..domain import ConfigError, Network
from ..domain.opportunity import OpportunityPrices
from ..domain.stock import StoreObserver
from .base import (
    Progress,
    StockDelta,
    StockView,
    StoreUnavailable,
)
from .redis_batcher import Coalescer
from .redis_cache import ReadCache
from .redis_connection import connect, observed, unavailable
from .redis_holds import RedisHolds
from .redis_keys import RedisKeys
from .redis_ops import Ops, build_snapshot
from .redis_prices import RedisPrices
from .rows import check_deltas, level_error

__all__ = ["RedisStore"]

UNLIMITED = np.int64(2**62)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RedisStore(RedisHolds):
    """Inventory in Redis behind the SnapshotStore protocol (see the module docstring); the
    reservation methods come from RedisHolds (redis_holds.py)."""

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
        coalesce_reserves: bool = True,
        attempt_lease_s: float = 5.0,
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
        self._ops = Ops(self.client, self.keys, self._n, self.cluster, attempt_lease_s)
        self.cache_staleness_s = cache_staleness_s
        self._prices = RedisPrices(self.client, self.keys, max(cache_staleness_s, 0.1), monotonic,
                                   transaction=not self.cluster)
        self.degraded_staleness_s = degraded_staleness_s
        self.hold_ttl_s = hold_ttl_s
        self.snapshot_grace_s = snapshot_grace_s
        self.dedupe_window_s = dedupe_window_s
        self.committed_ttl_s = committed_ttl_s
        self.load_batch_rows = max(load_batch_rows, 1)
        self._clock = clock
        self._monotonic = monotonic       # ages of cached reads (tests drive it by hand)
        self._cache = ReadCache()
        self.observer: StoreObserver | None = None    # told every call and read (server metrics)
        self._lock = threading.Lock()
        self._seen = 0                      # the version pointer as last read
        self._catalogue: tuple[int, float, frozenset[str]] | None = None
        self._layout_checked = False
        caps = [node.daily_shipment_capacity for node in network.nodes]
        self._limits = np.array([-1 if c is None else c for c in caps], dtype=np.int64)
        self._has_caps = bool((self._limits >= 0).any())
        # group commit of concurrent reserve() calls; a Cluster reserves shard by shard instead
        self.reserve_batcher: Coalescer | None = (Coalescer(self._send_reserves)
                                                  if coalesce_reserves and not self.cluster else None)

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
            with observed("read the SKU catalogue", "catalogue", self.observer):
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
        degraded = False
        if hit is None:
            try:
                with observed("read stock", "read", self.observer):
                    self._check_layout()
                    version, atp, used, unknown = self._ops.read(skus, self._seen, day)
                self._set_seen(version)
                self._cache.put(version, now, skus, atp, used, day, unknown)
                if self.observer is not None:
                    self.observer.read(False, 0.0)
                return StockView(version, skus, atp, 0.0, self._capacity_left(used), unknown)
            except StoreUnavailable:
                hit = self._cache.get(skus, self.degraded_staleness_s, self._monotonic(),
                                      need_capacity=self._has_caps, day=day, degraded=True)
                if hit is None:
                    raise
                degraded = True
        age = self._monotonic() - hit.oldest
        if self.observer is not None:
            self.observer.read(True, age)
        return StockView(hit.version, skus, hit.atp, age, self._capacity_left(hit.capacity_used), hit.unknown,
                         degraded=degraded)

    def publish_prices(self, prices: OpportunityPrices) -> None:
        self._prices.publish(prices)

    def current_prices(self) -> OpportunityPrices | None:
        return self._prices.current()

    def capacity_left(self) -> np.ndarray | None:
        """Shipments each node may still take today; None when no node has a cap (uncapped nodes
        report 2**62)."""
        if not self._has_caps:
            return None
        with observed("read capacity", "capacity", self.observer):
            return self._capacity_left(self._ops.capacity_used(self._day()))

    # ----------------------------------------------------------------- protocol: writes
    def load_snapshot(self, node_ids: Sequence[str] | np.ndarray, skus: Sequence[str] | np.ndarray,
                      on_hand: np.ndarray,
                      safety: np.ndarray | None = None, progress: Progress | None = None) -> int:
        """Write a new version (pipelined batches, `progress(rows done, rows total)`), then switch
        readers to it atomically. Returns the new version."""
        snap = build_snapshot(self._network, node_ids, skus, on_hand, safety)
        with observed("load a snapshot", "load_snapshot", self.observer):
            self._check_layout()
            version = self._ops.load(snap, self.load_batch_rows, self.snapshot_grace_s, progress)
        self._set_seen(version)
        self._cache.clear()
        self._catalogue = None
        return version

    def apply_deltas(self, deltas: Sequence[StockDelta]) -> int:
        """Apply warehouse changes in order: on hand becomes `on_hand` (when given) plus `adjust`;
        a redelivered event id is skipped. All or none (per shard on a Cluster): every field is
        checked first (rows.check_deltas), and a change that would leave on hand outside 0 to
        MAX_QUANTITY raises ValidationError. Returns how many were applied."""
        rows = []
        for d, node in zip(deltas, check_deltas(self._network, deltas), strict=True):
            rows.append((d.event_id, d.sku, node, -1 if d.on_hand is None else int(d.on_hand),
                         int(d.adjust), -1 if d.safety_stock is None else int(d.safety_stock)))
        if not rows:
            return 0
        with observed("apply stock deltas", "apply_deltas", self.observer):
            self._check_layout()
            status, result = self._ops.deltas(rows, self._seen, self._now_ms(),
                                              int(self.dedupe_window_s * 1000))
        self._cache.invalidate([r[1] for r in rows])
        self._catalogue = None
        if status == "RANGE":
            event_id, on_hand, applied = result
            k = next(i for i, d in enumerate(deltas) if d.event_id == event_id)
            raise level_error(k, deltas[k], on_hand, applied)
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
