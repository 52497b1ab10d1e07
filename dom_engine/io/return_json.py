"""Return JSON in (`dom route-return` files):

    {"return_id": "R-1", "order_id": "DEMO-1001" (optional), "reason": "too small",
     "origin": {"latitude": 40.7, "longitude": -74.0, "postal_code": "", "region": ""},
     "lines": [{"line_id": "1", "sku": "SKU-00001", "quantity": 1, "condition": "new"}],
     "options": {"pickup_allowed": true, "dropoff_allowed": true, "dropoff_radius_km": 50,
                 "excluded_nodes": []}}

camelCase keys are accepted too. Errors are ValidationErrors naming the field as a path, e.g.
``lines[0].condition``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..domain import Destination, ValidationError
from ..domain.returns import Condition, ReturnLine, ReturnOptions, ReturnRequest
from .order_json import _bool, _datetime, _int, _num, _obj, _str

_RETURN_KEYS = {"return_id", "order_id", "reason", "origin", "lines", "options", "created_at"}
_LINE_KEYS = {"line_id", "sku", "quantity", "condition"}
_ORIGIN_KEYS = {"latitude", "longitude", "postal_code", "region"}
_OPTION_KEYS = {"pickup_allowed", "dropoff_allowed", "dropoff_radius_km", "excluded_nodes"}
CONDITIONS = {c.value: c for c in Condition}


def load_return(path: str | Path) -> ReturnRequest:
    """Read and parse a return JSON file (ValidationError naming the field on any problem)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(str(path), f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(str(path), f"invalid JSON: {exc.msg} (line {exc.lineno})") from None
    return return_from_dict(data)


def return_from_dict(data: Any) -> ReturnRequest:
    d = _obj(data, "return", _RETURN_KEYS)
    for key in ("return_id", "lines", "origin"):
        if key not in d:
            raise ValidationError(key, "missing")
    if not isinstance(d["lines"], list):
        raise ValidationError("lines", "must be a list of line objects")
    lines = tuple(_line(raw, f"lines[{i}]") for i, raw in enumerate(d["lines"]))
    o = _obj(d["origin"], "origin", _ORIGIN_KEYS, "origin.")
    for key in ("latitude", "longitude"):
        if key not in o:
            raise ValidationError(f"origin.{key}", "missing")
    origin = Destination(_num(o["latitude"], "origin.latitude"), _num(o["longitude"], "origin.longitude"),
                         _str(o.get("postal_code", ""), "origin.postal_code"),
                         _str(o.get("region", ""), "origin.region"))
    created = _datetime(d["created_at"], "created_at") if "created_at" in d else datetime.now(UTC)
    return ReturnRequest(_str(d["return_id"], "return_id"), lines, origin,
                         _str(d.get("order_id", ""), "order_id"), _str(d.get("reason", ""), "reason"),
                         _options(d.get("options", {})), created)


def _line(raw: Any, where: str) -> ReturnLine:
    d = _obj(raw, where, _LINE_KEYS, where + ".")
    for key in ("line_id", "sku", "quantity"):
        if key not in d:
            raise ValidationError(f"{where}.{key}", "missing")
    condition = _str(d.get("condition", "new"), f"{where}.condition").lower()
    if condition not in CONDITIONS:
        raise ValidationError(f"{where}.condition", f"must be one of {sorted(CONDITIONS)}, got {condition!r}")
    return ReturnLine(_str(d["line_id"], f"{where}.line_id"), _str(d["sku"], f"{where}.sku"),
                      _int(d["quantity"], f"{where}.quantity"), CONDITIONS[condition])


def _options(raw: Any) -> ReturnOptions:
    d = _obj(raw, "options", _OPTION_KEYS, "options.")
    default = ReturnOptions()
    excluded = d.get("excluded_nodes", [])
    if not isinstance(excluded, list):
        raise ValidationError("options.excluded_nodes", "must be a list of node ids")
    def get(key: str, parse, fallback):
        return parse(d[key], f"options.{key}") if key in d else fallback

    return ReturnOptions(get("pickup_allowed", _bool, default.pickup_allowed),
                         get("dropoff_allowed", _bool, default.dropoff_allowed),
                         get("dropoff_radius_km", _num, default.dropoff_radius_km),
                         frozenset(_str(n, f"options.excluded_nodes[{k}]") for k, n in enumerate(excluded)))
