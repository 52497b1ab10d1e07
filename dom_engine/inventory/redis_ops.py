"""The Redis round trips of RedisStore: pipelines and Lua script calls over the key layout of
redis_store.py, for standalone Redis (one atomic script call per order) and Redis Cluster (one
call per hash slot, with compensation). Snapshot loads and deltas are in redis_snapshots.py."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Sequence

import numpy as np
import redis

from ..domain import ConfigError
from . import redis_lua as lua
from . import redis_lua_extend as lua_extend
from . import redis_lua_stock as lua_stock
from .base import StoreUnavailable
from .redis_connection import DOWN, decode_record, text
from .redis_keys import RedisKeys
from .redis_ops_extend import ExtendOps
from .redis_snapshots import Snapshot, SnapshotWrites, build_snapshot

__all__ = ["Ops", "Snapshot", "build_snapshot"]

class Ops(SnapshotWrites, ExtendOps):
    """Round trips over one client. Stateless apart from the registered scripts."""

    def __init__(self, client, keys: RedisKeys, n_nodes: int, cluster: bool,
                 attempt_lease_s: float = 5.0) -> None:
        self.r = client
        self.attempt_lease_s = attempt_lease_s  # see Ops.reserve
        self.k = keys
        self.n = n_nodes
        self.cluster = cluster
        self.zero_stock = bytes(16 * n_nodes)
        self.zero_row = bytes(8 * n_nodes)
        self.scripts = {name: client.register_script(getattr(lua, name))
                        for name in ("RESERVE", "RELEASE", "COMMIT")}
        self.scripts.update((name, client.register_script(getattr(lua_stock, name)))
                            for name in ("DELTAS", "SWEEP", "FLIP"))
        self.scripts.update((name, client.register_script(getattr(lua_extend, name)))
                            for name in ("EXTEND", "UNEXTEND", "UNEXTEND_CAP"))

    def pipe(self):
        return self.r.pipeline() if self.cluster else self.r.pipeline(transaction=False)

    def run(self, name: str, keys: list, args: list, client=None) -> list:
        out = self.scripts[name](keys=keys, args=args, client=client)
        return [text(x) if isinstance(x, bytes) else x for x in out] if isinstance(out, list) else out

    def check_layout(self) -> None:
        want = json.dumps({"shards": self.k.shards, "nodes": self.n})
        self.r.set(self.k.layout, want, nx=True)
        have = text(self.r.get(self.k.layout))
        if have != want:
            raise ConfigError("redis", f"namespace {self.k.namespace!r} holds layout {have}, this process "
                                       f"has {want} (shards and network size must match)")

    # ----------------------------------------------------------------- reads
    def read(self, skus: Sequence[str], seen: int, day: str | None):
        """(version, atp (nodes x skus), shipments used today or None, SKUs the version does not
        have), one round trip unless the version pointer moved since `seen`."""
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
            stock: list[bytes | None] = [None] * len(skus)
            held: list[bytes] = [self.zero_row] * len(skus)
            body = out[1:1 + 2 * len(by_shard)]
            for (_, js), blobs, res in zip(by_shard.items(), body[0::2], body[1::2], strict=True):
                for j, blob, r in zip(js, blobs, res, strict=True):
                    if blob is not None:
                        stock[j] = blob
                    if r is not None:
                        held[j] = r
            unknown = frozenset(skus[j] for j, blob in enumerate(stock) if blob is None)
            try:
                s = np.frombuffer(b"".join(self.zero_stock if b is None else b for b in stock),
                                  dtype="<i8").reshape(len(skus), 2, self.n)
                h = np.frombuffer(b"".join(held), dtype="<i8").reshape(len(skus), self.n)
            except ValueError:
                raise ConfigError("redis", f"stored arrays do not have {self.n} nodes: the store was "
                                           "loaded with another network") from None
            atp = (s[:, 0, :] - h - s[:, 1, :]).clip(0).T.astype(np.int64, order="C")
            used = None
            if day is not None:
                used = self._cap_array(out[-1])
            return version, atp, used, unknown
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
                return version, {text(x) for members in out[1:] for x in members}
            version = current
        raise StoreUnavailable("the snapshot version kept moving while reading the SKU catalogue")

    def records(self, rid: str) -> dict[int, dict]:
        pipe = self.pipe()
        for shard in range(self.k.shards):
            pipe.hget(self.k.holds(shard), rid)
        return {shard: decode_record(raw) for shard, raw in enumerate(pipe.execute()) if raw is not None}

    # ----------------------------------------------------------------- reservations
    def _reserve_request(self, rid, order_id, merged, now_ms, expires_ms, seen, cap_nodes, day, oldest_day):
        """(shards, versions, cap, build) where build(part, with_cap) gives RESERVE's keys and args,
        and the attempt's token (a fresh one per call: each call is one attempt)."""
        groups: dict[int, dict[str, list[int]]] = {}
        for node, sku, qty, k, keep in merged:
            groups.setdefault(self.k.shard_of(sku), {}).setdefault(sku, []).extend((node, qty, k, keep))
        shards = sorted(groups)
        versions = dict.fromkeys(shards, seen)
        cap = (day, oldest_day, cap_nodes) if cap_nodes else None
        head = [now_ms, expires_ms, rid, order_id, self.n]
        shards_json = json.dumps(shards)
        token = uuid.uuid4().hex

        def build(part: list[int], with_cap: bool) -> tuple[list, list]:
            keys, args = [], [*head, len(part), int(with_cap), shards_json, now_ms, token]
            for shard in part:
                keys += [self.k.shard_version(shard), *self.k.hold_keys(shard)]
                args += [shard, versions[shard], len(groups[shard])]
                for sku, flat in groups[shard].items():
                    keys.append(self.k.stock(shard, versions[shard], sku))
                    args += [sku, len(flat) // 4, *flat]
            if with_cap:
                keys += self.k.cap_keys()
                args += [cap[0], cap[1], len(cap[2])] + [x for pair in cap[2] for x in pair]
            return keys, args

        return shards, versions, cap, build, token

    def reserve_pipelined(self, requests: list[tuple]) -> list[tuple]:
        """Standalone Redis: many orders' RESERVE calls in one round trip. Outcomes as reserve()
        gives them, except ("STALE",) where the version moved (the caller retries that order)."""
        script, calls, versions = self.scripts["RESERVE"], [], []
        for request in requests:
            shards, vers, cap, build, _ = self._reserve_request(*request)
            calls.append(build(shards, cap is not None))
            versions.append(max(vers.values()))
        outs: list = [None] * len(calls)
        todo = list(range(len(calls)))
        for _ in range(2):
            # plain EVALSHA, not Script(client=pipe): redis-py would precede every pipeline with
            # a SCRIPT EXISTS round trip; a NOSCRIPT reply (Redis restarted) did not run, so
            # those calls are sent again once the script is loaded
            pipe = self.pipe()
            for keys, args in (calls[i] for i in todo):
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            missing = []
            for i, out in zip(todo, pipe.execute(raise_on_error=False), strict=True):
                if isinstance(out, redis.exceptions.NoScriptError):
                    missing.append(i)
                elif isinstance(out, Exception):
                    raise out
                else:
                    outs[i] = out
            if not missing:
                break
            script.sha, todo = self.r.script_load(script.script), missing
        else:
            raise StoreUnavailable("Redis keeps losing the RESERVE script (restarting?)")
        outcomes = []
        for out, version in zip(outs, versions, strict=True):
            out = [text(x) if isinstance(x, bytes) else x for x in out]
            outcomes.append(("OK", version) if out[0] == "OK" else ("STALE",) if out[0] == "STALE"
                            else tuple(out))
        return outcomes

    def reserve(self, rid, order_id, merged, now_ms, expires_ms, seen, cap_nodes, day, oldest_day):
        """RESERVE the order: ("OK", version) | ("EXISTS", ...) | a conflict outcome. Standalone:
        one atomic call. Cluster: one call per shard in shard order, then capacity; every record
        (and the capacity hold) this attempt makes carries its token, and its compensation takes
        out only those, so it never releases what another attempt of the same order holds. An
        attempt that meets another attempt's record backs off (gives back what it holds) and
        answers EXISTS: the caller waits for that attempt to settle (RedisHolds). An attempt that
        runs longer than `attempt_lease_s` before a call gives back what it holds and raises
        StoreUnavailable: another attempt may treat records older than twice the lease as abandoned
        (a call sent within the lease lands long before that: the client's socket timeout is 2 s)."""
        shards, versions, cap, build, token = self._reserve_request(rid, order_id, merged, now_ms, expires_ms,
                                                                    seen, cap_nodes, day, oldest_day)

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
        started = time.monotonic()
        sent: list[int] = []   # shards called, the one in flight included (its reply may be lost)
        try:
            for shard in shards:
                self._within_lease(rid, sent, now_ms, token, started)
                sent.append(shard)
                out = call([shard], False)
                if out[0] == "EXISTS" and out[1] != token:
                    sent.pop()  # another attempt's record: not ours to give back
                    self.compensate(rid, sent, now_ms, token)
                    return ("EXISTS",)
                if out[0] not in ("OK", "EXISTS"):
                    self.compensate(rid, sent[:-1], now_ms, token)
                    return tuple(out)
            if cap is not None:
                self._within_lease(rid, sent, now_ms, token, started)
                out = call([], True)
                if out[0] == "CAPACITY":
                    self.compensate(rid, sent, now_ms, token)
                    return tuple(out)
        except DOWN:
            with contextlib.suppress(Exception):
                self.compensate(rid, sent, now_ms, token)
            raise
        return ("OK", max(versions.values()))

    def _within_lease(self, rid: str, sent: list[int], now_ms: int, token: str, started: float) -> None:
        """Cluster: give back what this attempt holds and raise StoreUnavailable once it has run
        past its lease (another attempt may then release its records as abandoned)."""
        if time.monotonic() - started > self.attempt_lease_s:
            with contextlib.suppress(*DOWN):
                self.compensate(rid, sent, now_ms, token)
            raise StoreUnavailable(f"reserving {rid!r} took longer than its lease of "
                                   f"{self.attempt_lease_s} s; nothing is held, retry")

    def hold_capacity(self, rid: str, order_id: str, cap_nodes: list[tuple[int, int]], now_ms: int,
                      expires_ms: int, created_ms: int, day: str, oldest_day: str) -> tuple:
        """Cluster, a reserve retry that found every stock shard of the order held: the order's
        capacity hold (RESERVE with no stock group), made only if the order has none, so it never
        counts twice. ("OK",) | ("EXISTS", token) | ("CAPACITY", node, limit)."""
        args = [now_ms, expires_ms, rid, order_id, self.n, 0, 1, "[]", created_ms, uuid.uuid4().hex, day,
                oldest_day,
                len(cap_nodes), *(x for pair in cap_nodes for x in pair)]
        return tuple(self.run("RESERVE", self.k.cap_keys(), args))

    def compensate(self, rid: str, shards: list[int], now_ms: int, token: str = "") -> None:
        """Cluster: release the order's records in `shards` and its capacity hold; with `token`
        (an attempt undoing itself) only those that attempt made, so a record or capacity hold of
        another attempt of the same order stays. Every call is tried even if one fails."""
        if shards:
            args = [now_ms, rid, -1, self.n, 1, 0, 0, token]
            calls = [("RELEASE", self.k.hold_keys(s), args) for s in shards]
            self._each([*calls, ("RELEASE", self.k.cap_keys(), [now_ms, rid, -1, self.n, 0, 1, 0, token])])

    def _each(self, calls: list[tuple[str, list, list]]) -> None:
        """Run every script call (compensation: a call whose master is down must not stop the
        calls to the others); the first failure is raised at the end."""
        failed: BaseException | None = None
        for name, keys, args in calls:
            try:
                self.run(name, keys, args)
            except DOWN as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def release(self, rid: str, shards: list[int], node: int, now_ms: int, has_caps: bool,
                reject: bool = False) -> tuple[int, int]:
        """(records found, allocations left); found -1 when the reservation is committed. With
        `reject`, every record also notes `node` among its rejected nodes (and stays, even empty)."""
        if not self.cluster:
            keys = [k for shard in shards for k in self.k.hold_keys(shard)]
            keys += self.k.cap_keys() if has_caps else []
            args = [now_ms, rid, node, self.n, len(shards), int(has_caps), int(reject)]
            out = self.run("RELEASE", keys, args)
            return (-1, 0) if out[0] == "COMMITTED" else (int(out[0]), int(out[1]))
        if has_caps:
            # capacity first: if a stock shard's call fails after it, the records left make a retry
            # find the reservation and finish; capacity last, a lost reply there would leave the
            # stock released, a retry NotFound, and the shipments counted until the hold's expiry
            # (a committed reservation has no capacity hold left: commit drops it first)
            self.run("RELEASE", self.k.cap_keys(), [now_ms, rid, node, self.n, 0, 1])
        found = left = 0
        for shard in shards:
            out = self.run("RELEASE", self.k.hold_keys(shard), [now_ms, rid, node, self.n, 1, 0, int(reject)])
            if out[0] == "COMMITTED":
                return -1, 0
            found, left = found + int(out[0]), left + int(out[1])
        return found, left

    def commit(self, rid, skus_by_shard: dict[int, list[str]], seen, now_ms, keep_until, has_caps):
        """Commit the records of the shards in `skus_by_shard` (those already committed are
        counted, not changed): ("OK", records found) or ("RETRY", 0) when a record holds a SKU not
        listed (it changed since it was read). Standalone: one atomic call with the capacity hold.
        Cluster: the capacity hold is dropped first (its shipments stay counted), then one call per
        shard: a retry after any failure finds shards still to commit and does it all again, while
        dropping it last, a failure there would leave a committed reservation whose hold gives the
        shipments back at expiry."""
        shards = sorted(skus_by_shard)
        versions = dict.fromkeys(shards, seen)
        if has_caps and self.cluster:
            self.run("COMMIT", self.k.cap_keys(), [now_ms, rid, self.n, keep_until, 0, 1])
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
        return "OK", found

    def take_expired(self, claim_ttl_s: int = 86_400) -> list[dict]:
        """Take every shard's list of holds its sweeps gave back ({r, o, e, v, a} per shard record),
        keeping the reservations this call claims first: several processes may take at once,
        and each expiry is reported by one of them."""
        pipe = self.pipe()
        for shard in range(self.k.shards):
            pipe.execute_command("LPOP", self.k.expired(shard), 10_000)
        entries = [json.loads(raw) for popped in pipe.execute() if popped for raw in popped]
        if not entries:
            return []
        keys = list(dict.fromkeys(self.k.expired_claim(f"{e['r']}:{e['e']}") for e in entries))
        pipe = self.pipe()
        for key in keys:
            pipe.set(key, 1, nx=True, ex=claim_ttl_s)
        won = {key for key, ok in zip(keys, pipe.execute(), strict=True) if ok}
        return [e for e in entries if self.k.expired_claim(f"{e['r']}:{e['e']}") in won]

    def sweep(self, now_ms: int) -> int:
        calls = [(self.k.hold_keys(s), [now_ms, self.n, "stock"]) for s in range(self.k.shards)]
        calls.append((self.k.cap_keys(), [now_ms, self.n, "cap"]))
        if self.cluster:
            return sum(int(self.run("SWEEP", keys, args)) for keys, args in calls)
        pipe = self.pipe()
        for keys, args in calls:
            self.scripts["SWEEP"](keys=keys, args=args, client=pipe)
        return sum(int(x) for x in pipe.execute())
