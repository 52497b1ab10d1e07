"""Proto <-> domain conversion. The only module that knows both shapes.

Malformed proto input (a missing destination, an impossible date, a bad timestamp) raises the
domain ValidationError naming the proto field path relative to the request, e.g.
"order.deliver_by". Domain checks raised while building or validating an Order use paths relative
to the Order; `under_field("order")` prefixes them so every error a client sees names the request
field it must fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.domain import (
    Alternative,
    BackorderedLine,
    CostBreakdown,
    Destination,
    Explanation,
    Line,
    Order,
    OrderOptions,
    PenaltyOverride,
    Plan,
    PlanStatus,
    Shipment,
    ShipmentLine,
    ValidationError,
)
from dom_engine.domain.batch import BatchResult, BatchStatus
from dom_engine.domain.errors import under_field
from dom_engine.domain.stop import Deadline, Stopped

__all__ = ["BatchCall", "RouteCall", "batch_call_from_proto", "batch_result_to_proto", "order_from_proto",
           "order_to_proto", "plan_from_proto", "plan_to_proto", "reject_call_from_proto",
           "route_call_from_proto", "under_field", "validate_call_from_proto"]

# Largest time budget one request may ask for: bounds the work a single call can cause.
MAX_TIME_BUDGET_MS = 60_000.0
# The same for one RouteBatch call (a batch of 10,000 orders takes seconds, not milliseconds).
MAX_BATCH_TIME_BUDGET_MS = 600_000.0
# Longest request_id echoed and logged.
MAX_REQUEST_ID_LENGTH = 128
# google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_TIMESTAMP_S = -62_135_596_800
_MAX_TIMESTAMP_S = 253_402_300_799

_STATUS_TO_PB = {
    PlanStatus.OPTIMAL: routing_pb.PLAN_STATUS_OPTIMAL,
    PlanStatus.FEASIBLE: routing_pb.PLAN_STATUS_FEASIBLE,
    PlanStatus.INFEASIBLE: routing_pb.PLAN_STATUS_INFEASIBLE,
    PlanStatus.NO_PLAN_FOUND: routing_pb.PLAN_STATUS_NO_PLAN_FOUND,
}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}


@dataclass(frozen=True, slots=True)
class BatchCall:
    """A parsed RouteBatchRequest. `time_budget_ms` None means the server's [batch] default."""

    orders: tuple[Order, ...]
    reserve: bool
    time_budget_ms: float | None
    request_id: str


@dataclass(frozen=True, slots=True)
class RouteCall:
    """A parsed RouteOrderRequest. `time_budget_ms` None means the engine's default."""

    order: Order
    reserve: bool
    time_budget_ms: float | None
    request_id: str


# ---------------------------------------------------------------- dates and times


def date_from_proto(msg: routing_pb.Date, field: str) -> date:
    """A calendar date; ValidationError naming `field` if it does not exist."""
    try:
        return date(msg.year, msg.month, msg.day)
    except ValueError:
        raise ValidationError(
            field, f"{msg.year:04d}-{msg.month:02d}-{msg.day:02d} is not a valid date (year, month, day)"
        ) from None


def date_to_proto(value: date) -> routing_pb.Date:
    return routing_pb.Date(year=value.year, month=value.month, day=value.day)


def _timestamp_from_proto(msg, field: str) -> datetime:
    if not (_MIN_TIMESTAMP_S <= msg.seconds <= _MAX_TIMESTAMP_S and 0 <= msg.nanos < 1_000_000_000):
        raise ValidationError(
            field, f"seconds={msg.seconds} nanos={msg.nanos} is outside the valid Timestamp range"
        )
    return msg.ToDatetime(tzinfo=UTC)


# ---------------------------------------------------------------- orders


def order_from_proto(msg: routing_pb.Order, *, now: datetime) -> Order:
    """Build a validated domain Order. Error fields are relative to the Order message (wrap the
    call in `under_field("order")` to name the request field). `now` stands in for an unset
    created_at."""
    if not msg.HasField("destination"):
        raise ValidationError("destination", "is required")
    d = msg.destination
    lines = [
        Line(
            line_id=line.line_id,
            sku=line.sku,
            quantity=line.quantity,
            unit_weight_kg=line.unit_weight_kg if line.HasField("unit_weight_kg") else None,
            ship_group=line.ship_group or None,
        )
        for line in msg.lines
    ]
    o = msg.options
    penalty = PenaltyOverride(
        per_order=o.penalty.per_order if o.penalty.HasField("per_order") else None,
        per_unit=o.penalty.per_unit if o.penalty.HasField("per_unit") else None,
    )
    options = OrderOptions(
        max_shipments=o.max_shipments if o.HasField("max_shipments") else None,
        ship_complete=o.ship_complete,
        allow_backorder=o.allow_backorder,
        excluded_nodes=frozenset(o.excluded_nodes),
        policy=o.policy,
        penalty=penalty,
    )
    return Order(
        order_id=msg.order_id,
        lines=tuple(lines),
        destination=Destination(d.latitude, d.longitude, d.postal_code, d.region),
        deliver_by=date_from_proto(msg.deliver_by, "deliver_by") if msg.HasField("deliver_by") else None,
        channel=msg.channel,
        customer_tier=msg.customer_tier,
        options=options,
        created_at=(
            _timestamp_from_proto(msg.created_at, "created_at") if msg.HasField("created_at") else now
        ),
    )


def order_to_proto(order: Order) -> routing_pb.Order:
    """The wire form of a domain Order (for clients, the CLI and tests)."""
    msg = routing_pb.Order(
        order_id=order.order_id,
        destination=routing_pb.Destination(
            latitude=order.destination.latitude,
            longitude=order.destination.longitude,
            postal_code=order.destination.postal_code,
            region=order.destination.region,
        ),
        channel=order.channel,
        customer_tier=order.customer_tier,
    )
    for line in order.lines:
        pb = msg.lines.add(line_id=line.line_id, sku=line.sku, quantity=line.quantity,
                           ship_group=line.ship_group or "")
        if line.unit_weight_kg is not None:
            pb.unit_weight_kg = line.unit_weight_kg
    if order.deliver_by is not None:
        msg.deliver_by.CopyFrom(date_to_proto(order.deliver_by))
    msg.created_at.FromDatetime(order.created_at)
    opts = order.options
    msg.options.ship_complete = opts.ship_complete
    msg.options.allow_backorder = opts.allow_backorder
    msg.options.excluded_nodes.extend(sorted(opts.excluded_nodes))
    msg.options.policy = opts.policy
    if opts.max_shipments is not None:
        msg.options.max_shipments = opts.max_shipments
    if opts.penalty.per_order is not None:
        msg.options.penalty.per_order = opts.penalty.per_order
    if opts.penalty.per_unit is not None:
        msg.options.penalty.per_unit = opts.penalty.per_unit
    return msg


def route_call_from_proto(msg: routing_pb.RouteOrderRequest, *, now: datetime) -> RouteCall:
    """Parse and check a RouteOrderRequest; errors name request field paths ("order.lines[0].sku")."""
    request_id = _request_id(msg.request_id)
    return RouteCall(_required_order(msg, now), msg.reserve, _time_budget(msg), request_id)


def _time_budget(msg: routing_pb.RouteOrderRequest | routing_pb.RejectShipmentRequest
                 | routing_pb.RouteBatchRequest, limit: float = MAX_TIME_BUDGET_MS) -> float | None:
    if not msg.HasField("time_budget_ms"):
        return None
    budget = msg.time_budget_ms
    if not (math.isfinite(budget) and 0 < budget <= limit):
        raise ValidationError("time_budget_ms", f"must be within (0, {limit:g}] ms, got {budget!r}")
    return budget


def reject_call_from_proto(msg: routing_pb.RejectShipmentRequest, *, now: datetime) -> RouteCall:
    """Parse a RejectShipmentRequest (the RouteCall's `reserve` is True: the order is reserved)."""
    request_id = _request_id(msg.request_id)
    if not msg.node_id:
        raise ValidationError("node_id", "is required")
    return RouteCall(_required_order(msg, now), True, _time_budget(msg), request_id)


def validate_call_from_proto(msg: routing_pb.ValidateOrderRequest, *, now: datetime) -> tuple[Order, str]:
    """Parse a ValidateOrderRequest into (order, request_id); errors name request field paths."""
    return _required_order(msg, now), _request_id(msg.request_id)


def _required_order(msg: routing_pb.RouteOrderRequest | routing_pb.ValidateOrderRequest
                    | routing_pb.RejectShipmentRequest, now: datetime) -> Order:
    if not msg.HasField("order"):
        raise ValidationError("order", "is required")
    with under_field("order"):
        return order_from_proto(msg.order, now=now)


def _request_id(value: str) -> str:
    if len(value) > MAX_REQUEST_ID_LENGTH:
        raise ValidationError("request_id", f"longer than {MAX_REQUEST_ID_LENGTH} characters")
    return value


# ---------------------------------------------------------------- plans


def plan_to_proto(plan: Plan) -> routing_pb.Plan:
    """The wire form of a Plan (derived values such as gap and cost totals included)."""
    msg = routing_pb.Plan(
        order_id=plan.order_id,
        status=_STATUS_TO_PB[plan.status],
        total_cost=plan.total_cost,
        shipping_cost=plan.shipping_cost,
        penalty_cost=plan.penalty_cost,
        objective=plan.objective,
        lower_bound=plan.lower_bound,
        gap=plan.gap,
        solve_time_ms=plan.solve_time_ms,
        solver=plan.solver,
        snapshot_version=plan.snapshot_version,
        staleness_s=plan.staleness_s,
        stock_from_cache=plan.stock_from_cache,
        currency=plan.currency,
        co2e_kg=plan.co2e_kg,
        opportunity_cost=plan.opportunity_cost,
        infeasible_reason=plan.infeasible_reason,
        reservation_id=plan.reservation_id,
    )
    for s in plan.shipments:
        c = s.cost
        msg.shipments.add(
            node_id=s.node_id,
            service=s.service,
            lines=[routing_pb.ShipmentLine(line_id=x.line_id, sku=x.sku, quantity=x.quantity)
                   for x in s.lines],
            ship_date=date_to_proto(s.ship_date),
            delivery_date=date_to_proto(s.delivery_date),
            distance_km=s.distance_km,
            cost=routing_pb.CostBreakdown(package=c.package, units=c.units, handling=c.handling,
                                          distance=c.distance, total=c.total, co2e_kg=c.co2e_kg),
        )
    for b in plan.backordered:
        msg.backordered.add(line_id=b.line_id, sku=b.sku, quantity=b.quantity)
    e = plan.explanation
    msg.explanation.summary = e.summary
    msg.explanation.binding.extend(e.binding)
    msg.explanation.candidates_considered = e.candidates_considered
    msg.explanation.candidates_pruned = e.candidates_pruned
    if e.alternative is not None:
        a = e.alternative
        msg.explanation.alternative.node_ids.extend(a.node_ids)
        msg.explanation.alternative.objective = a.objective
        msg.explanation.alternative.extra_objective = a.extra_objective
        msg.explanation.alternative.exact = a.exact
    return msg


def plan_from_proto(msg: routing_pb.Plan) -> Plan:
    """A domain Plan from its wire form (for clients and tests). Derived fields (gap, cost.total)
    are recomputed by the domain, not read."""
    if msg.status not in _STATUS_FROM_PB:
        raise ValidationError("plan.status", f"unknown plan status {msg.status}")
    shipments = tuple(
        Shipment(
            node_id=s.node_id,
            service=s.service,
            lines=tuple(ShipmentLine(x.line_id, x.sku, x.quantity) for x in s.lines),
            ship_date=date_from_proto(s.ship_date, f"plan.shipments[{i}].ship_date"),
            delivery_date=date_from_proto(s.delivery_date, f"plan.shipments[{i}].delivery_date"),
            distance_km=s.distance_km,
            cost=CostBreakdown(s.cost.package, s.cost.units, s.cost.handling, s.cost.distance,
                               s.cost.co2e_kg),
        )
        for i, s in enumerate(msg.shipments)
    )
    e = msg.explanation
    alternative = None
    if e.HasField("alternative"):
        alternative = Alternative(tuple(e.alternative.node_ids), e.alternative.objective,
                                  e.alternative.extra_objective, e.alternative.exact)
    return Plan(
        order_id=msg.order_id,
        status=_STATUS_FROM_PB[msg.status],
        shipments=shipments,
        backordered=tuple(BackorderedLine(b.line_id, b.sku, b.quantity) for b in msg.backordered),
        total_cost=msg.total_cost,
        shipping_cost=msg.shipping_cost,
        penalty_cost=msg.penalty_cost,
        objective=msg.objective,
        lower_bound=msg.lower_bound,
        solve_time_ms=msg.solve_time_ms,
        solver=msg.solver,
        snapshot_version=msg.snapshot_version,
        staleness_s=msg.staleness_s,
        stock_from_cache=msg.stock_from_cache,
        opportunity_cost=msg.opportunity_cost,
        currency=msg.currency,
        co2e_kg=msg.co2e_kg,
        infeasible_reason=msg.infeasible_reason,
        explanation=Explanation(e.summary, alternative, tuple(e.binding), e.candidates_considered,
                                e.candidates_pruned),
        reservation_id=msg.reservation_id,
    )


# ---------------------------------------------------------------- batches


# Orders parsed between two looks at the call's stop (~35 µs each: a cancelled call of 2,000
# orders stops parsing within ~2 ms instead of finishing its ~70 ms).
PARSE_CHECK_EVERY = 64


def batch_call_from_proto(msg: routing_pb.RouteBatchRequest, *, now: datetime,
                          stop: Deadline | None = None) -> BatchCall:
    """Parse a RouteBatchRequest; errors name request field paths ("orders[3].lines[0].quantity").
    Batch-level checks (empty, size, duplicate ids) are the engine's. Raises Stopped when `stop`
    (the call's deadline) expires or is cancelled before the orders are parsed: no plan can be had."""
    request_id = _request_id(msg.request_id)
    budget = _time_budget(msg, MAX_BATCH_TIME_BUDGET_MS)
    orders = []
    for k, order in enumerate(msg.orders):
        if stop is not None and k % PARSE_CHECK_EVERY == 0 and stop.expired():
            raise Stopped(f"the call's time ran out after parsing {k} of {len(msg.orders)} orders",
                          cancelled=stop.cancelled)
        with under_field(f"orders[{k}]"):
            orders.append(order_from_proto(order, now=now))
    return BatchCall(tuple(orders), msg.reserve, budget, request_id)


def batch_result_to_proto(result: BatchResult, request_id: str = "") -> routing_pb.RouteBatchResponse:
    """The wire form of a BatchResult (plans in request order, KPIs with their derived ratios)."""
    k = result.kpis
    kpis = routing_pb.BatchKpis(
        orders=k.orders, orders_complete=k.orders_complete, orders_unallocated=k.orders_unallocated,
        units_ordered=k.units_ordered, units_shipped=k.units_shipped, shipments=k.shipments,
        shipments_per_order=k.shipments_per_order, fill_rate=k.fill_rate, shipping_cost=k.shipping_cost,
        penalty_cost=k.penalty_cost, total_cost=k.total_cost,
        units_by_node=dict(k.units_by_node), shipments_by_node=dict(k.shipments_by_node),
    )
    return routing_pb.RouteBatchResponse(
        status=_BATCH_STATUS_TO_PB[result.status], plans=[plan_to_proto(p) for p in result.plans],
        objective=result.objective, lower_bound=result.lower_bound, gap=result.gap, kpis=kpis,
        solve_time_ms=result.solve_time_ms, snapshot_version=result.snapshot_version, request_id=request_id,
    )


_BATCH_STATUS_TO_PB = {
    BatchStatus.OPTIMAL: routing_pb.BATCH_STATUS_OPTIMAL,
    BatchStatus.FEASIBLE: routing_pb.BATCH_STATUS_FEASIBLE,
}
