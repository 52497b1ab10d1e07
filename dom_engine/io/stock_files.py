"""Inventory loaders: CSV, JSON, Parquet (networks, rate cards and policies: dom_engine.io.tables).

Inventory files have one row per (node, SKU): node_id, sku, on_hand and optional safety_stock.
Quantities are parsed as whole columns with numpy / pyarrow; only when a column fails do we walk
it to name the first bad row. Every error is a ConfigError whose field names the file, the row and
the column, e.g. ``inventory.csv line 7, column 'on_hand': must be an integer from 0 to ...``.
Quantities are bounded by rows.MAX_QUANTITY (10^12), as in every store.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..domain import ConfigError, Network
from ..inventory.memory import MemoryStore
from ..inventory.rows import LIMIT, MAX_QUANTITY

INVENTORY_COLUMNS = ("node_id", "sku", "on_hand", "safety_stock")
_REQUIRED = ("node_id", "sku", "on_hand")


# ===================================================================== inventory
def load_inventory(path: str | Path, network: Network, **store_kwargs: Any) -> MemoryStore:
    """Load a MemoryStore from .csv, .json or .parquet/.pq (chosen by suffix)."""
    node_ids, skus, on_hand, safety, where = read_inventory(path)
    return MemoryStore.from_columns(network, node_ids, skus, on_hand, safety, where=where, **store_kwargs)


def read_inventory(path: str | Path) -> Columns:
    """(node_ids, skus, on_hand, safety, where) columns of a .csv, .json or .parquet/.pq file;
    `where(i)` names row i of the file in errors."""
    path = Path(path)
    suffix = path.suffix.lower()
    readers = {".csv": read_inventory_csv, ".json": read_inventory_json,
               ".parquet": read_inventory_parquet, ".pq": read_inventory_parquet}
    if suffix not in readers:
        raise ConfigError(str(path), f"unknown inventory format {suffix!r} (use .csv, .json or .parquet)")
    return readers[suffix](path)


Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Callable[[int], str]]


def read_inventory_csv(path: str | Path) -> Columns:
    """Parse an inventory CSV into columns. Row numbers in errors are file line numbers."""
    path = Path(path)
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        data = [row for row in reader if row and any(cell.strip() for cell in row)]
    _check_header(header, path)
    pos = {name: header.index(name) for name in INVENTORY_COLUMNS if name in header}
    width = len(header)
    for k, row in enumerate(data):
        if len(row) != width:
            raise ConfigError(f"{path} line {k + 2}", f"expected {width} fields, got {len(row)}")
    cells = np.array(data, dtype=object).reshape(len(data), width)

    def where(i: int) -> str:
        return f"{path} line {i + 2}"

    def column(name: str) -> np.ndarray:
        return np.char.strip(cells[:, pos[name]].astype(str))

    node_ids, skus = column("node_id"), column("sku")
    _no_blanks(node_ids, "node_id", where)
    _no_blanks(skus, "sku", where)
    on_hand = _int_column(column("on_hand"), "on_hand", where)
    if "safety_stock" in pos:
        raw = column("safety_stock")
        safety = _int_column(np.where(raw == "", "0", raw), "safety_stock", where)
    else:
        safety = np.zeros(len(data), dtype=np.int64)
    return node_ids.astype(object), skus.astype(object), on_hand, safety, where


def read_inventory_json(path: str | Path) -> Columns:
    """Parse a JSON inventory: a list of row objects, or {"rows": [...]}."""
    path = Path(path)
    with open_text(path) as fh:
        try:
            doc = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    rows = doc.get("rows") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise ConfigError(str(path), 'expected a list of rows or an object {"rows": [...]}')

    def where(i: int) -> str:
        return f"{path} rows[{i}]"

    out: dict[str, list[Any]] = {name: [] for name in INVENTORY_COLUMNS}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ConfigError(where(i), "each row must be an object")
        unknown = sorted(set(row) - set(INVENTORY_COLUMNS))
        if unknown:
            raise ConfigError(f"{where(i)}.{unknown[0]}",
                              f"unknown column (expected {list(INVENTORY_COLUMNS)})")
        for name in INVENTORY_COLUMNS:
            value = row.get(name, 0 if name == "safety_stock" else None)
            if value is None and name != "safety_stock":
                raise ConfigError(f"{where(i)}.{name}", "missing")
            if name in ("node_id", "sku"):
                if not isinstance(value, str) or not value.strip():
                    raise ConfigError(f"{where(i)}.{name}", f"must be a non-empty string, got {value!r}")
                value = value.strip()
            elif value is None:
                value = 0
            elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_QUANTITY:
                raise ConfigError(f"{where(i)}.{name}", f"must be an integer from {LIMIT}, got {value!r}")
            out[name].append(value)
    return (np.array(out["node_id"], dtype=object), np.array(out["sku"], dtype=object),
            np.array(out["on_hand"], dtype=np.int64), np.array(out["safety_stock"], dtype=np.int64), where)


def read_inventory_parquet(path: str | Path) -> Columns:
    """Parse a Parquet inventory with pyarrow (optional dependency: pip install 'dom-engine[parquet]')."""
    path = Path(path)
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            str(path), "reading Parquet needs pyarrow: pip install 'dom-engine[parquet]'"
        ) from None
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(str(path), f"cannot read Parquet: {exc}") from None
    _check_header(table.column_names, path)

    def where(i: int) -> str:
        return f"{path} row {i}"

    cols: dict[str, np.ndarray] = {}
    for name in INVENTORY_COLUMNS:
        if name not in table.column_names:
            cols[name] = np.zeros(table.num_rows, dtype=np.int64)
            continue
        col = table.column(name)
        nulls = np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))
        if name in ("node_id", "sku"):
            if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
                raise ConfigError(f"{path} column {name!r}", f"must be strings, got {col.type}")
            if nulls.size:
                raise ConfigError(f"{where(int(nulls[0]))}, column {name!r}", "must not be empty")
            values = pc.utf8_trim_whitespace(col).to_numpy(zero_copy_only=False).astype(object)
            _no_blanks(values, name, where)
        else:
            if not pa.types.is_integer(col.type):
                raise ConfigError(f"{path} column {name!r}", f"must be integers, got {col.type}")
            if nulls.size and name == "on_hand":
                raise ConfigError(f"{where(int(nulls[0]))}, column {name!r}", "must not be empty")
            values = pc.fill_null(col, 0).to_numpy(zero_copy_only=False)
            out = np.flatnonzero((values < 0) | (values > MAX_QUANTITY))  # compared before any cast
            if out.size:
                raise ConfigError(f"{where(int(out[0]))}, column {name!r}",
                                  f"must be an integer from {LIMIT}, got {int(values[out[0]])}")
            values = values.astype(np.int64)
        cols[name] = values
    return cols["node_id"], cols["sku"], cols["on_hand"], cols["safety_stock"], where


def _check_header(header: list[str], path: Path) -> None:
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise ConfigError(f"{path} header",
                          f"missing column(s) {missing}; expected {list(INVENTORY_COLUMNS)}")


def _no_blanks(values: np.ndarray, name: str, where: Callable[[int], str]) -> None:
    blank = np.flatnonzero(values == "")
    if blank.size:
        raise ConfigError(f"{where(int(blank[0]))}, column {name!r}", "must not be empty")


def _int_column(raw: np.ndarray, name: str, where: Callable[[int], str]) -> np.ndarray:
    try:
        values = raw.astype(np.int64)
    except (ValueError, OverflowError):  # not an integer, or one past int64: name the first such row
        for i, text in enumerate(raw):
            try:
                if -(2**63) <= int(text) < 2**63:
                    continue
            except ValueError:
                pass
            raise ConfigError(f"{where(i)}, column {name!r}",
                              f"must be an integer from {LIMIT}, got {str(text)!r}") from None
        raise
    out = np.flatnonzero((values < 0) | (values > MAX_QUANTITY))
    if out.size:
        i = int(out[0])
        raise ConfigError(f"{where(i)}, column {name!r}", f"must be an integer from {LIMIT}, got {values[i]}")
    return values


def open_text(path: Path):
    """Open a text data file; a missing or unreadable file is a ConfigError naming it."""
    try:
        return path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from None
