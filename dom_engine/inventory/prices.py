"""Opportunity prices kept by a store: every server process routes on the same prices.

The memory store keeps the last published OpportunityPrices in process. The Redis store keeps
them under its namespace (redis_prices.py) as one encoded blob per publication plus a small
pointer to the current one, so a process fetches the blob once per publication and only checks
the pointer (at most every `check_every_s`) while routing.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime

import numpy as np

from ..domain.errors import ValidationError
from ..domain.opportunity import OpportunityPrices


def encode(prices: OpportunityPrices) -> bytes:
    """Prices as bytes (numpy's npz: arrays and a JSON header; no pickle)."""
    out = io.BytesIO()
    header = {"snapshot_version": prices.snapshot_version, "computed_at": prices.computed_at.isoformat(),
              "horizon_days": prices.horizon_days, "bound": prices.bound}
    np.savez(out, values=prices.values, node_ids=np.array(prices.node_ids, dtype=str),
             skus=np.array(prices.skus, dtype=str), header=np.array(json.dumps(header)))
    return out.getvalue()


def decode(blob: bytes) -> OpportunityPrices:
    """The prices `encode` wrote (ValidationError when the bytes are not such prices)."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            node_ids = tuple(str(n) for n in data["node_ids"])
            skus = tuple(str(s) for s in data["skus"])
            return OpportunityPrices(node_ids, skus, data["values"], int(header["snapshot_version"]),
                                     datetime.fromisoformat(header["computed_at"]),
                                     float(header["horizon_days"]), float(header["bound"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError("opportunity_prices", f"not encoded prices: {exc}") from exc


class MemoryPrices:
    """The last published prices of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prices: OpportunityPrices | None = None

    def publish(self, prices: OpportunityPrices) -> None:
        with self._lock:
            self._prices = prices

    def current(self) -> OpportunityPrices | None:
        with self._lock:
            return self._prices
