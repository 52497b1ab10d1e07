"""Expected demand and what stock is worth: the inputs and outputs of inventory-aware routing.

A myopic router spends a unit wherever it is cheapest now, even when a later order has no other
source for it. Acimovic & Graves (2015) price each unit by the dual of a fluid LP over the demand
expected until the next replenishment and route on shipping cost + that opportunity cost. Here the
fluid LP runs over order *prototypes* (an Order each, with how many like it are expected), so per
package costs and splits are priced as the router prices them (optimize/opportunity).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from .errors import ValidationError
from .order import Destination, Order


@dataclass(frozen=True)
class Forecast:
    """Orders expected over the next `horizon_days`: `counts[k]` orders like `prototypes[k]`
    (same lines, destination, options), fractional counts allowed."""

    prototypes: tuple[Order, ...]
    counts: np.ndarray
    horizon_days: float

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=np.float64)
        if counts.shape != (len(self.prototypes),):
            raise ValidationError("forecast.counts", f"needs one count per prototype "
                                  f"({len(self.prototypes)}), got shape {counts.shape}")
        if not np.isfinite(counts).all() or (counts < 0).any():
            raise ValidationError("forecast.counts", "must be finite and >= 0")
        if not (math.isfinite(self.horizon_days) and self.horizon_days > 0):
            raise ValidationError("forecast.horizon_days", f"must be > 0, got {self.horizon_days}")
        object.__setattr__(self, "counts", counts)

    @property
    def expected_orders(self) -> float:
        return float(self.counts.sum())


def zone_of(destination: Destination, zoning: str) -> str:
    """The zone of a destination under `zoning`: "exact" (its coordinates), "region" (its region
    code, else its 1-degree grid cell) or "grid:D" (cells of D degrees of latitude x longitude)."""
    if zoning == "exact":
        return f"{destination.latitude:.5f},{destination.longitude:.5f}"
    if zoning == "region" and destination.region:
        return f"region:{destination.region}"
    size = 1.0 if zoning == "region" else grid_size(zoning)
    return f"cell:{math.floor(destination.latitude / size)}:{math.floor(destination.longitude / size)}"


def grid_size(zoning: str) -> float:
    """D of a "grid:D" zoning (ValidationError for anything but "exact", "region", "grid:D>0")."""
    head, _, size = zoning.partition(":")
    try:
        value = float(size) if head == "grid" else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 180):
        raise ValidationError("opportunity.zoning", f'must be "exact", "region" or "grid:D" (0 < D <= 180 '
                                                    f"degrees), got {zoning!r}")
    return value


def aggregated(forecast: Forecast, zoning: str) -> Forecast:
    """Prototypes alike merged: the same lines (SKU, quantity, weight, kit) and options in the same
    zone become one, expected as often as all of them, shipped to their count-weighted centroid.
    Fewer prototypes make a smaller fluid LP; "exact" merges only identical destinations."""
    groups: dict[tuple, list[int]] = {}
    for k, order in enumerate(forecast.prototypes):
        lines = tuple(sorted((ln.sku, ln.quantity, ln.unit_weight_kg or 0.0, ln.ship_group or "")
                             for ln in order.lines))
        key = (zone_of(order.destination, zoning), lines, order.options, order.channel, order.deliver_by)
        groups.setdefault(key, []).append(k)
    protos, counts = [], []
    for members in groups.values():
        w = forecast.counts[members]
        first = forecast.prototypes[members[0]]
        if len(members) > 1 and w.sum() > 0:
            where = [forecast.prototypes[k].destination for k in members]
            lat = float(np.average([d.latitude for d in where], weights=w))
            lon = float(np.average([d.longitude for d in where], weights=w))
            first = replace(first, destination=replace(first.destination, latitude=lat, longitude=lon))
        protos.append(first)
        counts.append(float(w.sum()))
    return Forecast(tuple(protos), np.array(counts), forecast.horizon_days)


@dataclass(frozen=True)
class OpportunityPrices:
    """What one more unit of each SKU at each node is worth over the forecast's horizon (money,
    >= 0): the stock rows' duals of the fluid LP. `values[n, k]` is node `node_ids[n]`, SKU
    `skus[k]`; SKUs not listed are worth nothing extra. `snapshot_version` is the stock they were
    computed on; `bound` the fluid LP's cost of the forecast (money over the horizon)."""

    node_ids: tuple[str, ...]
    skus: tuple[str, ...]
    values: np.ndarray
    snapshot_version: int
    computed_at: datetime
    horizon_days: float
    bound: float = math.nan

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != (len(self.node_ids), len(self.skus)):
            raise ValidationError("opportunity_prices.values", f"must be nodes x skus "
                                  f"({len(self.node_ids)} x {len(self.skus)}), got {values.shape}")
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValidationError("opportunity_prices.values", "must be finite and >= 0")
        if self.computed_at.tzinfo is None:
            raise ValidationError("opportunity_prices.computed_at", "must be timezone-aware")
        object.__setattr__(self, "values", values)
        # Routing looks prices up per order: index maps made once, not per call.
        object.__setattr__(self, "_col", {sku: k for k, sku in enumerate(self.skus)})
        object.__setattr__(self, "_row", {node: n for n, node in enumerate(self.node_ids)})

    def for_stock(self, node_ids: Sequence[str], skus: Sequence[str]) -> np.ndarray:
        """(len(node_ids), len(skus)) prices in that node and SKU order; 0 for a node or SKU these
        prices do not know (one added since they were computed)."""
        col: dict[str, int] = self._col    # type: ignore[attr-defined]
        cols = np.array([col.get(sku, -1) for sku in skus], dtype=np.int64)
        if len(node_ids) == len(self.node_ids) and tuple(node_ids) == self.node_ids:
            out = self.values[:, np.clip(cols, 0, None)]
        else:
            row: dict[str, int] = self._row    # type: ignore[attr-defined]
            rows = np.array([row.get(node, -1) for node in node_ids], dtype=np.int64)
            out = self.values[np.clip(rows, 0, None)][:, np.clip(cols, 0, None)]
            out[rows < 0] = 0.0
        out[:, cols < 0] = 0.0
        return out

    def is_fresh(self, now: datetime, max_age_s: float, stock_version: int) -> bool:
        """At most `max_age_s` old and computed on stock no newer than `stock_version` (prices of a
        later snapshot than the stock read belong to a store that was reset or replaced)."""
        age = (now - self.computed_at).total_seconds()
        return age <= max_age_s and self.snapshot_version <= stock_version
