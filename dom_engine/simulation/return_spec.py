"""Returns in a what-if simulation: `[base.returns]` (every scenario) and `[scenarios.NAME.returns]`
(that scenario's changes to it, key by key). A share of the shipped units comes back after a
delay, in a condition, and is routed by the engine's return optimizer or sent to one returns
centre; restocked units become sellable again at the receiving node (simulation/returns.py).

    [base.returns]
    rate = 0.1                              # share of shipped units returned (default 0.1) ...
    by_channel = { marketplace = 0.2 }      # ... per sales channel instead ...
    by_sku = { "SKU-00017" = 0.35 }         # ... per SKU instead (wins over the channel)
    delay_days = [3, 14]                    # days from delivery until the customer sends it back:
                                            #   uniform in [3, 14] (or one number: always that)
    conditions = { new = 0.6, opened = 0.3, damaged = 0.1 }   # shares, summing to 1
    routing = "optimised"                   # or "centre": every return by carrier to `centre`
    centre = "WH-RENO-NV"                   # the returns centre (default: the warehouse taking
                                            #   every condition nearest the network's centroid)
    dropoff = true                          # customers may drop returns off at stores ...
    dropoff_radius_km = 30                  # ... this close to them (optimised routing only)
    processing_days = 1                     # days from receipt until a restocked unit is sellable
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..domain import ConfigError
from ..domain.returns import Condition
from ..io.tables import Table
from .scenario_values import positive

OPTIMISED, CENTRE = "optimised", "centre"
ROUTINGS = {OPTIMISED: OPTIMISED, "optimized": OPTIMISED, CENTRE: CENTRE, "center": CENTRE}
MAX_DELAY_DAYS = 365.0
MAX_PROCESSING_DAYS = 60.0
MAX_DROPOFF_RADIUS_KM = 1000.0
KEYS = ("rate", "by_channel", "by_sku", "delay_days", "conditions", "routing", "centre", "dropoff",
        "dropoff_radius_km", "processing_days")


@dataclass(frozen=True)
class ReturnsSpec:
    """How returns flow in one scenario (see the module's docstring for the keys)."""

    rate: float = 0.1
    by_channel: dict[str, float] = field(default_factory=dict)
    by_sku: dict[str, float] = field(default_factory=dict)
    delay_days: tuple[float, float] = (3.0, 14.0)
    conditions: dict[Condition, float] = field(default_factory=lambda: {
        Condition.NEW: 0.6, Condition.OPENED: 0.3, Condition.DAMAGED: 0.1})
    routing: str = OPTIMISED
    centre: str | None = None
    dropoff: bool = True
    dropoff_radius_km: float = 30.0
    processing_days: float = 1.0

    def rate_of(self, sku: str, channel: str) -> float:
        """The share of shipped units of `sku` sold through `channel` that come back."""
        if sku in self.by_sku:
            return self.by_sku[sku]
        return self.by_channel.get(channel, self.rate)

    @property
    def active(self) -> bool:
        """Whether any unit can come back at all."""
        return self.rate > 0 or any(self.by_channel.values()) or any(self.by_sku.values())


def parse_returns(t: Table, inherited: dict[str, Any] | None = None) -> tuple[ReturnsSpec, dict[str, Any]]:
    """The spec of a returns table, its keys laid over `inherited` (the base's keys, for a
    scenario); also the merged keys, for the scenarios that inherit them."""
    merged = {**(inherited or {}), **t.data}
    m = Table(merged, t.where)
    d = ReturnsSpec()
    routing_name = m.get("routing", str, d.routing)
    if routing_name not in ROUTINGS:
        raise ConfigError(m.key("routing"), f"must be one of {[OPTIMISED, CENTRE]}, got {routing_name!r}")
    spec = ReturnsSpec(
        rate=_share(m, "rate", d.rate),
        by_channel=_shares(m.table("by_channel")),
        by_sku=_shares(m.table("by_sku")),
        delay_days=_delay(m),
        conditions=_conditions(m) if "conditions" in merged else d.conditions,
        routing=ROUTINGS[routing_name],
        centre=m.get("centre", str, None),
        dropoff=m.get("dropoff", bool, d.dropoff),
        dropoff_radius_km=positive(m, "dropoff_radius_km", d.dropoff_radius_km, zero=True,
                                   most=MAX_DROPOFF_RADIUS_KM),
        processing_days=positive(m, "processing_days", d.processing_days, zero=True,
                                 most=MAX_PROCESSING_DAYS),
    )
    m.done()
    if spec.centre == "":
        raise ConfigError(m.key("centre"), "must be a node id")
    return spec, merged


def _share(t: Table, key: str, default: float) -> float:
    return positive(t, key, default, zero=True, most=1.0)


def _shares(t: Table) -> dict[str, float]:
    out = {key: _share(t, key, 0.0) for key in list(t.data)}
    t.done()
    return out


def _delay(t: Table) -> tuple[float, float]:
    raw = t.get("delay_days", (float, list), None)
    if raw is None:
        return ReturnsSpec().delay_days
    values = raw if isinstance(raw, list) else [raw, raw]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  for v in values)
    if len(values) != 2 or not numbers or not 0 <= values[0] <= values[1] <= MAX_DELAY_DAYS:
        raise ConfigError(t.key("delay_days"), f"must be days within [0, {MAX_DELAY_DAYS:g}]: one number "
                                               f"or [least, most], got {raw!r}")
    return float(values[0]), float(values[1])


def _conditions(t: Table) -> dict[Condition, float]:
    c = t.table("conditions")
    known = {x.value: x for x in Condition}
    out = {}
    for key in list(c.data):
        if key not in known:
            raise ConfigError(c.key(key), f"must be one of {list(known)}")
        out[known[key]] = _share(c, key, 0.0)
    c.done()
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise ConfigError(t.key("conditions"), f"shares must sum to 1, got {sum(out.values()):g}")
    return {x: out.get(x, 0.0) for x in Condition}
