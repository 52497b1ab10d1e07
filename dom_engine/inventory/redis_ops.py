"""The Redis round trips of RedisStore: pipelines and Lua script calls over the key layout of
redis_store.py, for standalone Redis (one atomic script call per order) and Redis Cluster (one
call per hash slot, with compensation)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from ..domain import ConfigError, Network
from . import redis_lua as lua
from .base import Progress, StoreUnavailable
from .redis_keys import RedisKeys

_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ClusterDownError,
         redis.exceptions.MasterDownError, redis.exceptions.SlotNotCoveredError,
         redis.exceptions.TryAgainError, redis.exceptions.ClusterError, ConnectionError, TimeoutError)


@contextlib.contextmanager
def unavailable(what: str) -> Iterator[None]:
    """Turn "Redis cannot be reached" errors into StoreUnavailable naming the operation."""
    try:
        yield
    except _DOWN as exc:
        raise StoreUnavailable(f"inventory store (Redis) unreachable, could not {what}: "
                               f"{type(exc).__name__}: {exc}") from exc


def connect(client_or_url: str | redis.Redis | RedisCluster) -> redis.Redis | RedisCluster:
    """A client from a URL (`redis://host:port/db`; `redis+cluster://host:port` for a Cluster),
    with short timeouts and one quick retry so an outage surfaces fast; or the client given."""
    if not isinstance(client_or_url, str):
        return client_or_url
    opts = dict(socket_connect_timeout=1.0, socket_timeout=2.0,
                retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1))
    for scheme in ("redis+cluster://", "rediss+cluster://"):
        if client_or_url.startswith(scheme):
            return RedisCluster.from_url(client_or_url.replace("+cluster", "", 1), **opts)
    return redis.Redis.from_url(client_or_url, **opts)


@dataclass(frozen=True)
class Snapshot:
    """A validated bulk load: per SKU one [2, N] int64 block (on hand, safety) in `blocks`."""

    skus: list[str]
    blocks: np.ndarray          # (n_skus, 2, n_nodes) int64 little-endian
    rows_per_sku: np.ndarray    # rows of the input that went into each SKU
    rows: int


def build_snapshot(network: Network, node_ids: Sequence[str], skus: Sequence[str], on_hand: np.ndarray,
                   safety: np.ndarray | None) -> Snapshot:
    """Validate parallel row columns and scatter them into per-SKU blocks, vectorised."""
    node_col = np.asarray(node_ids, dtype=object)
    qty = np.asarray(on_hand, dtype=np.int64)
    saf = np.zeros_like(qty) if safety is None else np.asarray(safety, dtype=np.int64)
    m = len(node_col)
    if not (len(skus) == m == len(qty) == len(saf)):
        raise ConfigError("rows", f"node_ids, skus, on_hand and safety need one entry per row; got "
                                  f"{m}, {len(skus)}, {len(qty)}, {len(saf)}")
    index = {node_id: i for i, node_id in enumerate(network.node_ids)}
    rows = np.fromiter((index.get(x, -1) for x in node_col), dtype=np.int64, count=m)
    bad = np.flatnonzero(rows < 0)
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"rows[{i}].node_id", f"unknown node {node_col[i]!r} (not in the network)")
    for name, values in (("on_hand", qty), ("safety_stock", saf)):
        neg = np.flatnonzero(values < 0)
        if neg.size:
            i = int(neg[0])
            raise ConfigError(f"rows[{i}].{name}", f"must be >= 0, got {int(values[i])}")
    codes_of: dict[str, int] = {}
    cols = np.fromiter((codes_of.setdefault(str(s), len(codes_of)) for s in skus), dtype=np.int64, count=m)
    if "" in codes_of:
        i = int(np.flatnonzero(cols == codes_of[""])[0])
        raise ConfigError(f"rows[{i}].sku", "must not be empty")
    n = len(network)
    keys = cols * n + rows
    order = np.argsort(keys, kind="stable")
    dup = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    if dup.size:
        first, again = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        raise ConfigError(f"rows[{again}]", f"duplicate row for node {node_col[again]!r} and SKU "
                                            f"{skus[again]!r} (first given at rows[{first}])")
    blocks = np.zeros((len(codes_of), 2, n), dtype="<i8")
    blocks[cols, 0, rows] = qty
    blocks[cols, 1, rows] = saf
    return Snapshot(list(codes_of), blocks, np.bincount(cols, minlength=len(codes_of)), m)


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_record(raw: bytes) -> dict:
    rec = json.loads(raw)
    if not rec["a"]:  # cjson encodes an empty table as {}
        rec["a"] = []
    return rec


class Ops:
    """Round trips over one client. Stateless apart from the registered scripts."""

    def __init__(self, client, keys: RedisKeys, n_nodes: int, cluster: bool) -> None:
        self.r = client
        self.k = keys
        self.n = n_nodes
        self.cluster = cluster
        self.zero_stock = bytes(16 * n_nodes)
        self.zero_row = bytes(8 * n_nodes)
        self.scripts = {name: client.register_script(getattr(lua, name))
                        for name in ("RESERVE", "RELEASE", "COMMIT", "DELTAS", "SWEEP", "FLIP")}

    def pipe(self):
        return self.r.pipeline() if self.cluster else self.r.pipeline(transaction=False)

    def run(self, name: str, keys: list, args: list, client=None) -> list:
        out = self.scripts[name](keys=keys, args=args, client=client)
        return [_s(x) if isinstance(x, bytes) else x for x in out] if isinstance(out, list) else out

    def check_layout(self) -> None:
        want = json.dumps({"shards": self.k.shards, "nodes": self.n})
        self.r.set(self.k.layout, want, nx=True)
        have = _s(self.r.get(self.k.layout))
        if have != want:
            raise ConfigError("redis", f"namespace {self.k.namespace!r} holds layout {have}, this process "
                                       f"has {want} (shards and network size must match)")

    # ----------------------------------------------------------------- reads
    def read(self, skus: Sequence[str], seen: int, day: str | None):
        """(version, atp (nodes x skus), shipments used today or None), one round trip unless
        the version pointer moved since `seen`."""
        by_shard: dict[int, list[int]] = {}
        for j, sku in enumerate(skus):
            by_shard.setdefault(self.k.shard_of(sku), []).append(j)
        version = seen
        for _ in range(5):
            pipe = self.pipe()
            pipe.get(self.k.version)
            for shard, js in by_shard.items():
                # execute_command: redis-py's cluster pipeline blocks .mget() even within one slot
                pipe.execute_command("MGET", *(self.k.stock(shard, version, skus[j]) for j in js))
                pipe.hmget(self.k.reserved(shard), [skus[j] for j in js])
            if day is not None:
                pipe.hget(self.k.cap_used, day)
            out = pipe.execute()
            current = int(out[0] or 0)
            if current != version:
                version = current
                continue
            stock: list[bytes] = [self.zero_stock] * len(skus)
            held: list[bytes] = [self.zero_row] * len(skus)
            body = out[1:1 + 2 * len(by_shard)]
            for (_, js), blobs, res in zip(by_shard.items(), body[0::2], body[1::2], strict=True):
                for j, blob, r in zip(js, blobs, res, strict=True):
                    if blob is not None:
                        stock[j] = blob
                    if r is not None:
                        held[j] = r
            try:
                s = np.frombuffer(b"".join(stock), dtype="<i8").reshape(len(skus), 2, self.n)
                h = np.frombuffer(b"".join(held), dtype="<i8").reshape(len(skus), self.n)
            except ValueError:
                raise ConfigError("redis", f"stored arrays do not have {self.n} nodes: the store was "
                                           "loaded with another network") from None
            atp = (s[:, 0, :] - h - s[:, 1, :]).clip(0).T.astype(np.int64, order="C")
            used = None
            if day is not None:
                used = self._cap_array(out[-1])
            return version, atp, used
        raise StoreUnavailable("the snapshot version kept moving during a read (loads too frequent)")

    def _cap_array(self, raw: bytes | None) -> np.ndarray:
        if raw is None:
            return np.zeros(self.n, dtype=np.int64)
        return np.frombuffer(raw, dtype="<i8").astype(np.int64)

    def capacity_used(self, day: str) -> np.ndarray:
        return self._cap_array(self.r.hget(self.k.cap_used, day))

    def catalogue(self) -> tuple[int, set[str]]:
        version = int(self.r.get(self.k.version) or 0)
        for _ in range(5):
            pipe = self.pipe()
            pipe.get(self.k.version)
            for shard in range(self.k.shards):
                pipe.smembers(self.k.catalogue(shard, version))
            out = pipe.execute()
            current = int(out[0] or 0)
            if current == version:
                return version, {_s(x) for members in out[1:] for x in members}
            version = current
        raise StoreUnavailable("the snapshot version kept moving while reading the SKU catalogue")

    def records(self, rid: str) -> dict[int, dict]:
        pipe = self.pipe()
        for shard in range(self.k.shards):
            pipe.hget(self.k.holds(shard), rid)
        return {shard: decode_record(raw) for shard, raw in enumerate(pipe.execute()) if raw is not None}

    # ----------------------------------------------------------------- reservations
    def _reserve_request(self, rid, order_id, merged, now_ms, expires_ms, seen, cap_nodes, day, oldest_day):
        """(shards, versions, cap, build) where build(part, with_cap) gives RESERVE's keys and args."""
        groups: dict[int, dict[str, list[int]]] = {}
        for node, sku, qty, k in merged:
            groups.setdefault(self.k.shard_of(sku), {}).setdefault(sku, []).extend((node, qty, k))
        shards = sorted(groups)
        versions = dict.fromkeys(shards, seen)
        cap = (day, oldest_day, cap_nodes) if cap_nodes else None
        head = [now_ms, expires_ms, rid, order_id, self.n]
        shards_json = json.dumps(shards)

        def build(part: list[int], with_cap: bool) -> tuple[list, list]:
            keys, args = [], [*head, len(part), int(with_cap), shards_json, now_ms]
            for shard in part:
                keys += [self.k.shard_version(shard), *self.k.hold_keys(shard)]
                args += [shard, versions[shard], len(groups[shard])]
                for sku, flat in groups[shard].items():
                    keys.append(self.k.stock(shard, versions[shard], sku))
                    args += [sku, len(flat) // 3, *flat]
            if with_cap:
                keys += self.k.cap_keys()
                args += [cap[0], cap[1], len(cap[2])] + [x for pair in cap[2] for x in pair]
            return keys, args

        return shards, versions, cap, build

    def reserve_pipelined(self, requests: list[tuple]) -> list[tuple]:
        """Standalone Redis: many orders' RESERVE calls in one round trip. Outcomes as reserve()
        gives them, except ("STALE",) where the version moved (the caller retries that order)."""
        pipe = self.pipe()
        versions = []
        for request in requests:
            shards, vers, cap, build = self._reserve_request(*request)
            keys, args = build(shards, cap is not None)
            self.scripts["RESERVE"](keys=keys, args=args, client=pipe)
            versions.append(max(vers.values()))
        outcomes = []
        for out, version in zip(pipe.execute(), versions, strict=True):
            out = [_s(x) if isinstance(x, bytes) else x for x in out]
            outcomes.append(("OK", version) if out[0] == "OK" else ("STALE",) if out[0] == "STALE"
                            else tuple(out))
        return outcomes

    def reserve(self, rid, order_id, merged, now_ms, expires_ms, seen, cap_nodes, day, oldest_day):
        shards, versions, cap, build = self._reserve_request(rid, order_id, merged, now_ms, expires_ms, seen,
                                                             cap_nodes, day, oldest_day)

        def call(part: list[int], with_cap: bool) -> list:
            for _ in range(8):
                out = self.run("RESERVE", *build(part, with_cap))
                if out[0] != "STALE":
                    return out
                versions[part[out[1] - 1]] = int(out[2])
            raise StoreUnavailable("the snapshot version kept moving during a reservation")

        if not self.cluster:
            out = call(shards, cap is not None)
            return ("OK", max(versions.values())) if out[0] == "OK" else tuple(out)
        held: list[int] = []
        existed = False
        try:
            for shard in shards:
                out = call([shard], False)
                if out[0] == "OK":
                    held.append(shard)
                elif out[0] == "EXISTS":
                    existed = True
                else:
                    self.compensate(rid, held, now_ms)
                    return tuple(out)
            if not held:
                return ("EXISTS",)
            if cap is not None:
                out = call([], True)
                if out[0] == "CAPACITY":
                    self.compensate(rid, held, now_ms)
                    return tuple(out)
        except _DOWN:
            with contextlib.suppress(Exception):
                self.compensate(rid, held, now_ms)
            raise
        return ("EXISTS",) if existed else ("OK", max(versions.values()))

    def compensate(self, rid: str, shards: list[int], now_ms: int) -> None:
        """Cluster: release the shards this attempt already held (a later shard failed)."""
        for shard in shards:
            self.run("RELEASE", self.k.hold_keys(shard), [now_ms, rid, -1, self.n, 1, 0])

    def release(self, rid: str, shards: list[int], node: int, now_ms: int, has_caps: bool) -> tuple[int, int]:
        """(records found, allocations left); found -1 when the reservation is committed."""
        if not self.cluster:
            keys = [k for shard in shards for k in self.k.hold_keys(shard)]
            keys += self.k.cap_keys() if has_caps else []
            out = self.run("RELEASE", keys, [now_ms, rid, node, self.n, len(shards), int(has_caps)])
            return (-1, 0) if out[0] == "COMMITTED" else (int(out[0]), int(out[1]))
        found = left = 0
        for shard in shards:
            out = self.run("RELEASE", self.k.hold_keys(shard), [now_ms, rid, node, self.n, 1, 0])
            if out[0] == "COMMITTED":
                return -1, 0
            found, left = found + int(out[0]), left + int(out[1])
        if has_caps:
            self.run("RELEASE", self.k.cap_keys(), [now_ms, rid, node, self.n, 0, 1])
        return found, left

    def commit(self, rid, skus_by_shard: dict[int, list[str]], seen, now_ms, keep_until, has_caps):
        shards = sorted(skus_by_shard)
        versions = dict.fromkeys(shards, seen)
        parts = [shards] if not self.cluster else [[s] for s in shards]
        found = 0
        for part in parts:
            for _ in range(8):
                with_cap = has_caps and not self.cluster
                keys, args = [], [now_ms, rid, self.n, keep_until, len(part), int(with_cap)]
                for shard in part:
                    keys += [self.k.shard_version(shard), *self.k.hold_keys(shard)]
                    keys += [self.k.stock(shard, versions[shard], sku) for sku in skus_by_shard[shard]]
                    args += [versions[shard], len(skus_by_shard[shard]), *skus_by_shard[shard]]
                if with_cap:
                    keys += self.k.cap_keys()
                out = self.run("COMMIT", keys, args)
                if out[0] != "STALE":
                    break
                versions[part[out[1] - 1]] = int(out[2])
            else:
                raise StoreUnavailable("the snapshot version kept moving during a commit")
            if out[0] == "RETRY":
                return "RETRY", 0
            found += out[1]
        if has_caps and self.cluster:
            self.run("COMMIT", self.k.cap_keys(), [now_ms, rid, self.n, keep_until, 0, 1])
        return "OK", found

    def sweep(self, now_ms: int) -> int:
        calls = [(self.k.hold_keys(s), [now_ms, self.n, "stock"]) for s in range(self.k.shards)]
        calls.append((self.k.cap_keys(), [now_ms, self.n, "cap"]))
        if self.cluster:
            return sum(int(self.run("SWEEP", keys, args)) for keys, args in calls)
        pipe = self.pipe()
        for keys, args in calls:
            self.scripts["SWEEP"](keys=keys, args=args, client=pipe)
        return sum(int(x) for x in pipe.execute())

    # ----------------------------------------------------------------- writes
    def deltas(self, rows, seen: int, now_ms: int, window_ms: int) -> tuple[str, object]:
        """("OK", applied) or ("NEGATIVE", event_id, on_hand): nothing applied. Standalone Redis
        applies the whole batch atomically; a Cluster applies it shard by shard."""
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
            if out[0] == "NEGATIVE":
                return "NEGATIVE", (out[1], out[2], applied)
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
            for sku in skus:
                pipe.pexpire(self.k.stock(shard, version, _s(sku)), ms)
            pipe.pexpire(self.k.catalogue(shard, version), ms)
        pipe.execute()
