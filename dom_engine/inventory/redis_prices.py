"""Opportunity prices in Redis (see prices.py): a blob per publication holds its encoded prices and
a pointer its id (RedisKeys.prices_blob / prices_pointer); both in one slot, written in one
pipeline (a transaction on standalone Redis). A superseded blob expires after KEEP_OLD_S, so a
process that read the old pointer a moment ago still finds its blob."""

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
from .redis_keys import RedisKeys

KEEP_OLD_S = 300


class RedisPrices:
    """Publishes and reads the current prices of one namespace; reads check the pointer at most
    every `check_every_s` and fetch a blob once per publication. While Redis is unreachable the
    last prices read are answered (routing judges them by their age)."""

    def __init__(self, client: redis.Redis | RedisCluster, keys: RedisKeys, check_every_s: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic, transaction: bool = True) -> None:
        self.client = client
        self.transaction = transaction    # a cluster pipeline keeps the order, one slot, no MULTI
        self.keys = keys
        self.check_every_s = check_every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen: tuple[str, OpportunityPrices] | None = None
        self._checked = -float("inf")

    def publish(self, prices: OpportunityPrices) -> str:
        """Make `prices` the current ones for every process; returns the publication's id."""
        pid = uuid.uuid4().hex
        with unavailable("publish opportunity prices"):
            old = self.client.get(self.keys.prices_pointer)
            pipe = self.client.pipeline(transaction=self.transaction)
            pipe.set(self.keys.prices_blob(pid), encode(prices))
            pipe.set(self.keys.prices_pointer, pid)
            if old:
                pipe.expire(self.keys.prices_blob(old.decode()), KEEP_OLD_S)
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
                pid = self.client.get(self.keys.prices_pointer)
                if pid is None:
                    got = None
                elif seen is not None and seen[0] == pid.decode():
                    got = seen
                else:
                    blob = self.client.get(self.keys.prices_blob(pid.decode()))
                    got = None if blob is None else (pid.decode(), decode(blob))
        except StoreUnavailable:
            return seen[1] if seen else None
        with self._lock:
            self._seen, self._checked = got, now
        return got[1] if got else None
