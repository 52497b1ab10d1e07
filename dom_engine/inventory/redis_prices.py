"""Opportunity prices in Redis (see prices.py): `<ns>:{prices}:v<id>` holds one publication's
encoded prices and `<ns>:{prices}:current` its id; both in one slot, written in one transaction.
A superseded blob expires after `keep_old_s`, so a process that read the old pointer a moment ago
still finds its blob."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import redis
from redis.cluster import RedisCluster

from ..domain.opportunity import OpportunityPrices
from ..domain.reservation import StoreUnavailable
from .prices import decode, encode
from .redis_connection import unavailable

KEEP_OLD_S = 300


class RedisPrices:
    """Publishes and reads the current prices of one namespace; reads check the pointer at most
    every `check_every_s` and fetch a blob once per publication. While Redis is unreachable the
    last prices read are answered (routing judges them by their age)."""

    def __init__(self, client: redis.Redis | RedisCluster, namespace: str, check_every_s: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic, transaction: bool = True) -> None:
        self.client = client
        self.transaction = transaction    # a cluster pipeline keeps the order, one slot, no MULTI
        self.pointer = f"{namespace}:{{prices}}:current"
        self.blob_prefix = f"{namespace}:{{prices}}:v"
        self.check_every_s = check_every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen: tuple[str, OpportunityPrices] | None = None
        self._checked = -float("inf")

    def publish(self, prices: OpportunityPrices) -> str:
        """Make `prices` the current ones for every process; returns the publication's id."""
        pid = uuid.uuid4().hex
        with unavailable("publish opportunity prices"):
            old = self.client.get(self.pointer)
            pipe = self.client.pipeline(transaction=self.transaction)
            pipe.set(self.blob_prefix + pid, encode(prices))
            pipe.set(self.pointer, pid)
            if old:
                pipe.expire(self.blob_prefix + old.decode(), KEEP_OLD_S)
            pipe.execute()
        with self._lock:
            self._seen, self._checked = (pid, prices), self._monotonic()
        return pid

    def current(self) -> OpportunityPrices | None:
        """The current prices (None when none were ever published)."""
        now = self._monotonic()
        with self._lock:
            seen, fresh = self._seen, now - self._checked <= self.check_every_s
        if fresh:
            return seen[1] if seen else None
        try:
            with unavailable("read opportunity prices"):
                pid = self.client.get(self.pointer)
                if pid is None:
                    got = None
                elif seen is not None and seen[0] == pid.decode():
                    got = seen
                else:
                    blob = self.client.get(self.blob_prefix + pid.decode())
                    got = None if blob is None else (pid.decode(), decode(blob))
        except StoreUnavailable:
            return seen[1] if seen else None
        with self._lock:
            self._seen, self._checked = got, now
        return got[1] if got else None
