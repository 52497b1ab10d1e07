"""Replenishment during a replay: receipts (at, node_id, sku, units) from a CSV file, arriving at
their time. Every row is checked before anything runs (node and SKU known to the base, units
> 0, an RFC 3339 time); errors name the file's row and column."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..domain import ConfigError, Network
from ..io.fields import FieldError, parse_datetime, parse_int
from ..io.stock_files import open_text

COLUMNS = ("at", "node_id", "sku", "units")


@dataclass(frozen=True)
class Receipt:
    """`units` of `sku` arrive at `node_id` at `at` (on hand from then on)."""

    at: datetime
    node_id: str
    sku: str
    units: int
    where: str = ""      # file and line, for errors


def read_receipts(path: str | Path, network: Network, skus: tuple[str, ...]) -> tuple[Receipt, ...]:
    """The receipts of a CSV file with columns at, node_id, sku, units, in time order."""
    path = Path(path)
    known = set(skus)
    out = []
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ConfigError(f"{path} header", f"must be {','.join(COLUMNS)}, got {reader.fieldnames}")
        for k, row in enumerate(reader):
            where = f"{path} line {k + 2}"
            try:
                at = parse_datetime(row["at"])
            except FieldError as exc:
                raise ConfigError(f"{where}, column 'at'",
                                  f"must be {exc.expected}, got {row['at']!r}") from None
            try:
                units = parse_int(row["units"], minimum=1)
            except FieldError as exc:
                raise ConfigError(f"{where}, column 'units'",
                                  f"must be {exc.expected}, got {row['units']!r}") from None
            if not network.has(row["node_id"]):
                raise ConfigError(f"{where}, column 'node_id'", f"unknown node {row['node_id']!r}")
            if row["sku"] not in known:
                raise ConfigError(f"{where}, column 'sku'",
                                  f"unknown SKU {row['sku']!r} (not in the base stock)")
            out.append(Receipt(at, row["node_id"], row["sku"], units, where))
    return tuple(sorted(out, key=lambda r: r.at))
