"""The read-through, in-process cache of the Redis store: ATP columns per SKU with the time they
were fetched, so hot SKUs skip Redis for up to `cache_staleness_s` (and, while Redis is down, up to
the longer degraded bound)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class CachedRead:
    """ATP columns of the requested SKUs, all from one snapshot version."""

    version: int
    atp: np.ndarray            # (n_nodes, len(skus)), a fresh array the caller may keep
    oldest: float              # monotonic time the oldest column was fetched
    capacity_used: np.ndarray | None
    capacity_day: str | None
    unknown: frozenset[str] = frozenset()   # requested SKUs the version does not have


class ReadCache:
    """Per-SKU ATP columns (LRU-bounded) plus today's shipment counts, behind one lock."""

    def __init__(self, max_skus: int = 100_000) -> None:
        self._max = max_skus
        self._lock = threading.Lock()
        # sku -> (version, fetched, atp column, dirty, known); dirty = this process changed the SKU
        # since; known = the version has the SKU at all
        self._cols: OrderedDict[str, tuple[int, float, np.ndarray, bool, bool]] = OrderedDict()
        self._cap: tuple[str, float, np.ndarray, bool] | None = None

    def get(self, skus: Sequence[str], max_age_s: float, now: float, *, need_capacity: bool,
            day: str | None, degraded: bool = False) -> CachedRead | None:
        """Every SKU cached, from one version, fetched no longer than `max_age_s` ago; or None.
        Columns this process has changed since they were fetched count only when `degraded`."""
        if max_age_s <= 0 or not skus:
            return None
        with self._lock:
            cols = []
            unknown = []
            version: int | None = None
            oldest = now
            for sku in skus:
                entry = self._cols.get(sku)
                if entry is None or (version is not None and entry[0] != version):
                    return None
                version, fetched, col, dirty, known = entry
                if now - fetched > max_age_s or (dirty and not degraded):
                    return None
                oldest = min(oldest, fetched)
                cols.append(col)
                if not known:
                    unknown.append(sku)
            used = None
            if need_capacity:
                if (self._cap is None or self._cap[0] != day or now - self._cap[1] > max_age_s
                        or (self._cap[3] and not degraded)):
                    return None
                used = self._cap[2]
                oldest = min(oldest, self._cap[1])
            for sku in skus:
                self._cols.move_to_end(sku)
        assert version is not None
        return CachedRead(version, np.stack(cols, axis=1), oldest, used, day, frozenset(unknown))

    def put(self, version: int, fetched: float, skus: Sequence[str], atp: np.ndarray,
            capacity_used: np.ndarray | None, day: str | None, unknown: frozenset[str] = frozenset()) -> None:
        with self._lock:
            for j, sku in enumerate(skus):
                self._cols[sku] = (version, fetched, atp[:, j].copy(), False, sku not in unknown)
                self._cols.move_to_end(sku)
            while len(self._cols) > self._max:
                self._cols.popitem(last=False)
            if capacity_used is not None and day is not None:
                self._cap = (day, fetched, capacity_used, False)

    def invalidate(self, skus: Sequence[str] | None = None, *, capacity: bool = False) -> None:
        """This process just changed these SKUs (all when None): normal reads fetch them again,
        but the old columns still serve quotes while Redis is unreachable."""
        with self._lock:
            for sku in self._cols if skus is None else skus:
                entry = self._cols.get(sku)
                if entry is not None:
                    self._cols[sku] = (*entry[:3], True, entry[4])
            if (capacity or skus is None) and self._cap is not None:
                self._cap = (*self._cap[:3], True)

    def clear(self) -> None:
        """Forget everything (a new snapshot was loaded)."""
        with self._lock:
            self._cols.clear()
            self._cap = None
