"""Order files for batches (`dom batch`): JSONL, CSV and Parquet.

- JSONL: one order per line, in the JSON shape `dom route` reads (native or proto-JSON; see
  render.py), blank lines skipped.
- CSV / Parquet: one row per order line, grouped by `order_id` (an order's rows need not be
  adjacent; orders keep the order of their first row). Columns:
    required  order_id, line_id, sku, quantity, latitude, longitude
    per line  unit_weight_kg, ship_group
    per order deliver_by (YYYY-MM-DD) or deliver_in_days, created_at (RFC 3339; default now),
              channel, customer_tier, postal_code, region, max_shipments, ship_complete,
              allow_backorder, excluded_nodes (node ids separated by ';'), policy,
              penalty_per_order, penalty_per_unit
  A per-order column may be given on every row of the order or on its first row only; rows that
  disagree are an error. Parquet columns may be typed (integers, doubles, booleans, dates,
  timestamps) or strings.

Every error is a ValidationError naming the file, the line (CSV, JSONL; 1 = the first line) or row
(Parquet, 0-based) and the column or field, e.g. ``orders.csv line 7, column 'quantity': must be a
positive integer, got '0'``. `OrderFile.locate` turns an engine error about ``orders[k].<field>``
into the same kind of place.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..domain import Destination, DomainError, Line, Order, OrderOptions, PenaltyOverride, ValidationError
from .fields import FieldError, parse_bool, parse_date, parse_datetime, parse_float, parse_int
from .order_json import order_request_from_dict

REQUIRED_COLUMNS = ("order_id", "line_id", "sku", "quantity", "latitude", "longitude")
LINE_COLUMNS = ("line_id", "sku", "quantity", "unit_weight_kg", "ship_group")
ORDER_COLUMNS = ("deliver_by", "deliver_in_days", "created_at", "channel", "customer_tier", "postal_code",
                 "region", "latitude", "longitude", "max_shipments", "ship_complete", "allow_backorder",
                 "excluded_nodes", "policy", "penalty_per_order", "penalty_per_unit")
COLUMNS = ("order_id", *LINE_COLUMNS, *ORDER_COLUMNS)
FORMATS = (".jsonl", ".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class OrderFile:
    """The orders of a file and where each came from: `where[k]` names order k's line (JSONL) or
    `line_rows[k][i]` the row of its line i (CSV / Parquet)."""

    path: Path
    orders: tuple[Order, ...]
    where: tuple[str, ...]
    line_rows: tuple[tuple[str, ...], ...] = ()

    def locate(self, field: str) -> str:
        """An error field about ``orders[k]...`` (engine errors) as a place in the file."""
        m = re.fullmatch(r"orders\[(\d+)\](?:\.(.*))?", field)
        if m is None or int(m.group(1)) >= len(self.orders):
            return f"{self.path} {field}"
        k, rest = int(m.group(1)), m.group(2) or "order_id"
        if not self.line_rows:
            return f"{self.where[k]}, {rest}"
        return _table_place(rest, self.where[k], self.line_rows[k]) + f" ({field})"


def read_orders(path: str | Path, now: datetime | None = None) -> OrderFile:
    """Read a .jsonl, .csv or .parquet/.pq order file (ValidationError naming the place)."""
    path = Path(path)
    now = now or datetime.now(UTC)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValidationError(str(path), f"unknown order file format {suffix!r} (use {', '.join(FORMATS)})")
    if not path.is_file():
        raise ValidationError(str(path), "file not found")
    if suffix == ".jsonl":
        return _read_jsonl(path, now)
    rows, where = _csv_rows(path) if suffix == ".csv" else _parquet_rows(path)
    return _orders_from_rows(path, rows, where, now)


# ===================================================================== JSONL
def json_lines(path: Path) -> Iterator[tuple[str, Any]]:
    """(place, parsed value) of every non-blank line of a JSON-lines file; errors name the file
    and line ("orders.jsonl line 3")."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(str(path), f"cannot read: {exc}") from None
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        place = f"{path} line {n}"
        try:
            yield place, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError(place, f"invalid JSON: {exc.msg} (column {exc.colno})") from None


def _read_jsonl(path: Path, now: datetime) -> OrderFile:
    orders, where = [], []
    for place, data in json_lines(path):
        try:
            request = order_request_from_dict(data, now)
        except DomainError as err:
            raise ValidationError(f"{place}, {err.field}", err.message) from None
        if request.reserve or request.time_budget_ms is not None:
            raise ValidationError(f"{place}, reserve", "a batch is reserved and timed as a whole: "
                                  "use --reserve / --time-budget-ms instead of per-order fields")
        orders.append(request.order)
        where.append(place)
    return OrderFile(path, tuple(orders), tuple(where))


# ===================================================================== CSV / Parquet rows
def _csv_rows(path: Path) -> tuple[list[dict[str, Any]], Callable[[int], str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            body = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(str(path), f"cannot read: {exc}") from None
    _check_columns(header, f"{path} header")

    def where(i: int) -> str:
        return f"{path} line {i + 2}"

    rows = []
    for i, cells in enumerate(body):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ValidationError(where(i), f"expected {len(header)} fields, got {len(cells)}")
        rows.append({"#": i, **{name: cell.strip() for name, cell in zip(header, cells, strict=True)}})
    return rows, where


def _parquet_rows(path: Path) -> tuple[list[dict[str, Any]], Callable[[int], str]]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ValidationError(str(path),
                              "reading Parquet needs pyarrow: pip install 'dom-engine[parquet]'") from None
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ValidationError(str(path), f"cannot read Parquet: {exc}") from None
    _check_columns(table.column_names, f"{path} columns")

    def where(i: int) -> str:
        return f"{path} row {i}"

    return [{"#": i, **row} for i, row in enumerate(table.to_pylist())], where


def _check_columns(names: Sequence[str], place: str) -> None:
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise ValidationError(place, f"unknown column {unknown[0]!r}; expected {list(COLUMNS)}")
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if missing:
        raise ValidationError(place, f"missing column(s) {missing}; required {list(REQUIRED_COLUMNS)}")


# ===================================================================== rows -> orders
def _orders_from_rows(path: Path, rows: list[dict[str, Any]], where: Callable[[int], str],
                      now: datetime) -> OrderFile:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_text(row, "order_id", where, required=True), []).append(row)
    orders, first, line_rows = [], [], []
    for order_id, group in groups.items():
        places = tuple(where(r["#"]) for r in group)
        try:
            orders.append(_order(order_id, group, where, now))
        except DomainError as err:
            if err.field.startswith(str(path)):
                raise
            raise ValidationError(_table_place(err.field, places[0], places), err.message) from None
        first.append(places[0])
        line_rows.append(places)
    return OrderFile(path, tuple(orders), tuple(first), tuple(line_rows))


def _order(order_id: str, group: list[dict[str, Any]], where: Callable[[int], str], now: datetime) -> Order:
    row = _order_values(group, where)  # the per-order columns, merged over the order's rows
    lines = tuple(
        Line(_text(r, "line_id", where, required=True), _text(r, "sku", where, required=True),
             _int(r, "quantity", where, minimum=1, required=True), _float(r, "unit_weight_kg", where),
             _text(r, "ship_group", where) or None)
        for r in group)
    if _present(row.get("deliver_by")) and _present(row.get("deliver_in_days")):
        raise ValidationError(f"{where(row['#'])}, column 'deliver_in_days'",
                              "give deliver_by or deliver_in_days, not both")
    deliver_by = _date(row, "deliver_by", where)
    if deliver_by is None and _present(row.get("deliver_in_days")):
        deliver_by = now.date() + timedelta(days=_int(row, "deliver_in_days", where, minimum=0))
    excluded = _text(row, "excluded_nodes", where)
    options = OrderOptions(
        max_shipments=_int(row, "max_shipments", where, minimum=1),
        ship_complete=_bool(row, "ship_complete", where),
        allow_backorder=_bool(row, "allow_backorder", where),
        excluded_nodes=frozenset(x.strip() for x in excluded.split(";") if x.strip()),
        policy=_text(row, "policy", where),
        penalty=PenaltyOverride(_float(row, "penalty_per_order", where),
                                _float(row, "penalty_per_unit", where)))
    destination = Destination(_float(row, "latitude", where, required=True),
                              _float(row, "longitude", where, required=True),
                              _text(row, "postal_code", where), _text(row, "region", where))
    return Order(order_id, lines, destination, deliver_by=deliver_by, channel=_text(row, "channel", where),
                 customer_tier=_text(row, "customer_tier", where), options=options,
                 created_at=_datetime(row, "created_at", where) or now)


def _order_values(group: list[dict[str, Any]], where: Callable[[int], str]) -> dict[str, Any]:
    """The per-order columns of an order: each from the first row giving it; a later row giving a
    different value is an error naming that row."""
    merged: dict[str, Any] = {"#": group[0]["#"]}
    for name in ORDER_COLUMNS:
        for r in group:
            value = r.get(name)
            if not _present(value):
                continue
            if name not in merged:
                merged[name], merged[f"#{name}"] = value, r["#"]
            elif value != merged[name]:
                first = where(merged[f"#{name}"])
                raise ValidationError(f"{where(r['#'])}, column {name!r}",
                                      f"{value!r} differs from {merged[name]!r} on {first} "
                                      "(an order has one value)")
    return merged


def _table_place(field: str, first: str, line_rows: Sequence[str]) -> str:
    """A domain field path of an order ("lines[2].quantity", "destination.latitude",
    "options.penalty.per_unit") as the row and column it came from."""
    m = re.fullmatch(r"lines\[(\d+)\]\.(\w+)", field)
    if m and int(m.group(1)) < len(line_rows):
        return f"{line_rows[int(m.group(1))]}, column {m.group(2)!r}"
    column = field.rpartition(".")[2]
    if field.startswith("options.penalty."):
        column = "penalty_" + column
    if column not in COLUMNS:
        return f"{first}, {field}"
    return f"{first}, column {column!r}"


# --------------------------------------------------------------------- typed cells
def _present(value: Any) -> bool:
    return value is not None and value != ""


def _bad(row: Mapping[str, Any], name: str, where: Callable[[int], str], what: str) -> ValidationError:
    return ValidationError(f"{where(row['#' + name] if '#' + name in row else row['#'])}, column {name!r}",
                           f"must be {what}, got {row[name]!r}")


def _text(row: Mapping[str, Any], name: str, where: Callable[[int], str], required: bool = False) -> str:
    value = row.get(name)
    if not _present(value):
        if required:
            raise ValidationError(f"{where(row['#'])}, column {name!r}", "must not be empty")
        return ""
    if isinstance(value, bool | float) or not isinstance(value, str | int):
        raise _bad(row, name, where, "text")
    return str(value).strip()


def _cell(row: Mapping[str, Any], name: str, where: Callable[[int], str], parse: Callable[[Any], Any],
          empty: Any = None, required: bool = False, what: str | None = None) -> Any:
    """Cell `name` of `row` parsed by `parse` (io.fields), `empty` when blank; errors name the row
    and column and say what the cell must be (`what`, else the parser's own words)."""
    value = row.get(name)
    if not _present(value):
        if required:
            raise ValidationError(f"{where(row['#'])}, column {name!r}", "must not be empty")
        return empty
    try:
        return parse(value)
    except FieldError as exc:
        raise _bad(row, name, where, what or exc.expected) from None


def _int(row: Mapping[str, Any], name: str, where: Callable[[int], str], minimum: int,
         required: bool = False) -> int | None:
    return _cell(row, name, where, lambda v: parse_int(v, minimum=minimum), required=required,
                 what="a positive integer" if minimum == 1 else None)


def _float(row: Mapping[str, Any], name: str, where: Callable[[int], str],
           required: bool = False) -> float | None:
    return _cell(row, name, where, parse_float, required=required)


def _bool(row: Mapping[str, Any], name: str, where: Callable[[int], str]) -> bool:
    return _cell(row, name, where, parse_bool, empty=False)


def _date(row: Mapping[str, Any], name: str, where: Callable[[int], str]) -> date | None:
    return _cell(row, name, where, parse_date)


def _datetime(row: Mapping[str, Any], name: str, where: Callable[[int], str]) -> datetime | None:
    return _cell(row, name, where, parse_datetime)
