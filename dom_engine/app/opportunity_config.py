"""[opportunity]: where inventory-aware routing's prices come from and how long they hold (the
keys are documented with the rest in app/config.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..domain import ConfigError, ValidationError
from ..domain.opportunity import grid_size
from ..io.tables import Table


@dataclass(frozen=True)
class OpportunityConfig:
    """Prices are the stock rows' duals of the fluid LP of a forecast: the orders expected over
    `horizon_days`, from `forecast` (a file, io/forecast_file.py) or, without one, the last
    `recent_orders` orders this process routed. A server re-computes them every
    `refresh_every_s` (0: only when asked, `dom prices refresh`); prices older than `max_age_s`
    are stale and inventory-aware policies route on cost alone. Prototypes are routed with
    `policy` ("" = the default policy); one computation may take `time_budget_s`. Prototypes
    alike (same lines and options) in one zone of `zoning` ("exact", "region", "grid:D" degrees)
    are merged before the LP."""

    forecast: Path | None = None
    horizon_days: float = 7.0
    refresh_every_s: float = 0.0
    max_age_s: float = 86_400.0
    recent_orders: int = 20_000
    time_budget_s: float = 120.0
    policy: str = ""
    zoning: str = "grid:0.5"

    def __post_init__(self) -> None:
        for name in ("horizon_days", "max_age_s", "time_budget_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"opportunity.{name}", f"must be > 0, got {value}")
        if not (math.isfinite(self.refresh_every_s) and self.refresh_every_s >= 0):
            raise ConfigError("opportunity.refresh_every_s", f"must be >= 0, got {self.refresh_every_s}")
        if self.zoning not in ("exact", "region"):
            try:
                grid_size(self.zoning)
            except ValidationError as exc:
                raise ConfigError("opportunity.zoning", exc.message) from None
        if not 1 <= self.recent_orders <= 10_000_000:
            raise ConfigError("opportunity.recent_orders",
                              f"must be within [1, 10,000,000], got {self.recent_orders}")


def parse_opportunity(t: Table, path_of) -> OpportunityConfig:
    """[opportunity] -> OpportunityConfig; `path_of(table, key)` resolves the forecast file."""
    d = OpportunityConfig()
    config = OpportunityConfig(
        forecast=path_of(t, "forecast"),
        horizon_days=t.get("horizon_days", float, d.horizon_days),
        refresh_every_s=t.get("refresh_every_s", float, d.refresh_every_s),
        max_age_s=t.get("max_age_s", float, d.max_age_s),
        recent_orders=t.get("recent_orders", int, d.recent_orders),
        time_budget_s=t.get("time_budget_s", float, d.time_budget_s),
        policy=t.get("policy", str, d.policy),
        zoning=t.get("zoning", str, d.zoning))
    t.done()
    return config
