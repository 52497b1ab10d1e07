"""The embedded in-memory SnapshotStore: three int64 matrices (nodes x SKUs) behind one lock.

Rows follow the Network's node order, columns a SKU -> column dict. Every change bumps `version`,
so a Plan can say exactly which state it was computed on. Reads fancy-index the columns of one order
and never loop over nodes in Python.

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

import numpy as np

from ..domain import ConfigError, Network, NotFoundError, ValidationError
from .base import Allocation, Progress, StockDelta, StockView
from .memory_holds import MemoryHolds, _Hold
from .rows import check_rows

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
        self._known = frozenset(self._col)  # rebuilt only when a SKU is added: validation reads it per order
        if len(self._col) != m:
            raise ConfigError("skus", "SKU ids must be unique")
        self._on_hand = _matrix(on_hand, (n, m), "on_hand")
        self._safety = _matrix(safety, (n, m), "safety_stock")
        self._reserved = np.zeros((n, m), dtype=np.int64)
        self._version = 1
        self._lock = threading.RLock()
        self._clock = clock
        self._hold_ttl_s = hold_ttl_s
        self._holds: dict[str, _Hold] = {}
        self._expiries: list[tuple[datetime, str]] = []  # heap: the next hold to expire on top
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
    def from_records(
        cls, network: Network, records: Iterable[Mapping[str, object]], **kwargs
    ) -> MemoryStore:
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
        return self._known

    def read(self, skus: Sequence[str]) -> StockView:
        """ATP of `skus` at every node; unknown SKUs read as 0 everywhere."""
        skus = tuple(skus)
        with self._lock:
            self._sweep_locked()
            cols = np.fromiter((self._col.get(s, -1) for s in skus), dtype=np.int64, count=len(skus))
            missing = cols < 0
            safe_cols = np.where(missing, 0, cols)
            if self._on_hand.shape[1] == 0:
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

    def load_snapshot(self, node_ids: Sequence[str], skus: Sequence[str], on_hand: np.ndarray,
                      safety: np.ndarray | None = None, progress: Progress | None = None) -> int:
        """Replace all on-hand and safety stock at once; holds stay. Returns the new version."""
        fresh = MemoryStore.from_columns(self._network, node_ids, skus, on_hand, safety,
                                         where=lambda i: f"rows[{i}]")
        with self._lock:
            for sku in fresh._skus:
                self._column(sku, create=True)
            cols = np.array([self._col[sku] for sku in fresh._skus], dtype=np.int64)
            self._on_hand[:] = 0
            self._safety[:] = 0
            self._on_hand[:, cols] = fresh._on_hand
            self._safety[:, cols] = fresh._safety
            self._version += 1
            version = self._version
        if progress is not None:
            progress(len(node_ids), len(node_ids))
        return version

    def apply_deltas(self, deltas: Sequence[StockDelta]) -> int:
        """Apply warehouse changes in order, all or none; event ids already applied are skipped."""
        with self._lock:
            todo = []
            levels: dict[tuple[int, str], tuple[int, int]] = {}
            for k, d in enumerate(deltas):
                if d.event_id in self._events or any(d.event_id == t[0].event_id for t in todo):
                    continue
                i = self._network.index_of(d.node_id, f"deltas[{k}].node_id")
                j = self._col.get(d.sku)
                on, saf = levels.get((i, d.sku), (0, 0) if j is None else
                                     (int(self._on_hand[i, j]), int(self._safety[i, j])))
                on = (on if d.on_hand is None else d.on_hand) + d.adjust
                saf = saf if d.safety_stock is None else d.safety_stock
                if on < 0 or saf < 0:
                    raise ValidationError(f"deltas[{k}]", f"would leave on hand {on}, safety {saf} at "
                                          f"{d.node_id!r} for {d.sku!r} (must be >= 0)")
                levels[i, d.sku] = (on, saf)
                todo.append((d, i))
            for d, i in todo:
                j = self._column(d.sku, create=True)
                self._on_hand[i, j], self._safety[i, j] = levels[i, d.sku]
                self._events[d.event_id] = None
            while len(self._events) > EVENT_MEMORY:
                del self._events[next(iter(self._events))]
            if todo:
                self._version += 1
            return len(todo)

    # ----------------------------------------------------------------- helpers
    def set_stock(self, node_id: str, sku: str, on_hand: int, safety_stock: int | None = None) -> int:
        """Set on-hand (and optionally safety) stock; a new SKU gets a column. Returns the version."""
        if on_hand < 0 or (safety_stock is not None and safety_stock < 0):
            raise ValidationError("on_hand", "stock levels must be >= 0")
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
            if new < 0:
                raise ValidationError("delta", f"would leave {new} units on hand at {node_id!r} for {sku!r}")
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
            return tuple(self._skus), self._on_hand.copy(), self._reserved.copy(), self._safety.copy()

    def _column(self, sku: str, create: bool) -> int:
        j = self._col.get(sku)
        if j is not None:
            return j
        if not create or not sku:
            raise NotFoundError("sku", f"unknown SKU {sku!r}")
        pad = ((0, 0), (0, 1))
        self._on_hand, self._reserved, self._safety = (
            np.pad(a, pad) for a in (self._on_hand, self._reserved, self._safety)
        )
        self._skus.append(sku)
        self._col[sku] = len(self._skus) - 1
        self._known = frozenset(self._col)
        return self._col[sku]

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

def _matrix(values: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray:
    if values is None:
        return np.zeros(shape, dtype=np.int64)
    arr = np.array(values, dtype=np.int64, copy=True)
    if arr.shape != shape:
        raise ConfigError(name, f"expected shape {shape} (nodes x SKUs), got {arr.shape}")
    if (arr < 0).any():
        raise ConfigError(name, "stock levels must be >= 0")
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
