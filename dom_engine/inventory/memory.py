"""The embedded in-memory SnapshotStore: three int64 matrices (nodes x SKUs) behind one lock.

Rows follow the Network's node order, columns a SKU -> column dict. Every change bumps `version`,
so a Plan can say exactly which state it was computed on. Reads fancy-index the columns of one order
and never loop over nodes in Python. The matrices keep spare columns (capacity doubles when SKUs
are added), so new SKUs cost amortized O(1) copies; a snapshot load builds its matrices outside the
lock and swaps them in under it. Quantities are bounded by rows.MAX_QUANTITY.

Daily shipment capacity: a node's `daily_shipment_capacity` (from the Network) minus the shipments
held today, where each reservation counts one shipment per distinct node it takes stock from. The
count resets when the UTC date (from `clock`) changes; releasing a reservation made today gives
its shipments back.

Holds expire `hold_ttl_s` after they are made unless committed; expired holds are given back
lazily, whenever the store is next used (and by `sweep()`). Reservation ids are "res-" + order id,
as in the Redis store, so a retry finds the same reservation from any process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import repeat

import numpy as np

from ..domain import ConfigError, Network, NotFoundError, ValidationError
from ..domain.opportunity import OpportunityPrices
from .base import Allocation, Progress, Reservation, StockDelta, StockView
from .memory_holds import MemoryHolds, _Hold
from .prices import MemoryPrices
from .rows import LIMIT, MAX_QUANTITY, check_deltas, check_rows, level_error

DEFAULT_HOLD_TTL_S = 900.0
# Event ids remembered for delta deduplication (oldest forgotten first).
EVENT_MEMORY = 1_000_000


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryStore(MemoryHolds):
    """Thread-safe in-memory inventory. Build it with `from_records`, `from_arrays` or
    `inventory.loaders.load_inventory`; change it with `set_stock` / `adjust` / `reserve` / `release`."""

    def __init__(
        self,
        network: Network,
        skus: Sequence[str] = (),
        on_hand: np.ndarray | None = None,
        safety: np.ndarray | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        hold_ttl_s: float = DEFAULT_HOLD_TTL_S,
    ) -> None:
        n, m = len(network), len(skus)
        self._network = network
        self._skus: list[str] = list(skus)
        self._col: dict[str, int] = {sku: j for j, sku in enumerate(self._skus)}
        # frozen lazily after SKUs are added (validation reads it per order); None = to be rebuilt
        self._known: frozenset[str] | None = frozenset(self._col)
        if len(self._col) != m:
            raise ConfigError("skus", "SKU ids must be unique")
        self._on_hand = _matrix(on_hand, (n, m), "on_hand")
        self._safety = _matrix(safety, (n, m), "safety_stock")
        self._reserved = np.zeros((n, m), dtype=np.int64)
        self._version = 1
        self._prices = MemoryPrices()
        self._lock = threading.RLock()
        self._clock = clock
        self._hold_ttl_s = hold_ttl_s
        self._holds: dict[str, _Hold] = {}
        self._expiries: list[tuple[datetime, str]] = []  # heap: the next hold to expire on top
        self._expired: list[Reservation] = []   # given back on expiry, until take_expired
        self._events: dict[str, None] = {}
        caps = [node.daily_shipment_capacity for node in network.nodes]
        # -1 marks "unlimited" inside the array; capacity_left reports it as a very large number.
        self._capacity: np.ndarray | None = (
            None if all(c is None for c in caps)
            else np.array([-1 if c is None else c for c in caps], dtype=np.int64)
        )
        self._shipments_today = np.zeros(n, dtype=np.int64)
        self._day = self._clock().date()

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls, network: Network, skus: Sequence[str], on_hand: np.ndarray, safety: np.ndarray | None = None,
        **kwargs,
    ) -> MemoryStore:
        """Wrap ready matrices (copied). Shape must be (len(network), len(skus))."""
        return cls(network, skus, on_hand, safety, **kwargs)

    @classmethod
    def from_columns(
        cls,
        network: Network,
        node_ids: Sequence[str] | np.ndarray,
        skus: Sequence[str] | np.ndarray,
        on_hand: Sequence[int] | np.ndarray,
        safety: Sequence[int] | np.ndarray | None = None,
        *,
        where: Callable[[int], str] = lambda i: f"records[{i}]",
        **kwargs,
    ) -> MemoryStore:
        """Build from parallel columns, one entry per (node, SKU) row. `where(i)` names row i in
        errors (unknown node, duplicate row, negative quantity)."""
        checked = check_rows(network, node_ids, skus, on_hand, safety, where)
        shape = (len(network), len(checked.skus))
        on_hand_m = np.zeros(shape, dtype=np.int64)
        safety_m = np.zeros(shape, dtype=np.int64)
        on_hand_m[checked.nodes, checked.codes] = checked.on_hand
        safety_m[checked.nodes, checked.codes] = checked.safety
        return cls(network, checked.skus, on_hand_m, safety_m, **kwargs)

    @classmethod
    def from_records(cls, network: Network, records: Iterable[Mapping[str, object]], **kwargs) -> MemoryStore:
        """Build from mappings with keys node_id, sku, on_hand and optional safety_stock."""
        node_ids: list[object] = []
        skus: list[object] = []
        on_hand: list[int] = []
        safety: list[int] = []
        for i, rec in enumerate(records):
            for key in ("node_id", "sku", "on_hand"):
                if key not in rec:
                    raise ConfigError(f"records[{i}].{key}", "missing")
            node_ids.append(rec["node_id"])
            skus.append(rec["sku"])
            on_hand.append(_int(rec["on_hand"], f"records[{i}].on_hand"))
            safety.append(_int(rec.get("safety_stock", 0) or 0, f"records[{i}].safety_stock"))
        return cls.from_columns(network, node_ids, skus, on_hand, safety, **kwargs)

    # ----------------------------------------------------------------- protocol
    @property
    def version(self) -> int:
        return self._version

    @property
    def network(self) -> Network:
        return self._network

    @property
    def skus(self) -> tuple[str, ...]:
        return tuple(self._skus)

    def known_skus(self) -> frozenset[str]:
        known = self._known
        if known is None:
            with self._lock:
                if self._known is None:
                    self._known = frozenset(self._col)
                known = self._known
        return known

    def read(self, skus: Sequence[str]) -> StockView:
        """ATP of `skus` at every node; unknown SKUs read as 0 everywhere."""
        skus = tuple(skus)
        with self._lock:
            self._sweep_locked()
            cols = np.fromiter((self._col.get(s, -1) for s in skus), dtype=np.int64, count=len(skus))
            missing = cols < 0
            safe_cols = np.where(missing, 0, cols)
            if not self._skus:
                atp = np.zeros((len(self._network), len(skus)), dtype=np.int64)
            else:
                atp = (self._on_hand[:, safe_cols] - self._reserved[:, safe_cols]
                       - self._safety[:, safe_cols]).clip(0)
                atp[:, missing] = 0
            unknown = frozenset(s for s, gone in zip(skus, missing.tolist(), strict=True) if gone)
            return StockView(self._version, skus, atp, 0.0, self._capacity_left_locked(), unknown)

    def capacity_left(self) -> np.ndarray | None:
        """Shipments each node may still take today (int64 per node); None when no node has a cap.
        Uncapped nodes report a large sentinel (2**62)."""
        with self._lock:
            self._sweep_locked()
            return self._capacity_left_locked()

    def load_snapshot(self, node_ids: Sequence[str] | np.ndarray, skus: Sequence[str] | np.ndarray,
                      on_hand: np.ndarray,
                      safety: np.ndarray | None = None, progress: Progress | None = None) -> int:
        """Replace all on-hand and safety stock at once; holds stay. Returns the new version.
        Bad rows raise ValidationError naming `rows[i]` (duplicate, unknown node, out of range).

        One vectorised pass (rows scattered into fresh matrices by node index and SKU column),
        built outside the lock; under the lock only references are swapped (and the reserved
        matrix widened when the new SKUs need more columns than it has), so readers wait O(1)."""
        checked = check_rows(self._network, node_ids, skus, on_hand, safety, where=lambda i: f"rows[{i}]",
                             error=ValidationError)
        while True:
            known, capacity = len(self._skus), self._on_hand.shape[1]
            cols = np.fromiter(map(self._col.get, checked.skus, repeat(-1)), dtype=np.int64,
                               count=len(checked.skus))
            new = np.flatnonzero(cols < 0)
            cols[new] = known + np.arange(new.size)
            width = capacity if known + new.size <= capacity else max(known + new.size, 2 * capacity)
            shape = (len(self._network), width)
            on_hand_m, safety_m = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
            at = cols[checked.codes]
            on_hand_m[checked.nodes, at] = checked.on_hand
            safety_m[checked.nodes, at] = checked.safety
            names = [checked.skus[j] for j in new.tolist()]
            sku_list = self._skus + names
            col = dict(self._col)
            col.update(zip(names, range(known, known + len(names)), strict=True))
            with self._lock:
                if len(self._skus) != known:  # a delta added a SKU meanwhile: build again
                    continue
                if width > self._reserved.shape[1]:
                    self._reserved = _widen(self._reserved, known, width)
                self._on_hand, self._safety = on_hand_m, safety_m
                self._skus, self._col = sku_list, col
                if names:
                    self._known = None
                self._version += 1
                version = self._version
                break
        if progress is not None:
            progress(len(node_ids), len(node_ids))
        return version

    def apply_deltas(self, deltas: Sequence[StockDelta]) -> int:
        """Apply warehouse changes in order, all or none; event ids already applied are skipped.
        Every delta is checked (rows.check_deltas: fields in range; the level each leaves within
        0 to MAX_QUANTITY) before any is written. Linear: levels per touched cell in a dict, new
        SKUs given columns once, one scatter per matrix."""
        nodes = check_deltas(self._network, deltas)
        with self._lock:
            levels: dict[tuple[int, str], list[int]] = {}   # (node, sku) -> [on hand, safety]
            todo: list[str] = []
            seen: set[str] = set()
            for k, d in enumerate(deltas):
                if d.event_id in self._events or d.event_id in seen:
                    continue
                seen.add(d.event_id)
                cell = levels.get((nodes[k], d.sku))
                if cell is None:
                    j = self._col.get(d.sku)
                    cell = [0, 0] if j is None else [int(self._on_hand[nodes[k], j]),
                                                     int(self._safety[nodes[k], j])]
                    levels[nodes[k], d.sku] = cell
                on = (cell[0] if d.on_hand is None else int(d.on_hand)) + int(d.adjust)
                if not 0 <= on <= MAX_QUANTITY:
                    raise level_error(k, d, on)
                cell[0] = on
                if d.safety_stock is not None:
                    cell[1] = int(d.safety_stock)
                todo.append(d.event_id)
            if not todo:
                return 0
            new = [sku for sku in dict.fromkeys(sku for _, sku in levels) if sku not in self._col]
            if new:
                self._add_columns(new)
            rows = np.fromiter((i for i, _ in levels), dtype=np.int64, count=len(levels))
            cols = np.fromiter((self._col[sku] for _, sku in levels), dtype=np.int64, count=len(levels))
            values = np.array(list(levels.values()), dtype=np.int64).reshape(-1, 2)
            self._on_hand[rows, cols] = values[:, 0]
            self._safety[rows, cols] = values[:, 1]
            self._events.update(dict.fromkeys(todo))
            if len(self._events) > EVENT_MEMORY:  # forget the oldest in one pass
                self._events = dict.fromkeys(list(self._events)[-EVENT_MEMORY:])
            self._version += 1
            return len(todo)

    def publish_prices(self, prices: OpportunityPrices) -> None:
        self._prices.publish(prices)

    def current_prices(self) -> OpportunityPrices | None:
        return self._prices.current()

    # ----------------------------------------------------------------- helpers
    def set_stock(self, node_id: str, sku: str, on_hand: int, safety_stock: int | None = None) -> int:
        """Set on-hand (and optionally safety) stock; a new SKU gets a column. Returns the version."""
        if not 0 <= on_hand <= MAX_QUANTITY:
            raise ValidationError("on_hand", f"must be {LIMIT}, got {on_hand}")
        if safety_stock is not None and not 0 <= safety_stock <= MAX_QUANTITY:
            raise ValidationError("safety_stock", f"must be {LIMIT}, got {safety_stock}")
        with self._lock:
            i = self._network.index_of(node_id)
            j = self._column(sku, create=True)
            self._on_hand[i, j] = on_hand
            if safety_stock is not None:
                self._safety[i, j] = safety_stock
            self._version += 1
            return self._version

    def adjust(self, node_id: str, sku: str, delta: int) -> int:
        """Add `delta` units on hand (negative for shrinkage). Returns the new on-hand quantity."""
        with self._lock:
            i = self._network.index_of(node_id)
            j = self._column(sku, create=delta >= 0)
            new = int(self._on_hand[i, j]) + int(delta)
            if not 0 <= new <= MAX_QUANTITY:
                raise ValidationError("delta", f"would leave {new} units on hand at {node_id!r} for {sku!r}; "
                                               f"must be {LIMIT}")
            self._on_hand[i, j] = new
            self._version += 1
            return new

    def levels(self, node_id: str, sku: str) -> tuple[int, int, int]:
        """(on_hand, reserved, safety_stock) of one cell; zeros for an unknown SKU."""
        with self._lock:
            i = self._network.index_of(node_id)
            j = self._col.get(sku)
            if j is None:
                return (0, 0, 0)
            return int(self._on_hand[i, j]), int(self._reserved[i, j]), int(self._safety[i, j])

    def arrays(self) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
        """Copies of (skus, on_hand, reserved, safety) for export and tests."""
        with self._lock:
            m = len(self._skus)
            return (tuple(self._skus), self._on_hand[:, :m].copy(), self._reserved[:, :m].copy(),
                    self._safety[:, :m].copy())

    def _column(self, sku: str, create: bool) -> int:
        j = self._col.get(sku)
        if j is not None:
            return j
        if not create or not sku:
            raise NotFoundError("sku", f"unknown SKU {sku!r}")
        self._add_columns([sku])
        return self._col[sku]

    def _add_columns(self, new: Sequence[str]) -> None:
        """Columns for `new` (distinct, unknown SKUs), under the lock. The matrices grow to at
        least twice their width when full, so adding SKUs one at a time stays linear overall."""
        m = len(self._skus)
        need = m + len(new)
        if need > self._on_hand.shape[1]:
            width = max(need, 2 * self._on_hand.shape[1], 16)
            self._on_hand, self._reserved, self._safety = (
                _widen(a, m, width) for a in (self._on_hand, self._reserved, self._safety))
        self._skus.extend(new)
        self._col.update(zip(new, range(m, need), strict=True))
        self._known = None

    def _merge(self, allocations: Sequence[Allocation]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_skus = max(len(self._skus), 1)
        keys: dict[int, int] = {}
        for k, a in enumerate(allocations):
            if not isinstance(a.quantity, int) or a.quantity <= 0:
                raise ValidationError(f"allocations[{k}].quantity",
                                      f"must be a positive integer, got {a.quantity!r}")
            i = self._network.index_of(a.node_id, f"allocations[{k}].node_id")
            j = self._col.get(a.sku)
            if j is None:
                raise NotFoundError(f"allocations[{k}].sku", f"unknown SKU {a.sku!r}")
            keys[i * n_skus + j] = keys.get(i * n_skus + j, 0) + a.quantity
        flat = np.fromiter(keys.keys(), dtype=np.int64, count=len(keys))
        qty = np.fromiter(keys.values(), dtype=np.int64, count=len(keys))
        return flat // n_skus, flat % n_skus, qty

    def _atp_cells(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return (self._on_hand[rows, cols] - self._reserved[rows, cols] - self._safety[rows, cols]).clip(0)

    def _roll_day(self) -> None:
        today = self._clock().date()
        if today != self._day:
            self._day = today
            self._shipments_today[:] = 0

    def _capacity_left_locked(self) -> np.ndarray | None:
        if self._capacity is None:
            return None
        self._roll_day()
        left = (self._capacity - self._shipments_today).clip(0)
        return np.where(self._capacity < 0, np.int64(2**62), left)

def _widen(a: np.ndarray, used: int, width: int) -> np.ndarray:
    """A copy of the first `used` columns of `a` in a zero matrix `width` columns wide."""
    out = np.zeros((a.shape[0], width), dtype=a.dtype)
    out[:, :used] = a[:, :used]
    return out


def _matrix(values: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray:
    if values is None:
        return np.zeros(shape, dtype=np.int64)
    arr = np.array(values, dtype=np.int64, copy=True)
    if arr.shape != shape:
        raise ConfigError(name, f"expected shape {shape} (nodes x SKUs), got {arr.shape}")
    if (arr < 0).any() or (arr > MAX_QUANTITY).any():
        raise ConfigError(name, f"stock levels must be {LIMIT}")
    return arr


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(field, f"must be a non-negative integer, got {value!r}")
    try:
        as_float = float(value)
    except ValueError:
        raise ConfigError(field, f"must be a non-negative integer, got {value!r}") from None
    if not as_float.is_integer() or as_float < 0:
        raise ConfigError(field, f"must be a non-negative integer, got {value!r}")
    return int(as_float)
