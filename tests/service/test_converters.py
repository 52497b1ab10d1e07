"""Proto <-> domain conversion without a server: round trips and field-path errors."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.domain import (
    Alternative,
    BackorderedLine,
    ConfigError,
    CostBreakdown,
    Destination,
    Explanation,
    Line,
    NotFoundError,
    Order,
    OrderOptions,
    PenaltyOverride,
    Plan,
    PlanStatus,
    Shipment,
    ShipmentLine,
    ValidationError,
)
from dom_engine.domain.stop import Deadline, Stopped
from dom_engine.service.converters import (
    batch_call_from_proto,
    date_from_proto,
    order_from_proto,
    order_to_proto,
    plan_from_proto,
    plan_to_proto,
    route_call_from_proto,
    under_field,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

FULL_ORDER = Order(
    order_id="o-42",
    lines=(Line("1", "SKU-A", 3, unit_weight_kg=0.25, ship_group="kit-1"),
           Line("2", "SKU-B", 1, ship_group="kit-1"),
           Line("3", "SKU-C", 7)),
    destination=Destination(47.61, -122.33, "98101", "WA"),
    deliver_by=date(2026, 3, 9),
    channel="marketplace",
    customer_tier="gold",
    options=OrderOptions(max_shipments=2, ship_complete=False, allow_backorder=True,
                         excluded_nodes=frozenset({"EAST", "WEST"}), policy="fewest",
                         penalty=PenaltyOverride(per_order=12.5, per_unit=None)),
    created_at=datetime(2026, 3, 2, 14, 59, 58, 123456, tzinfo=UTC),
)

FULL_PLAN = Plan(
    order_id="o-42",
    status=PlanStatus.FEASIBLE,
    shipments=(
        Shipment("CENTRAL", "two_day", (ShipmentLine("1", "SKU-A", 3), ShipmentLine("2", "SKU-B", 1)),
                 date(2026, 3, 3), date(2026, 3, 5), 2810.5,
                 CostBreakdown(14.5, 2.4, 1.4, 3.1, co2e_kg=0.8)),
        Shipment("WEST", "ground", (ShipmentLine("3", "SKU-C", 5),), date(2026, 3, 2), date(2026, 3, 4),
                 1100.0, CostBreakdown(8.759, 2.115, 1.5, 2.0, co2e_kg=0.3)),
    ),
    backordered=(BackorderedLine("3", "SKU-C", 2),),
    total_cost=90.0, shipping_cost=37.274, penalty_cost=52.726, objective=91.0, lower_bound=88.0,
    solve_time_ms=3.25, solver="cp-sat", snapshot_version=17, staleness_s=0.5, currency="USD", co2e_kg=1.1,
    explanation=Explanation("split for stock", Alternative(("EAST",), 95.0, 4.0), ("stock of SKU-B",), 6, 2),
    reservation_id="res-1",
)


def test_order_round_trips_through_proto() -> None:
    assert order_from_proto(order_to_proto(FULL_ORDER), now=NOW) == FULL_ORDER


def test_minimal_order_gets_defaults_and_the_servers_now() -> None:
    msg = routing_pb.Order(order_id="o", lines=[routing_pb.Line(line_id="1", sku="S", quantity=1)],
                           destination=routing_pb.Destination(latitude=1.0, longitude=2.0))
    order = order_from_proto(msg, now=NOW)
    assert order.created_at == NOW
    assert order.deliver_by is None
    assert order.lines[0].unit_weight_kg is None and order.lines[0].ship_group is None
    assert order.options == OrderOptions()


def test_plan_round_trips_through_proto() -> None:
    msg = plan_to_proto(FULL_PLAN)
    assert plan_from_proto(msg) == FULL_PLAN
    assert msg.status == routing_pb.PLAN_STATUS_FEASIBLE
    assert msg.gap == pytest.approx(FULL_PLAN.gap) and msg.gap > 0
    assert msg.shipments[0].cost.total == pytest.approx(14.5 + 2.4 + 1.4 + 3.1)
    assert msg.explanation.HasField("alternative")


def test_plan_without_alternative_has_none_on_the_wire() -> None:
    plan = Plan("o", PlanStatus.INFEASIBLE, infeasible_reason="no stock")
    msg = plan_to_proto(plan)
    assert not msg.explanation.HasField("alternative")
    assert msg.status == routing_pb.PLAN_STATUS_INFEASIBLE
    assert plan_from_proto(msg) == plan


def test_plan_with_unspecified_status_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        plan_from_proto(routing_pb.Plan(order_id="o"))
    assert info.value.field == "plan.status"


@pytest.mark.parametrize(("y", "m", "d"), [(2026, 2, 29), (2026, 0, 1), (0, 1, 1), (2026, 4, 31), (-1, 1, 1)])
def test_impossible_dates_name_the_field(y: int, m: int, d: int) -> None:
    with pytest.raises(ValidationError) as info:
        date_from_proto(routing_pb.Date(year=y, month=m, day=d), "order.deliver_by")
    assert info.value.field == "order.deliver_by"


def test_route_call_names_request_paths() -> None:
    msg = routing_pb.RouteOrderRequest(order=order_to_proto(FULL_ORDER))
    msg.order.lines[2].quantity = 0
    with pytest.raises(ValidationError) as info:
        route_call_from_proto(msg, now=NOW)
    assert info.value.field == "order.lines[2].quantity"


def test_route_call_parses_request_fields() -> None:
    msg = routing_pb.RouteOrderRequest(order=order_to_proto(FULL_ORDER), reserve=True, time_budget_ms=250.0,
                                       request_id="r-9")
    call = route_call_from_proto(msg, now=NOW)
    assert (call.order, call.reserve, call.time_budget_ms) == (FULL_ORDER, True, 250.0)
    assert call.request_id == "r-9"
    msg.ClearField("time_budget_ms")
    assert route_call_from_proto(msg, now=NOW).time_budget_ms is None


def test_under_field_leaves_config_errors_alone() -> None:
    with pytest.raises(ConfigError) as info, under_field("order"):
        raise ConfigError("rate_card.services", "empty")
    assert info.value.field == "rate_card.services"


def test_under_field_keeps_the_error_class() -> None:
    with pytest.raises(NotFoundError) as info, under_field("order"):
        raise NotFoundError("lines[0].sku", "unknown SKU 'X'")
    assert info.value.field == "order.lines[0].sku"
    assert str(info.value) == "order.lines[0].sku: unknown SKU 'X'"


def test_batch_parsing_stops_when_the_call_is_cancelled() -> None:
    """Parsing 2,000 orders took ~70 ms the server spent after a client had given up: the parser
    looks at the call's stop as it goes. A live stop parses everything."""
    request = routing_pb.RouteBatchRequest(orders=[order_to_proto(FULL_ORDER)] * 200)
    assert len(batch_call_from_proto(request, now=NOW, stop=Deadline()).orders) == 200
    gone = Deadline()
    gone.cancel()
    with pytest.raises(Stopped) as err:
        batch_call_from_proto(request, now=NOW, stop=gone)
    assert err.value.cancelled and "after parsing 0 of 200" in str(err.value)
    spent = Deadline.after_ms(0)
    with pytest.raises(Stopped) as err:
        batch_call_from_proto(request, now=NOW, stop=spent)
    assert not err.value.cancelled
