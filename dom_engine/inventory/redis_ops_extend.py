"""Extending a live reservation (RejectShipment's re-route holds more units into it) and undoing
an extension cut short: the round trips of RedisStore.extend, mixed into Ops (redis_ops.py)."""

from __future__ import annotations

import contextlib
import json

from .base import StoreUnavailable
from .redis_connection import DOWN
from .redis_keys import RedisKeys


class ExtendOps:
    """Ops' extend / unextend (uses its client, keys, node count, cluster flag and scripts)."""

    r: object
    k: RedisKeys
    n: int
    cluster: bool
    scripts: dict

    def extend(self, rid: str, merged, live: list[int], template: dict, token: str, seen: int, now_ms: int,
               cap_nodes, day: str, oldest_day: str) -> tuple:
        """Add `merged` (node, sku, qty, position, keep) to the live reservation whose uncommitted records
        are in shards `live`; capacity for the capped nodes it does not hold yet. Outcomes as
        EXTEND returns them. Standalone: one atomic call over the new and the live shards. Cluster:
        one call per shard (live shards first: they prove the hold still exists), then capacity;
        when a later call fails the extension is undone where it landed (the shard or capacity
        call whose reply was lost included). `token` makes the whole call idempotent: a retry
        with the same token skips what landed and does the rest."""
        groups: dict[int, dict[str, list[int]]] = {}
        for node, sku, qty, pos, keep in merged:
            groups.setdefault(self.k.shard_of(sku), {}).setdefault(sku, []).extend((node, qty, pos, keep))
        versions = dict.fromkeys(set(groups) | set(live), seen)
        head = [now_ms, rid, self.n]
        tail = [token, json.dumps(template)]

        def call(part: list[int], with_cap: bool) -> list:
            for _ in range(8):
                keys, args = [], [*head, len(part), int(with_cap), *tail]
                for shard in part:
                    skus = groups.get(shard, {})
                    keys += [self.k.shard_version(shard), *self.k.hold_keys(shard)]
                    args += [versions[shard], int(shard in live), len(skus)]
                    for sku, flat in skus.items():
                        keys.append(self.k.stock(shard, versions[shard], sku))
                        args += [sku, len(flat) // 4, *flat]
                if with_cap:
                    keys += self.k.cap_keys()
                    args += [day, oldest_day, len(cap_nodes), *(x for pair in cap_nodes for x in pair)]
                out = self.run("EXTEND", keys, args)
                if out[0] != "STALE":
                    return out
                versions[part[out[1] - 1]] = int(out[2])
            raise StoreUnavailable("the snapshot version kept moving while extending a reservation")

        if not self.cluster:
            return tuple(call(sorted(versions), bool(cap_nodes)))
        order = sorted(s for s in groups if s in live) + sorted(s for s in groups if s not in live)
        if order[0] not in live:  # only new shards: check first that the hold still exists
            out = call([min(live)], False)
            if out[0] != "OK":
                return tuple(out)
        sent: list[int] = []    # shards called, the one in flight included (its reply may be lost)
        cap_sent = False
        try:
            for shard in order:
                sent.append(shard)
                out = call([shard], False)
                if out[0] != "OK":
                    self.unextend(rid, token, sent[:-1], groups, now_ms)
                    return tuple(out)
            if cap_nodes:
                cap_sent = True
                out = call([], True)
                if out[0] != "OK":
                    self.unextend(rid, token, sent, groups, now_ms)
                    return tuple(out)
        except DOWN:
            with contextlib.suppress(Exception):
                self.unextend(rid, token, sent, groups, now_ms, capacity=cap_sent)
            raise
        return ("OK",)

    def unextend(self, rid: str, token: str, shards: list[int], groups: dict, now_ms: int,
                 capacity: bool = False) -> None:
        """Cluster compensation: take the extension `token` out of the shards it reached and, with
        `capacity`, the shipments it added to the capacity hold (a no-op wherever it did not land).
        Every call is tried even if one fails."""
        calls = []
        for shard in shards:
            cells = [x for sku, flat in groups[shard].items()
                     for i in range(0, len(flat), 4) for x in (sku, flat[i], flat[i + 1])]
            args = [now_ms, rid, self.n, token, len(cells) // 3, *cells]
            calls.append(("UNEXTEND", self.k.hold_keys(shard), args))
        if capacity:
            calls.append(("UNEXTEND_CAP", self.k.cap_keys(), [now_ms, rid, self.n, token]))
        self._each(calls)
