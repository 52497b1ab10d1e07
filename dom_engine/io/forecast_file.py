"""Forecast files for inventory-aware routing: JSON lines, one order prototype each,

    {"expected": 12.5, "order": {...an order, as `dom route` files spell it...}}

meaning 12.5 orders like this one (same lines, destination and options) are expected over the
horizon ([opportunity] horizon_days). Order ids only need to be present; dates are ignored.
Errors name the file, line and field, e.g. ``forecast.jsonl line 3, order.lines[0].quantity``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..domain import DomainError, Order, ValidationError
from ..domain.errors import under_field
from ..domain.opportunity import Forecast
from .order_files import json_lines
from .order_json import order_from_dict

MAX_PROTOTYPES = 1_000_000


def read_forecast(path: str | Path, horizon_days: float) -> Forecast:
    path = Path(path)
    orders: list[Order] = []
    counts: list[float] = []
    for place, data in json_lines(path):
        if not isinstance(data, dict) or set(data) - {"expected", "order"} or "order" not in data:
            raise ValidationError(place, 'each line is {"expected": N, "order": {...}}')
        expected = data.get("expected")
        if isinstance(expected, bool) or not isinstance(expected, int | float) \
                or not math.isfinite(expected) or expected < 0:
            raise ValidationError(f"{place}, expected", f"must be a number >= 0, got {expected!r}")
        try:
            with under_field("order"):
                orders.append(order_from_dict(data["order"]))
        except DomainError as err:
            raise ValidationError(f"{place}, {err.field}", err.message) from None
        counts.append(float(expected))
        if len(orders) > MAX_PROTOTYPES:
            raise ValidationError(str(path), f"more than {MAX_PROTOTYPES} prototypes")
    if not orders:
        raise ValidationError(str(path), "no prototypes: a forecast needs at least one line")
    return Forecast(tuple(orders), np.array(counts), horizon_days)
