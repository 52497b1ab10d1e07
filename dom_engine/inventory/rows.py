"""Validation of stock rows (one per node x SKU), shared by every store's snapshot load."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..domain import ConfigError, Network


@dataclass(frozen=True)
class StockRows:
    """Checked rows: node index and SKU code of each row, SKU ids by code (first-seen order)."""

    nodes: np.ndarray      # int64 node index per row (network order)
    codes: np.ndarray      # int64 SKU code per row
    skus: list[str]
    on_hand: np.ndarray    # int64 per row
    safety: np.ndarray     # int64 per row


def check_rows(network: Network, node_ids: Sequence[str] | np.ndarray, skus: Sequence[str] | np.ndarray,
               on_hand: Sequence[int] | np.ndarray, safety: Sequence[int] | np.ndarray | None = None,
               where: Callable[[int], str] = lambda i: f"rows[{i}]") -> StockRows:
    """Parallel columns checked row by row in vectorised passes; a ConfigError names the first
    bad row with `where(i)`: unknown node, negative quantity, empty SKU, duplicate (node, SKU)."""
    node_col = np.asarray(node_ids, dtype=object)
    qty = np.asarray(on_hand, dtype=np.int64)
    saf = np.zeros_like(qty) if safety is None else np.asarray(safety, dtype=np.int64)
    m = len(node_col)
    if not (len(skus) == m == len(qty) == len(saf)):
        raise ConfigError("rows", f"node_ids, skus, on_hand and safety need one entry per row; got "
                                  f"{m}, {len(skus)}, {len(qty)}, {len(saf)}")
    index = {node_id: i for i, node_id in enumerate(network.node_ids)}
    nodes = np.fromiter((index.get(x, -1) for x in node_col), dtype=np.int64, count=m)
    bad = np.flatnonzero(nodes < 0)
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"{where(i)}.node_id", f"unknown node {node_col[i]!r} (not in the network)")
    for name, values in (("on_hand", qty), ("safety_stock", saf)):
        neg = np.flatnonzero(values < 0)
        if neg.size:
            i = int(neg[0])
            raise ConfigError(f"{where(i)}.{name}", f"must be >= 0, got {int(values[i])}")
    code_of: dict[str, int] = {}
    codes = np.fromiter((code_of.setdefault(str(s), len(code_of)) for s in skus), dtype=np.int64, count=m)
    if "" in code_of:
        i = int(np.flatnonzero(codes == code_of[""])[0])
        raise ConfigError(f"{where(i)}.sku", "must not be empty")
    keys = codes * max(len(network), 1) + nodes
    order = np.argsort(keys, kind="stable")
    dup = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    if dup.size:
        first, again = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        raise ConfigError(where(again), f"duplicate row for node {node_col[again]!r} and SKU "
                                        f"{skus[again]!r} (first given at {where(first)})")
    return StockRows(nodes, codes, list(code_of), qty, saf)
