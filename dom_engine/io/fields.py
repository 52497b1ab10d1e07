"""The one place raw field values are parsed, whatever file or variable they come from: order JSON,
order CSV / Parquet cells, network / rate / policy tables (TOML and CSV), stock files and DOM_*
environment variables. Every reader calls these, so a boolean, an integer or a date is spelled the
same way everywhere.

Each parser returns the value or raises FieldError saying what was expected ("true or false",
"an integer", ...); the reader turns that into its own error (ValidationError for order data,
ConfigError for configuration) naming the file, row, column or key, as `must be <expected>, got
<value>`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "FieldError", "parse_bool", "parse_date", "parse_datetime",
           "parse_float", "parse_int"]

# Spellings of a boolean in text (CSV cells, environment variables), compared lower-cased.
TRUE_WORDS = ("true", "yes", "y", "on", "1")
FALSE_WORDS = ("false", "no", "n", "off", "0")
_INTEGER = re.compile(r"[+-]?\d+")


class FieldError(ValueError):
    """A raw value that does not parse; `expected` says what would have."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def parse_bool(value: Any, *, words: bool = True) -> bool:
    """A bool, or (with `words`, for text sources) one of TRUE_WORDS / FALSE_WORDS in any case.
    Typed sources (JSON, TOML) pass words=False: there a boolean is true or false, never "yes"."""
    if isinstance(value, bool):
        return value
    if words and isinstance(value, str | int):
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise FieldError("true or false")


def parse_int(value: Any, *, minimum: int | None = None) -> int:
    """An int (not a bool), an integral float, or a decimal string such as "42" (proto-JSON writes
    int64 as strings; CSV cells are text). With `minimum`, smaller values fail too."""
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("an integer" if minimum is None else f"an integer >= {minimum}")
    if minimum is not None and value < minimum:
        raise FieldError(f"an integer >= {minimum}")
    return value


def parse_float(value: Any, *, finite: bool = False) -> float:
    """A number (int or float, not a bool) or a numeric string; with `finite`, not inf or nan."""
    if isinstance(value, bool):
        raise FieldError("a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError("a number") from None
    if finite and not math.isfinite(number):
        raise FieldError("a finite number")
    return number


def parse_date(value: Any) -> date:
    """A date, a datetime (its date) or "YYYY-MM-DD"."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise FieldError('a date "YYYY-MM-DD"')


def parse_datetime(value: Any) -> datetime:
    """A datetime or an RFC 3339 / ISO 8601 timestamp; without a zone it is taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    if not isinstance(value, datetime):
        raise FieldError('an RFC 3339 timestamp like "2026-01-31T12:00:00Z"')
    return value if value.tzinfo else value.replace(tzinfo=UTC)
