"""Snapshot writes of RedisStore: validating a bulk load into per-SKU blocks, writing a version in
pipelined batches and switching the version pointers, and applying warehouse deltas (see the key
layout in redis_store.py). `SnapshotWrites` is mixed into `redis_ops.Ops`, whose client, keys and
registered scripts it uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..domain import Network, ValidationError
from .base import Progress, StoreUnavailable
from .rows import check_rows


@dataclass(frozen=True)
class Snapshot:
    """A validated bulk load: per SKU one [2, N] int64 block (on hand, safety) in `blocks`."""

    skus: list[str]
    blocks: np.ndarray          # (n_skus, 2, n_nodes) int64 little-endian
    rows_per_sku: np.ndarray    # rows of the input that went into each SKU
    rows: int


def build_snapshot(network: Network, node_ids: Sequence[str], skus: Sequence[str], on_hand: np.ndarray,
                   safety: np.ndarray | None) -> Snapshot:
    """Validate parallel row columns (ValidationError naming `rows[i]`) and scatter them into
    per-SKU blocks, vectorised."""
    checked = check_rows(network, node_ids, skus, on_hand, safety, error=ValidationError)
    blocks = np.zeros((len(checked.skus), 2, len(network)), dtype="<i8")
    blocks[checked.codes, 0, checked.nodes] = checked.on_hand
    blocks[checked.codes, 1, checked.nodes] = checked.safety
    counts = np.bincount(checked.codes, minlength=len(checked.skus))
    return Snapshot(checked.skus, blocks, counts, len(checked.nodes))



class SnapshotWrites:
    """Snapshot loads, pointer flips and deltas; needs `r`, `k`, `n`, `cluster`, `scripts`, `pipe`
    and `run` from the class it is mixed into (Ops)."""

    def deltas(self, rows, seen: int, now_ms: int, window_ms: int) -> tuple[str, object]:
        """("OK", applied) or ("RANGE", (event_id, on_hand, applied before)): a delta would leave
        on hand outside 0..MAX_QUANTITY and nothing of its call was applied. Standalone Redis
        applies the whole batch in one atomic call; a Cluster applies it shard by shard, so shards
        called before the refused one keep their deltas (their event ids are consumed)."""
        by_shard: dict[int, list[tuple]] = {}
        for row in rows:
            by_shard.setdefault(self.k.shard_of(row[1]), []).append(row)
        shards = sorted(by_shard)
        versions = dict.fromkeys(shards, seen)
        applied = 0
        for part in ([shards] if not self.cluster else [[s] for s in shards]):
            for _ in range(8):
                keys, args = [], [now_ms, self.n, window_ms, len(part)]
                for shard in part:
                    deltas = by_shard[shard]
                    skus = list(dict.fromkeys(r[1] for r in deltas))
                    index = {sku: i + 1 for i, sku in enumerate(skus)}
                    keys += [self.k.shard_version(shard), self.k.events(shard),
                             self.k.catalogue(shard, versions[shard]),
                             *(self.k.stock(shard, versions[shard], sku) for sku in skus)]
                    args += [versions[shard], len(skus), len(deltas)]
                    for eid, sku, node, set_to, adjust, safety in deltas:
                        args += [eid, index[sku], sku, node, set_to, adjust, safety]
                out = self.run("DELTAS", keys, args)
                if out[0] != "STALE":
                    break
                versions[part[out[1] - 1]] = int(out[2])
            else:
                raise StoreUnavailable("the snapshot version kept moving while applying deltas")
            if out[0] == "RANGE":
                return "RANGE", (out[1], int(out[2]), applied)
            applied += int(out[1])
        return "OK", applied

    def load(self, snap: Snapshot, batch_rows: int, grace_s: float, progress: Progress | None) -> int:
        current = int(self.r.get(self.k.version) or 0)
        version = int(self.r.incr(self.k.sequence))
        while version <= current:
            version = int(self.r.incr(self.k.sequence))
        shard_of = np.fromiter((self.k.shard_of(s) for s in snap.skus), dtype=np.int64, count=len(snap.skus))
        order = np.argsort(shard_of, kind="stable")
        flat = memoryview(snap.blocks.reshape(-1).view(np.uint8))
        size = 16 * self.n
        done = 0
        if progress:
            progress(0, snap.rows)
        start = 0
        while start < len(order):
            # one batch: SKUs worth ~batch_rows input rows, in MSET chunks of one shard each
            stop, rows = start, 0
            while stop < len(order) and (rows < batch_rows or stop == start):
                rows += int(snap.rows_per_sku[order[stop]])
                stop += 1
            pipe = self.pipe()
            chunk: dict[str, memoryview] = {}
            names: list[str] = []
            for pos in range(start, stop):
                j = int(order[pos])
                shard = int(shard_of[j])
                sku = snap.skus[j]
                chunk[self.k.stock(shard, version, sku)] = flat[j * size:(j + 1) * size]
                names.append(sku)
                last = pos + 1 == stop or int(shard_of[order[pos + 1]]) != shard or len(chunk) >= 500
                if last:
                    # execute_command: redis-py's cluster pipeline blocks .mset() even within one slot
                    pipe.execute_command("MSET", *(x for kv in chunk.items() for x in kv))
                    pipe.sadd(self.k.catalogue(shard, version), *names)
                    chunk, names = {}, []
            pipe.execute()
            done += rows
            start = stop
            if progress:
                progress(done, snap.rows)
        previous = self.flip(version)
        stale = {(s, v) for s, v in previous.items() if s >= 0 and v < version}
        if previous[-1] >= version:  # a newer load won the race: ours is garbage after the grace
            stale |= {(s, version) for s in range(self.k.shards)}
        self.expire_versions(stale, grace_s)
        return version

    def flip(self, version: int) -> dict[int, int]:
        """Move every shard pointer, then the readers' pointer (key -1), forward to `version`."""
        previous: dict[int, int] = {}
        if self.cluster:
            for shard in range(self.k.shards):
                previous[shard] = int(self.run("FLIP", [self.k.shard_version(shard)], [version]))
        else:
            pipe = self.pipe()
            for shard in range(self.k.shards):
                self.scripts["FLIP"](keys=[self.k.shard_version(shard)], args=[version], client=pipe)
            previous.update(enumerate(int(x) for x in pipe.execute()))
        previous[-1] = int(self.run("FLIP", [self.k.version], [version]))
        return previous

    def expire_versions(self, stale: set[tuple[int, int]], grace_s: float) -> None:
        ms = max(int(grace_s * 1000), 1)
        if not stale:
            return
        pipe = self.pipe()
        for shard, version in sorted(stale):
            pipe.smembers(self.k.catalogue(shard, version))
        members = pipe.execute()
        pipe = self.pipe()
        for (shard, version), skus in zip(sorted(stale), members, strict=True):
            for raw in skus:
                sku = raw.decode() if isinstance(raw, bytes) else str(raw)
                pipe.pexpire(self.k.stock(shard, version, sku), ms)
            pipe.pexpire(self.k.catalogue(shard, version), ms)
        pipe.execute()
