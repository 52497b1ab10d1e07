"""The result of routing one order: a Plan carries status, cost, bound, timing and explanation."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date


class PlanStatus(enum.Enum):
    OPTIMAL = "OPTIMAL"          # proven minimum of the objective
    FEASIBLE = "FEASIBLE"        # best plan found within the time budget; see lower_bound / gap
    INFEASIBLE = "INFEASIBLE"    # no plan satisfies the constraints; see infeasible_reason
    NO_PLAN_FOUND = "NO_PLAN_FOUND"  # budget ran out before any plan; infeasibility not proven

    @property
    def has_plan(self) -> bool:
        return self in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE)


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Money for one shipment, in the network currency. `co2e_kg` is an estimate, not money."""

    package: float = 0.0
    units: float = 0.0
    handling: float = 0.0
    distance: float = 0.0
    co2e_kg: float = 0.0

    @property
    def total(self) -> float:
        return self.package + self.units + self.handling + self.distance


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Shipment:
    node_id: str
    service: str
    lines: tuple[ShipmentLine, ...]
    ship_date: date
    delivery_date: date
    distance_km: float
    cost: CostBreakdown

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class BackorderedLine:
    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Alternative:
    """The cheapest plan that uses a different set of nodes, and how much more it costs."""

    node_ids: tuple[str, ...]
    objective: float
    extra_objective: float
    exact: bool = True          # False: best found before the search's effort limit, not proven


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why these nodes. `binding` lists the constraints that limited the choice, in words."""

    summary: str = ""
    alternative: Alternative | None = None
    binding: tuple[str, ...] = ()
    candidates_considered: int = 0
    candidates_pruned: int = 0


@dataclass(frozen=True)
class Plan:
    order_id: str
    status: PlanStatus
    shipments: tuple[Shipment, ...] = ()
    backordered: tuple[BackorderedLine, ...] = ()
    total_cost: float = 0.0            # money: shipments plus unfilled penalties
    shipping_cost: float = 0.0         # money: shipments only
    penalty_cost: float = 0.0          # unfilled penalties
    objective: float = 0.0             # the weighted objective that was minimised
    lower_bound: float = 0.0           # proven lower bound on the objective
    solve_time_ms: float = 0.0
    solver: str = ""                   # which path produced the plan (lagrangian-bb, cp-sat, ...)
    snapshot_version: int = 0
    staleness_s: float = 0.0
    currency: str = "USD"
    co2e_kg: float = 0.0
    infeasible_reason: str = ""
    explanation: Explanation = field(default_factory=Explanation)
    reservation_id: str = ""
    stock_from_cache: bool = False     # the store was unreachable; stock came from its cache
    # Inventory-aware routing: what the shipped units are worth to later orders (opportunity
    # prices x the policy's weight, money). In the objective, not in total_cost.
    opportunity_cost: float = 0.0

    @property
    def gap(self) -> float:
        """Relative gap between objective and lower bound (0 when proven optimal)."""
        if not self.status.has_plan:
            return 0.0
        denom = max(abs(self.objective), 1e-9)
        return max(0.0, (self.objective - self.lower_bound) / denom)

    @property
    def units_shipped(self) -> int:
        return sum(s.units for s in self.shipments)

    @property
    def units_backordered(self) -> int:
        return sum(b.quantity for b in self.backordered)
