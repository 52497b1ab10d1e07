"""Batch (wave) allocation: settings, how orders are prioritised, and the result of one batch."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .errors import ConfigError, ValidationError
from .order import Order
from .plan import Plan


class PriorityRule(enum.Enum):
    """How order priority weighs against cost when stock is short.

    STRICT: one priority point is worth more than any shipment's cost, so a unit is never left
    unfilled on an order while a lower-priority order (by a point or more) gets a unit it could
    have shipped instead, however much cheaper that is. WEIGHTED: each point adds
    `penalty_per_point` (money) to the order's penalty per unfilled unit; cost may win."""

    STRICT = "strict"
    WEIGHTED = "weighted"


@dataclass(frozen=True)
class BatchSettings:
    """Config section [batch]. Priority points of an order = its tier's points + age points +
    due-soon points; they raise its penalty per unfilled unit (see PriorityRule)."""

    max_orders: int = 100_000
    time_budget_ms: float = 10_000.0
    priority_rule: PriorityRule = PriorityRule.STRICT
    tier_points: Mapping[str, float] = field(default_factory=dict)   # customer_tier -> points
    points_per_day_waiting: float = 0.0     # per day since created_at
    due_soon_days: int = 0                  # deliver_by within this many days of today ...
    due_soon_points: float = 0.0            # ... earns these points
    penalty_per_point: float = 1.0          # WEIGHTED only: money per unfilled unit per point
    # Where column generation prices orders: "threads" of this process, or "ray" actors (the
    # `ray` extra) on a local instance or the cluster at ray_address; workers 0 = one per core.
    executor: str = "threads"
    pricing_workers: int = 0
    ray_address: str = ""

    def __post_init__(self) -> None:
        if self.max_orders < 1:
            raise ConfigError("batch.max_orders", f"must be >= 1, got {self.max_orders}")
        if not (math.isfinite(self.time_budget_ms) and self.time_budget_ms > 0):
            raise ConfigError("batch.time_budget_ms", f"must be > 0, got {self.time_budget_ms}")
        for name in ("points_per_day_waiting", "due_soon_points", "penalty_per_point"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"batch.{name}", f"must be a finite number >= 0, got {value}")
        for tier, points in self.tier_points.items():
            if not (math.isfinite(points) and points >= 0):
                raise ConfigError(f"batch.tier_points.{tier}", f"must be a finite number >= 0, got {points}")
        if self.executor not in ("threads", "ray"):
            raise ConfigError("batch.executor", f'must be "threads" or "ray", got {self.executor!r}')
        if self.pricing_workers < 0:
            raise ConfigError("batch.pricing_workers",
                              f"must be >= 0 (0: one per core), got {self.pricing_workers}")
        if self.due_soon_days < 0:
            raise ConfigError("batch.due_soon_days", f"must be >= 0, got {self.due_soon_days}")

    def points(self, order: Order, now: datetime) -> float:
        """Priority points of `order` at `now` (0 for an untiered, fresh order with no promise)."""
        pts = self.tier_points.get(order.customer_tier, 0.0)
        if self.points_per_day_waiting:
            waited_days = max(0.0, (now - order.created_at).total_seconds() / 86_400)
            pts += self.points_per_day_waiting * waited_days
        if self.due_soon_points and order.deliver_by is not None:
            if (order.deliver_by - now.date()).days <= self.due_soon_days:
                pts += self.due_soon_points
        return pts


def validate_batch(orders: Sequence[Order], settings: BatchSettings) -> None:
    """Batch-level checks (each order is validated on its own as well): not empty, within the
    configured size, order ids unique."""
    if not orders:
        raise ValidationError("orders", "a batch needs at least one order")
    if len(orders) > settings.max_orders:
        raise ValidationError("orders",
                              f"{len(orders)} orders exceed the batch limit of {settings.max_orders}")
    seen: dict[str, int] = {}
    for k, order in enumerate(orders):
        first = seen.setdefault(order.order_id, k)
        if first != k:
            raise ValidationError(f"orders[{k}].order_id",
                                  f"duplicate order id {order.order_id!r} (also orders[{first}])")


class BatchStatus(enum.Enum):
    OPTIMAL = "OPTIMAL"      # cost equals the lower bound (within float noise)
    FEASIBLE = "FEASIBLE"    # a plan for every order; see lower_bound and gap


@dataclass(frozen=True)
class BatchKpis:
    """Aggregates of a batch's plans (money in the network currency)."""

    orders: int
    orders_complete: int                 # every unit shipped
    orders_unallocated: int              # nothing shipped (short, or no-backorder orders left out)
    units_ordered: int
    units_shipped: int
    shipments: int
    shipping_cost: float
    penalty_cost: float
    units_by_node: Mapping[str, int]
    shipments_by_node: Mapping[str, int]

    @property
    def fill_rate(self) -> float:
        return self.units_shipped / self.units_ordered if self.units_ordered else 1.0

    @property
    def shipments_per_order(self) -> float:
        return self.shipments / self.orders if self.orders else 0.0

    @property
    def total_cost(self) -> float:
        return self.shipping_cost + self.penalty_cost


@dataclass(frozen=True)
class BatchResult:
    """Plans for every order of a batch (in request order), the joint objective, a proven lower
    bound on it and the KPIs. `objective` and `lower_bound` are in the weighted objective the
    policies define, including priority points; `gap` = (objective - lower_bound) / objective."""

    status: BatchStatus
    plans: tuple[Plan, ...]
    objective: float
    lower_bound: float
    kpis: BatchKpis
    solve_time_ms: float
    snapshot_version: int
    stats: Mapping[str, float] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        return max(0.0, (self.objective - self.lower_bound) / max(abs(self.objective), 1e-9))
