"""Validation of stock rows (one per node x SKU) and of warehouse deltas, shared by every store:
snapshot loads, `apply_deltas` of MemoryStore and RedisStore, and the file loaders.

Every quantity is bounded by MAX_QUANTITY (10^12 units): Redis scripts compute in Lua numbers
(doubles, exact only to 2^53) and numpy sums ATP over a whole network in int64, so a bound far below
both keeps every stored level and every sum exact; no real stock level comes near it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np

from ..domain import ConfigError, DomainError, Network, ValidationError

if TYPE_CHECKING:
    from .base import StockDelta

# The largest on-hand, safety-stock or adjust quantity (and on-hand level) any store accepts.
MAX_QUANTITY = 10**12
LIMIT = f"0 to {MAX_QUANTITY:,} (MAX_QUANTITY)"
# The longest SKU id a store accepts: ids are Redis key parts and echo in plans and errors, and
# a megabyte "SKU" in a feed is a defect upstream, not a product.
MAX_SKU_LENGTH = 256


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
               where: Callable[[int], str] = lambda i: f"rows[{i}]",
               error: type[DomainError] = ConfigError) -> StockRows:
    """Parallel columns checked in vectorised passes (node ids and SKUs factorized once through a
    dict, no per-row Python beyond that); an `error` (ConfigError for files, ValidationError for a
    request) names the first bad row with `where(i)`: unknown node, quantity outside 0 to
    MAX_QUANTITY, empty SKU or longer than MAX_SKU_LENGTH, duplicate (node, SKU)."""
    node_col = np.asarray(node_ids, dtype=object)
    qty = _int64(on_hand, where, "on_hand", error)
    saf = np.zeros_like(qty) if safety is None else _int64(safety, where, "safety_stock", error)
    m = len(node_col)
    if not (len(skus) == m == len(qty) == len(saf)):
        raise error("rows", f"node_ids, skus, on_hand and safety need one entry per row; got "
                            f"{m}, {len(skus)}, {len(qty)}, {len(saf)}")
    index = {node_id: i for i, node_id in enumerate(network.node_ids)}
    nodes = np.fromiter(map(index.get, node_col, repeat(-1)), dtype=np.int64, count=m)
    bad = np.flatnonzero(nodes < 0)
    if bad.size:
        i = int(bad[0])
        raise error(f"{where(i)}.node_id", f"unknown node {node_col[i]!r} (not in the network)")
    for name, values in (("on_hand", qty), ("safety_stock", saf)):
        out = np.flatnonzero((values < 0) | (values > MAX_QUANTITY))
        if out.size:
            i = int(out[0])
            raise error(f"{where(i)}.{name}", f"must be {LIMIT}, got {int(values[i])}")
    # factorize: dict.fromkeys keeps first-seen order and runs in C, as does the map over it
    code_of = dict.fromkeys(skus)
    for j, sku in enumerate(code_of):
        code_of[sku] = j
    codes = np.fromiter(map(code_of.__getitem__, skus), dtype=np.int64, count=m)
    names = [str(s) for s in code_of]
    if "" in names:
        i = int(np.flatnonzero(codes == names.index(""))[0])
        raise error(f"{where(i)}.sku", "must not be empty")
    if names and max(map(len, names)) > MAX_SKU_LENGTH:
        j = next(j for j, name in enumerate(names) if len(name) > MAX_SKU_LENGTH)
        i = int(np.flatnonzero(codes == j)[0])
        raise error(f"{where(i)}.sku", f"longer than {MAX_SKU_LENGTH} characters ({len(names[j])})")
    keys = codes * max(len(network), 1) + nodes
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    dup = np.flatnonzero(ranked[1:] == ranked[:-1])
    if dup.size:
        # the earliest row that repeats a cell, and the first row of that cell (stable sort: the
        # first of its run)
        again = int(order[dup + 1].min())
        first = int(order[np.searchsorted(ranked, keys[again])])
        raise error(where(again), f"duplicate row for node {node_col[again]!r} and SKU "
                                  f"{names[codes[again]]!r} (first given at {where(first)})")
    return StockRows(nodes, codes, names, qty, saf)


def _int64(values: Sequence[int] | np.ndarray, where: Callable[[int], str], name: str,
           error: type[DomainError]) -> np.ndarray:
    """A quantity column as int64; a Python int past int64 names its row instead of OverflowError."""
    try:
        return np.asarray(values, dtype=np.int64)
    except OverflowError:
        for i, v in enumerate(values):
            if not -(2**63) <= int(v) < 2**63:
                raise error(f"{where(i)}.{name}", f"must be {LIMIT}, got {int(v)}") from None
        raise


def check_deltas(network: Network, deltas: Sequence[StockDelta]) -> list[int]:
    """Node index of each delta, once every field of every delta is checked, before a store applies
    any (so a refused batch changes nothing): event id non-empty, SKU 1 to MAX_SKU_LENGTH
    characters, node in the network, on_hand and safety_stock integers from 0 to MAX_QUANTITY,
    adjust within +-MAX_QUANTITY.
    ValidationError / NotFoundError name `deltas[k].<field>`."""
    nodes = []
    for k, d in enumerate(deltas):
        if not d.event_id:
            raise ValidationError(f"deltas[{k}].event_id", "must not be empty")
        nodes.append(network.index_of(d.node_id, f"deltas[{k}].node_id"))
        if not d.sku or len(d.sku) > MAX_SKU_LENGTH:
            raise ValidationError(f"deltas[{k}].sku", f"must be 1 to {MAX_SKU_LENGTH} characters, "
                                                      f"got {len(d.sku)}")
        for name, value, low in (("on_hand", d.on_hand, 0), ("safety_stock", d.safety_stock, 0),
                                 ("adjust", d.adjust, -MAX_QUANTITY)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValidationError(f"deltas[{k}].{name}", f"must be an integer, got {value!r}")
            if not low <= value <= MAX_QUANTITY:
                limit = LIMIT if low == 0 else f"-{MAX_QUANTITY:,} to {MAX_QUANTITY:,} (MAX_QUANTITY)"
                raise ValidationError(f"deltas[{k}].{name}", f"must be {limit}, got {value}")
    return nodes


def level_error(k: int, delta: StockDelta, on_hand: int, applied: int | None = None) -> ValidationError:
    """The error for delta k that would leave `on_hand` units, outside 0 to MAX_QUANTITY (checked
    fields are in range, so only an adjust can take the level out of it)."""
    before = "" if applied is None else f"; {applied} applied before it"
    return ValidationError(f"deltas[{k}].adjust", f"would leave on hand {on_hand} at {delta.node_id!r} "
                                                  f"for {delta.sku!r}; must be {LIMIT}{before}")
