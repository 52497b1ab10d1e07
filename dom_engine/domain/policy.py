"""Policy profiles: hard filters on which nodes may ship, and the weights of the objective.

Every objective the engine optimises is linear per shipment, so one exact model serves all of them:
    cost_weight * money
  + split_penalty * (shipments - 1)
  + delivery_day_weight * sum over shipments of days until delivery
  + co2e_price * kg CO2e
  + unfilled penalties (per order with any shortfall, per unit short)
The modes are weight presets: FEWEST_SHIPMENTS adds a split penalty that dominates any cost saving;
FASTEST adds a per-day weight that dominates cost. Money stays reported separately from objective.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from .errors import ConfigError

# Large enough to dominate any realistic per-order cost difference, small enough to keep the
# objective well inside float precision and OR-Tools' integer scaling.
DOMINANT_WEIGHT = 10_000.0


class Mode(enum.Enum):
    COST = "cost"
    FEWEST_SHIPMENTS = "fewest_shipments"
    FASTEST = "fastest"
    # Cost, plus what each unit shipped is worth to the orders expected later (opportunity prices
    # from the fluid LP of a forecast, times `opportunity_weight`); myopic cost without prices.
    INVENTORY_AWARE = "inventory_aware"


@dataclass(frozen=True, slots=True)
class Penalties:
    """Cost of leaving units unfilled. The US reference model prices a missing unit as shipped by a
    dummy site at twice the rates: per_order=2*8.759, per_unit=2*0.423 and
    per_unit_per_max_distance=2*0.000541 per mile x the destination's largest node distance."""

    per_order: float = 50.0
    per_unit: float = 25.0
    per_unit_per_max_distance: float = 0.0
    distance_unit: str = "km"

    def __post_init__(self) -> None:
        for name in ("per_order", "per_unit", "per_unit_per_max_distance"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"penalties.{name}", f"must be finite and >= 0, got {value}")


@dataclass(frozen=True, slots=True)
class Weights:
    cost_weight: float = 1.0
    split_penalty: float = 0.0
    delivery_day_weight: float = 0.0
    co2e_price: float = 0.0

    def __post_init__(self) -> None:
        for name in ("cost_weight", "split_penalty", "delivery_day_weight", "co2e_price"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"weights.{name}", f"must be finite and >= 0, got {value}")
        if self.cost_weight <= 0:
            raise ConfigError("weights.cost_weight", "must be > 0")


@dataclass(frozen=True)
class PolicyProfile:
    """A named sourcing policy.

    `channel_node_kinds` maps a channel to the node kinds allowed to ship its orders (channels not
    listed may use every kind). `min_stock_buffer` keeps that many units per SKU untouched at nodes
    of a kind (e.g. stores keep 2 on the shelf). `max_shipments` is the default cap per order.
    """

    name: str = "default"
    mode: Mode = Mode.COST
    weights: Weights = field(default_factory=Weights)
    penalties: Penalties = field(default_factory=Penalties)
    channel_node_kinds: dict[str, frozenset[str]] = field(default_factory=dict)
    min_stock_buffer: dict[str, int] = field(default_factory=dict)
    max_shipments: int = 5
    opportunity_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.max_shipments < 1:
            raise ConfigError(f"policies[{self.name!r}].max_shipments", "must be >= 1")
        if not (math.isfinite(self.opportunity_weight) and self.opportunity_weight >= 0):
            raise ConfigError(f"policies[{self.name!r}].opportunity_weight",
                              f"must be finite and >= 0, got {self.opportunity_weight}")
        for kind, buffer in self.min_stock_buffer.items():
            if buffer < 0:
                raise ConfigError(f"policies[{self.name!r}].min_stock_buffer[{kind!r}]", "must be >= 0")

    def mode_extras(self) -> tuple[float, float]:
        """What the mode adds: (objective per shipment, objective per delivery day per shipment).
        Routing also adds the largest such amount to the unfilled penalties, so a mode that ranks
        plans by shipments or speed never prefers leaving stock unshipped."""
        if self.mode is Mode.FEWEST_SHIPMENTS:
            return DOMINANT_WEIGHT, 0.0
        if self.mode is Mode.FASTEST:
            return 0.0, DOMINANT_WEIGHT
        return 0.0, 0.0

    @property
    def inventory_aware(self) -> bool:
        """Routes on cost + opportunity prices (when fresh prices exist)."""
        return self.mode is Mode.INVENTORY_AWARE and self.opportunity_weight > 0

    def effective_weights(self) -> Weights:
        """The weights after applying the mode preset."""
        w = self.weights
        if self.mode is Mode.FEWEST_SHIPMENTS:
            return Weights(w.cost_weight, w.split_penalty + DOMINANT_WEIGHT, w.delivery_day_weight,
                           w.co2e_price)
        if self.mode is Mode.FASTEST:
            return Weights(w.cost_weight, w.split_penalty, w.delivery_day_weight + DOMINANT_WEIGHT,
                           w.co2e_price)
        return w
