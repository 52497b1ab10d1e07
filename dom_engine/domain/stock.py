"""What routing reads from an inventory store: one consistent snapshot of a few SKUs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class StockView:
    """A consistent read of one snapshot version for the SKUs of one order."""

    version: int
    skus: tuple[str, ...]
    atp: np.ndarray                      # int64, shape (n_nodes, len(skus))
    staleness_s: float = 0.0             # how old the data may be (0 for the in-memory store)
    capacity_left: np.ndarray | None = None  # int64 shipments left today per node; None = unlimited
    unknown: frozenset[str] = frozenset()    # requested SKUs the snapshot does not have at all
    degraded: bool = False                   # the store was unreachable: this came from a cache

    def narrowed(self, skus: list[str]) -> StockView:
        """The same read restricted to `skus` (all of them in this view), as if only they were read."""
        cols = [self.skus.index(sku) for sku in skus]
        return replace(self, skus=tuple(skus), atp=self.atp[:, cols],
                       unknown=frozenset(s for s in skus if s in self.unknown))

    def column(self, sku: str) -> np.ndarray:
        return self.atp[:, self.skus.index(sku)]


class StoreObserver(Protocol):
    """Told what a shared store does, so the server can export it as metrics."""

    def call(self, op: str, seconds: float, reached: bool) -> None:
        """One store call (`op`: "read", "reserve", ...; its round trips) took `seconds`;
        `reached` is False when the store could not be reached."""
        ...

    def read(self, cached: bool, staleness_s: float) -> None:
        """A stock read was answered from the process's cache (`cached`, data `staleness_s` old)
        or from the store."""
        ...
