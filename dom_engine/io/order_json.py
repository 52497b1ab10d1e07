"""Order JSON in (`dom route` files and JSONL order streams).

Order JSON comes in two spellings, both accepted by `order_from_dict`:
- native: {"order_id", "lines": [{"line_id", "sku", "quantity", "unit_weight_kg", "ship_group"}],
  "destination": {"latitude", "longitude", "postal_code", "region"}, "deliver_by": "YYYY-MM-DD"
  (or "deliver_in_days": N, relative to today, so example files never go stale), "channel",
  "customer_tier", "created_at": RFC 3339, "options": {"max_shipments", "ship_complete",
  "allow_backorder", "excluded_nodes", "policy", "penalty": {"per_order", "per_unit"}}};
- the gRPC proto-JSON of dom.v1.Order (camelCase keys, "deliverBy": {"year", "month", "day"},
  int64 quantities as strings), optionally wrapped as a RouteOrderRequest {"order": {...}}.
Errors are ValidationErrors naming the field as a path, e.g. ``lines[2].quantity``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..domain import (
    Destination,
    Line,
    Order,
    OrderOptions,
    PenaltyOverride,
    ValidationError,
)
from .fields import FieldError, parse_bool, parse_date, parse_datetime, parse_int

_ORDER_KEYS = {"order_id", "lines", "destination", "deliver_by", "deliver_in_days", "channel",
               "customer_tier", "options", "created_at"}
_LINE_KEYS = {"line_id", "sku", "quantity", "unit_weight_kg", "ship_group"}
_DEST_KEYS = {"latitude", "longitude", "postal_code", "region"}
_OPTION_KEYS = {"max_shipments", "ship_complete", "allow_backorder", "excluded_nodes", "policy", "penalty"}
_REQUEST_KEYS = {"order", "reserve", "time_budget_ms", "request_id"}


@dataclass(frozen=True)
class OrderRequest:
    """An order file: the order plus the RouteOrderRequest extras it may carry."""

    order: Order
    reserve: bool = False
    time_budget_ms: float | None = None


def snake(key: str) -> str:
    """camelCase -> snake_case (proto-JSON names to proto field names)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def load_order(path: str | Path, now: datetime | None = None) -> OrderRequest:
    """Read and parse an order JSON file (ValidationError naming the field on any problem)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(str(path), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(str(path), f"cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    return order_request_from_dict(data, now)


def order_request_from_dict(data: Any, now: datetime | None = None) -> OrderRequest:
    """Accept an order, or a RouteOrderRequest-shaped {"order": ..., "reserve": ..., ...}."""
    data = _obj(data, "order", set(_ORDER_KEYS) | _REQUEST_KEYS)
    if "order" in data:
        extra = set(data) - _REQUEST_KEYS
        if extra:
            raise ValidationError(sorted(extra)[0], "unknown field next to 'order'")
        budget = data.get("time_budget_ms")
        if budget is not None and (not _is_number(budget) or budget <= 0):
            raise ValidationError("time_budget_ms", f"must be a positive number, got {budget!r}")
        reserve = data.get("reserve", False)
        if not isinstance(reserve, bool):
            raise ValidationError("reserve", f"must be true or false, got {reserve!r}")
        return OrderRequest(order_from_dict(data["order"], now, "order."), reserve,
                            None if budget is None else float(budget))
    return OrderRequest(order_from_dict(data, now))


def order_from_dict(data: Any, now: datetime | None = None, prefix: str = "") -> Order:
    """Native or proto-JSON order dict -> Order."""
    now = now or datetime.now(UTC)
    d = _obj(data, prefix.rstrip(".") or "order", _ORDER_KEYS, prefix)
    for key in ("order_id", "lines", "destination"):
        if key not in d:
            raise ValidationError(prefix + key, "missing")
    raw_lines = d["lines"]
    if not isinstance(raw_lines, list):
        raise ValidationError(prefix + "lines", "must be a list of line objects")
    lines = []
    for i, raw in enumerate(raw_lines):
        where = f"{prefix}lines[{i}]"
        ln = _obj(raw, where, _LINE_KEYS, where + ".")
        for key in ("line_id", "sku", "quantity"):
            if key not in ln:
                raise ValidationError(f"{where}.{key}", "missing")
        weight = ln.get("unit_weight_kg")
        lines.append(Line(
            _str(ln["line_id"], f"{where}.line_id"), _str(ln["sku"], f"{where}.sku"),
            _int(ln["quantity"], f"{where}.quantity"),
            None if weight is None else _num(weight, f"{where}.unit_weight_kg"),
            _str(ln.get("ship_group", ""), f"{where}.ship_group") or None,
        ))
    dst = _obj(d["destination"], prefix + "destination", _DEST_KEYS, prefix + "destination.")
    for key in ("latitude", "longitude"):
        if key not in dst:
            raise ValidationError(f"{prefix}destination.{key}", "missing")
    destination = Destination(
        _num(dst["latitude"], f"{prefix}destination.latitude"),
        _num(dst["longitude"], f"{prefix}destination.longitude"),
        _str(dst.get("postal_code", ""), f"{prefix}destination.postal_code"),
        _str(dst.get("region", ""), f"{prefix}destination.region"),
    )
    created_at = _datetime(d["created_at"], prefix + "created_at") if "created_at" in d else now
    deliver_by = None
    if d.get("deliver_by") is not None and "deliver_in_days" in d:
        raise ValidationError(prefix + "deliver_in_days", "give deliver_by or deliver_in_days, not both")
    if d.get("deliver_by") is not None:
        deliver_by = _date(d["deliver_by"], prefix + "deliver_by")
    elif "deliver_in_days" in d:
        deliver_by = now.date() + timedelta(days=_int(d["deliver_in_days"], prefix + "deliver_in_days", 0))
    options = _options(d.get("options") or {}, prefix + "options")
    return Order(
        _str(d["order_id"], prefix + "order_id"), tuple(lines), destination, deliver_by=deliver_by,
        channel=_str(d.get("channel", ""), prefix + "channel"),
        customer_tier=_str(d.get("customer_tier", ""), prefix + "customer_tier"),
        options=options, created_at=created_at,
    )


def _options(raw: Any, where: str) -> OrderOptions:
    o = _obj(raw, where, _OPTION_KEYS, where + ".")
    pen = _obj(o.get("penalty") or {}, f"{where}.penalty", {"per_order", "per_unit"}, f"{where}.penalty.")
    excluded = o.get("excluded_nodes", [])
    if not isinstance(excluded, list):
        raise ValidationError(f"{where}.excluded_nodes", "must be a list of node ids")
    max_ship = o.get("max_shipments")
    return OrderOptions(
        max_shipments=None if max_ship is None else _int(max_ship, f"{where}.max_shipments"),
        ship_complete=_bool(o.get("ship_complete", False), f"{where}.ship_complete"),
        allow_backorder=_bool(o.get("allow_backorder", False), f"{where}.allow_backorder"),
        excluded_nodes=frozenset(_str(x, f"{where}.excluded_nodes[{i}]") for i, x in enumerate(excluded)),
        policy=_str(o.get("policy", ""), f"{where}.policy"),
        penalty=PenaltyOverride(
            None if pen.get("per_order") is None else _num(pen["per_order"], f"{where}.penalty.per_order"),
            None if pen.get("per_unit") is None else _num(pen["per_unit"], f"{where}.penalty.per_unit"),
        ),
    )


# --------------------------------------------------------------------- typed field helpers
def _obj(raw: Any, where: str, allowed: set[str], prefix: str = "") -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationError(where, f"must be a JSON object, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = snake(str(key))
        if name not in allowed:
            raise ValidationError(prefix + str(key), f"unknown field (expected one of {sorted(allowed)})")
        out[name] = value
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(where, f"must be a string, got {value!r}")
    return value


def _num(value: Any, where: str) -> float:
    if not _is_number(value):
        raise ValidationError(where, f"must be a number, got {value!r}")
    return float(value)


def _int(value: Any, where: str, minimum: int = 1) -> int:
    try:
        value = parse_int(value)   # proto-JSON writes int64 as a string
    except FieldError as exc:
        raise ValidationError(where, f"must be {exc.expected}, got {value!r}") from None
    if value < minimum:
        raise ValidationError(where, f"must be >= {minimum}, got {value}")
    return value


def _bool(value: Any, where: str) -> bool:
    try:
        return parse_bool(value, words=False)
    except FieldError as exc:
        raise ValidationError(where, f"must be {exc.expected}, got {value!r}") from None


def _date(value: Any, where: str) -> date:
    if isinstance(value, Mapping):
        parts = _obj(value, where, {"year", "month", "day"}, where + ".")
        try:
            return date(*(_int(parts.get(k), f"{where}.{k}") for k in ("year", "month", "day")))
        except ValueError as exc:
            raise ValidationError(where, str(exc)) from None
    if isinstance(value, str):
        with contextlib.suppress(FieldError):
            return parse_date(value)
    raise ValidationError(where, f'must be a date "YYYY-MM-DD" or {{"year","month","day"}}, got {value!r}')


def _datetime(value: Any, where: str) -> datetime:
    try:
        if not isinstance(value, str):   # JSON has no timestamps: only strings spell one
            raise FieldError('an RFC 3339 timestamp like "2026-01-31T12:00:00Z"')
        return parse_datetime(value)
    except FieldError as exc:
        raise ValidationError(where, f"must be {exc.expected}, got {value!r}") from None


def order_to_dict(order: Order) -> dict[str, Any]:
    """The order in the native form `order_from_dict` reads back (JSON-ready; optional fields only
    when set), e.g. for the decision log and the order streams exported from it."""
    lines = []
    for ln in order.lines:
        line: dict[str, Any] = {"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity}
        if ln.unit_weight_kg is not None:
            line["unit_weight_kg"] = ln.unit_weight_kg
        if ln.ship_group:
            line["ship_group"] = ln.ship_group
        lines.append(line)
    d = order.destination
    out: dict[str, Any] = {"order_id": order.order_id, "lines": lines, "destination": {
        "latitude": d.latitude, "longitude": d.longitude, "postal_code": d.postal_code, "region": d.region}}
    if order.created_at is not None:
        out["created_at"] = order.created_at.isoformat()
    if order.deliver_by is not None:
        out["deliver_by"] = order.deliver_by.isoformat()
    for key in ("channel", "customer_tier"):
        if getattr(order, key):
            out[key] = getattr(order, key)
    o = order.options
    options: dict[str, Any] = {}
    if o.max_shipments is not None:
        options["max_shipments"] = o.max_shipments
    for key in ("ship_complete", "allow_backorder", "policy"):
        if getattr(o, key):
            options[key] = getattr(o, key)
    if o.excluded_nodes:
        options["excluded_nodes"] = sorted(o.excluded_nodes)
    penalty = {k: getattr(o.penalty, k) for k in ("per_order", "per_unit")
               if getattr(o.penalty, k) is not None}
    if penalty:
        options["penalty"] = penalty
    if options:
        out["options"] = options
    return out
