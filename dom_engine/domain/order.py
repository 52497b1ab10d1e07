"""Orders as the engine sees them. Construction checks what is intrinsic to an order (positive
quantities, finite coordinates, unique line ids); limits that come from configuration (max lines,
max quantity, known SKUs, dates in the past) are checked by `domain.validation.validate_order`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from .errors import require, require_lines


@dataclass(frozen=True, slots=True)
class Line:
    """One order line: `quantity` units of `sku`. Lines sharing a `ship_group` (a kit) must ship
    together, complete, from a single node."""

    line_id: str
    sku: str
    quantity: int
    unit_weight_kg: float | None = None
    ship_group: str | None = None

    def validate(self, where: str) -> None:
        require(bool(self.line_id), f"{where}.line_id", "must not be empty")
        require(bool(self.sku), f"{where}.sku", "must not be empty")
        require(
            isinstance(self.quantity, int) and self.quantity > 0,
            f"{where}.quantity",
            f"must be a positive integer, got {self.quantity!r}",
        )
        if self.unit_weight_kg is not None:
            w = self.unit_weight_kg
            require(
                math.isfinite(w) and 0 <= w <= 10_000,
                f"{where}.unit_weight_kg",
                f"must be within [0, 10000] kg, got {w!r}",
            )


@dataclass(frozen=True, slots=True)
class Destination:
    """Where the order goes. Routing uses the coordinates; postal/region codes are carried through."""

    latitude: float
    longitude: float
    postal_code: str = ""
    region: str = ""

    def validate(self, where: str = "destination") -> None:
        lat, lon = self.latitude, self.longitude
        require(
            isinstance(lat, (int, float)) and math.isfinite(lat) and -90 <= lat <= 90,
            f"{where}.latitude",
            f"must be a finite number within [-90, 90], got {lat!r}",
        )
        require(
            isinstance(lon, (int, float)) and math.isfinite(lon) and -180 <= lon <= 180,
            f"{where}.longitude",
            f"must be a finite number within [-180, 180], got {lon!r}",
        )


@dataclass(frozen=True, slots=True)
class PenaltyOverride:
    """Per-order override of the unfilled-quantity penalty (None keeps the policy's value)."""

    per_order: float | None = None
    per_unit: float | None = None


@dataclass(frozen=True, slots=True)
class OrderOptions:
    """Sourcing options. `max_shipments` None means the policy default; `ship_complete` means a
    single shipment. `policy` names a policy profile from configuration ("" = default)."""

    max_shipments: int | None = None
    ship_complete: bool = False
    allow_backorder: bool = False
    excluded_nodes: frozenset[str] = frozenset()
    policy: str = ""
    penalty: PenaltyOverride = field(default_factory=PenaltyOverride)

    def validate(self, where: str = "options") -> None:
        if self.max_shipments is not None:
            require(
                isinstance(self.max_shipments, int) and self.max_shipments >= 1,
                f"{where}.max_shipments",
                f"must be >= 1 when set, got {self.max_shipments!r}",
            )
        for name in ("per_order", "per_unit"):
            value = getattr(self.penalty, name)
            if value is not None:
                require(
                    math.isfinite(value) and 0 <= value <= 1e9,
                    f"{where}.penalty.{name}",
                    f"must be within [0, 1e9], got {value!r}",
                )


@dataclass(frozen=True, slots=True)
class Order:
    """An order to route. `deliver_by` is the requested delivery-by date (None: no promise);
    `created_at` is when the order was placed (timezone-aware; defaults to now)."""

    order_id: str
    lines: tuple[Line, ...]
    destination: Destination
    deliver_by: date | None = None
    channel: str = ""
    customer_tier: str = ""
    options: OrderOptions = field(default_factory=OrderOptions)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        require(bool(self.order_id), "order_id", "must not be empty")
        require_lines(self.lines, "an order needs at least one line")
        self.destination.validate()
        self.options.validate()
        require(
            self.created_at.tzinfo is not None, "created_at", "must be timezone-aware (e.g. UTC)"
        )

    @property
    def total_units(self) -> int:
        return sum(line.quantity for line in self.lines)
