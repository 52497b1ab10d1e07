"""Returns: which node receives a returned item, by what route, and what becomes of it.

A return has lines (SKU x quantity in a condition) at the customer's location. Sites (nodes that
accept returns) say which conditions and dispositions they handle, their handling cost per unit
and whether customers may drop parcels off there. Routing a return minimises
    carrier cost (per package + per unit and distance, from the rate card; 0 for a drop-off)
  + handling at the receiving site - the recovery value of the unit's disposition there,
with lines consolidated into one package per site and service when that is cheaper: the outbound
problem's structure, solved by the same exact search (optimize/returns.py).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .errors import ConfigError, require, require_lines
from .order import Destination
from .plan import PlanStatus


class Condition(enum.Enum):
    NEW = "new"
    OPENED = "opened"
    DAMAGED = "damaged"


class Disposition(enum.Enum):
    RESTOCK = "restock"        # back into sellable stock at the receiving site
    REFURBISH = "refurbish"
    LIQUIDATE = "liquidate"


@dataclass(frozen=True)
class ReturnLine:
    line_id: str
    sku: str
    quantity: int
    condition: Condition = Condition.NEW

    def validate(self, where: str) -> None:
        require(bool(self.line_id), f"{where}.line_id", "must not be empty")
        require(bool(self.sku), f"{where}.sku", "must not be empty")
        q = self.quantity
        require(not isinstance(q, bool) and isinstance(q, int) and q >= 1, f"{where}.quantity",
                f"must be an integer >= 1, got {q!r}")


@dataclass(frozen=True)
class ReturnOptions:
    """How the customer may send it: carrier pickup (a carrier service to the site) and/or
    drop-off at a store that takes drop-offs within `dropoff_radius_km`; sites to avoid."""

    pickup_allowed: bool = True
    dropoff_allowed: bool = True
    dropoff_radius_km: float = 50.0
    excluded_nodes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReturnRequest:
    """A return to route. `order_id` (optional) names the original order: its lines are then
    checked against what that order shipped."""

    return_id: str
    lines: tuple[ReturnLine, ...]
    origin: Destination
    order_id: str = ""
    reason: str = ""
    options: ReturnOptions = field(default_factory=ReturnOptions)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        require(bool(self.return_id), "return_id", "must not be empty")
        require_lines(self.lines, "a return needs at least one line")
        self.origin.validate("origin")
        require(self.options.pickup_allowed or self.options.dropoff_allowed, "options",
                "allow carrier pickup, store drop-off, or both")
        radius = self.options.dropoff_radius_km
        require(math.isfinite(radius) and radius >= 0, "options.dropoff_radius_km",
                f"must be >= 0, got {radius}")


@dataclass(frozen=True)
class ReturnSite:
    """A node that receives returns: the conditions it accepts, the dispositions it can give, the
    handling cost per unit received, whether customers may drop returns off there, and below how
    many units of a SKU it counts as short of it (None: RecoveryValues.short_below; a store that
    keeps 3 units is not short at 3 when a warehouse keeping 30 is)."""

    node_id: str
    conditions: frozenset[Condition] = frozenset(Condition)
    dispositions: frozenset[Disposition] = frozenset(Disposition)
    handling_per_unit: float = 1.0
    dropoff: bool = False
    short_below: int | None = None

    def __post_init__(self) -> None:
        where = f"returns.sites[{self.node_id!r}]"
        if not (math.isfinite(self.handling_per_unit) and self.handling_per_unit >= 0):
            raise ConfigError(f"{where}.handling_per_unit", f"must be >= 0, got {self.handling_per_unit}")
        if not self.conditions or not self.dispositions:
            raise ConfigError(where, "needs at least one condition and one disposition")
        if self.short_below is not None and self.short_below < 0:
            raise ConfigError(f"{where}.short_below", f"must be >= 0, got {self.short_below}")


# Which dispositions a unit in each condition may get (a damaged unit is never restocked).
ALLOWED = {Condition.NEW: frozenset(Disposition), Condition.OPENED: frozenset(Disposition),
           Condition.DAMAGED: frozenset({Disposition.REFURBISH, Disposition.LIQUIDATE})}


@dataclass(frozen=True)
class RecoveryValues:
    """Money credited per unit by condition and disposition (`default`), with per-SKU overrides;
    a restocked unit earns `short_bonus` more at a site holding less than `short_below` units of
    its SKU (or, with opportunity prices published, that site's price of the SKU instead)."""

    default: Mapping[tuple[Condition, Disposition], float] = field(default_factory=lambda: {
        (Condition.NEW, Disposition.RESTOCK): 20.0, (Condition.NEW, Disposition.REFURBISH): 12.0,
        (Condition.NEW, Disposition.LIQUIDATE): 5.0, (Condition.OPENED, Disposition.RESTOCK): 14.0,
        (Condition.OPENED, Disposition.REFURBISH): 10.0, (Condition.OPENED, Disposition.LIQUIDATE): 4.0,
        (Condition.DAMAGED, Disposition.REFURBISH): 6.0, (Condition.DAMAGED, Disposition.LIQUIDATE): 2.0})
    per_sku: Mapping[str, Mapping[tuple[Condition, Disposition], float]] = field(default_factory=dict)
    short_below: int = 0
    short_bonus: float = 0.0

    def value(self, sku: str, condition: Condition, disposition: Disposition) -> float | None:
        """Recovery per unit, None when that disposition is not open to the condition."""
        if disposition not in ALLOWED[condition]:
            return None
        own = self.per_sku.get(sku, {})
        return own.get((condition, disposition), self.default.get((condition, disposition)))


@dataclass(frozen=True)
class ReturnAllocation:
    """Units of one return line received at one site: how they travel (a carrier service or
    "dropoff"), what becomes of them, and the money per this allocation (shipping excludes the
    package, which its ReturnPackage carries)."""

    line_id: str
    sku: str
    quantity: int
    disposition: Disposition
    shipping: float
    handling: float
    recovery: float

    @property
    def net(self) -> float:
        return self.shipping + self.handling - self.recovery


@dataclass(frozen=True)
class ReturnPackage:
    """What one site receives by one route; `transit_days`: the carrier service's days on the way
    (0 for a drop-off: the customer brings it)."""

    node_id: str
    route: str
    package_cost: float
    lines: tuple[ReturnAllocation, ...]
    transit_days: int = 0

    @property
    def net_cost(self) -> float:
        return self.package_cost + sum(a.net for a in self.lines)


@dataclass(frozen=True)
class ReturnPlan:
    """Where a return goes. Money: `shipping_cost` (packages and per-unit carrier charges),
    `handling_cost`, `recovery_value` credited, `net_cost` = shipping + handling - recovery (the
    minimised objective; negative when the return is worth more than it costs). `runner_up`: the
    cheapest plan on another set of sites (node ids, net cost), when known."""

    return_id: str
    status: PlanStatus
    packages: tuple[ReturnPackage, ...]
    shipping_cost: float
    handling_cost: float
    recovery_value: float
    net_cost: float
    lower_bound: float
    solve_time_ms: float
    solver: str
    runner_up: tuple[tuple[str, ...], float] | None = None
    infeasible_reason: str = ""

    @property
    def gap(self) -> float:
        if not self.status.has_plan:
            return 0.0
        return max(0.0, (self.net_cost - self.lower_bound) / max(abs(self.net_cost), 1e-9))


@dataclass(frozen=True)
class ReturnReceipt:
    """Units of a return line received at a site with their disposition (CommitReturn)."""

    line_id: str
    node_id: str
    sku: str
    quantity: int
    disposition: Disposition
