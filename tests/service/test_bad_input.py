"""Bad requests over a real channel: each is INVALID_ARGUMENT naming the offending field, and the
server keeps serving afterwards."""

from __future__ import annotations

import math
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.service.errors import ERROR_FIELD_KEY
from dom_engine.service.server import DEFAULT_MAX_MESSAGE_MB

Mutate = Callable[[routing_pb.RouteOrderRequest], None]


def _set_lines(n: int) -> Mutate:
    def mutate(req: routing_pb.RouteOrderRequest) -> None:
        del req.order.lines[:]
        for i in range(n):
            req.order.lines.add(line_id=f"l{i}", sku="SKU-A", quantity=1)
    return mutate


def _set(path: str, value) -> Mutate:
    """Set a dotted attribute path on the request, e.g. "order.destination.latitude"."""
    def mutate(req: routing_pb.RouteOrderRequest) -> None:
        *parents, name = path.split(".")
        target = req
        for p in parents:
            target = getattr(target, p)
        setattr(target, name, value)
    return mutate


def _line(i: int, name: str, value) -> Mutate:
    def mutate(req: routing_pb.RouteOrderRequest) -> None:
        setattr(req.order.lines[i], name, value)
    return mutate


def _clear(path: str) -> Mutate:
    def mutate(req: routing_pb.RouteOrderRequest) -> None:
        *parents, name = path.split(".")
        target = req
        for p in parents:
            target = getattr(target, p)
        target.ClearField(name)
    return mutate


def _deliver_by(year: int, month: int, day: int) -> Mutate:
    def mutate(req: routing_pb.RouteOrderRequest) -> None:
        req.order.deliver_by.CopyFrom(routing_pb.Date(year=year, month=month, day=day))
    return mutate


def _duplicate_line_id(req: routing_pb.RouteOrderRequest) -> None:
    req.order.lines[1].line_id = req.order.lines[0].line_id


def _exclude(node: str) -> Mutate:
    def mutate(req: routing_pb.RouteOrderRequest) -> None:
        req.order.options.excluded_nodes.append(node)
    return mutate


def _bad_timestamp(req: routing_pb.RouteOrderRequest) -> None:
    req.order.created_at.seconds = 1_700_000_000
    req.order.created_at.nanos = 2_000_000_000


# (case id, mutation of a valid request, field path the error must name). Today is 2026-03-02.
BAD_REQUESTS: list[tuple[str, Mutate, str]] = [
    ("zero_quantity", _line(0, "quantity", 0), "order.lines[0].quantity"),
    ("negative_quantity", _line(1, "quantity", -5), "order.lines[1].quantity"),
    ("huge_quantity", _line(0, "quantity", 10**15), "order.lines[0].quantity"),
    ("max_int64_quantity", _line(0, "quantity", 2**63 - 1), "order.lines[0].quantity"),
    ("nan_latitude", _set("order.destination.latitude", math.nan), "order.destination.latitude"),
    ("latitude_out_of_range", _set("order.destination.latitude", 91.0), "order.destination.latitude"),
    ("longitude_out_of_range", _set("order.destination.longitude", -180.5), "order.destination.longitude"),
    ("infinite_longitude", _set("order.destination.longitude", math.inf), "order.destination.longitude"),
    ("duplicate_line_id", _duplicate_line_id, "order.lines[1].line_id"),
    ("empty_line_id", _line(0, "line_id", ""), "order.lines[0].line_id"),
    ("unknown_sku", _line(1, "sku", "NO-SUCH-SKU"), "order.lines[1].sku"),
    ("empty_sku", _line(0, "sku", ""), "order.lines[0].sku"),
    ("negative_weight", _line(0, "unit_weight_kg", -1.0), "order.lines[0].unit_weight_kg"),
    ("unknown_excluded_node", _exclude("NOWHERE"), "order.options.excluded_nodes"),
    ("empty_order", _set_lines(0), "order.lines"),
    ("too_many_lines", _set_lines(201), "order.lines"),
    ("deliver_by_in_past", _deliver_by(2026, 3, 1), "order.deliver_by"),
    ("deliver_by_too_far", _deliver_by(2028, 1, 1), "order.deliver_by"),
    ("invalid_date", _deliver_by(2026, 2, 30), "order.deliver_by"),
    ("zero_date", _deliver_by(0, 0, 0), "order.deliver_by"),
    ("month_13", _deliver_by(2026, 13, 1), "order.deliver_by"),
    ("missing_destination", _clear("order.destination"), "order.destination"),
    ("missing_order", _clear("order"), "order"),
    ("empty_order_id", _set("order.order_id", ""), "order.order_id"),
    ("long_order_id", _set("order.order_id", "x" * 129), "order.order_id"),
    ("bad_created_at", _bad_timestamp, "order.created_at"),
    ("zero_max_shipments", _set("order.options.max_shipments", 0), "order.options.max_shipments"),
    ("nan_penalty", _set("order.options.penalty.per_unit", math.nan), "order.options.penalty.per_unit"),
    ("unknown_policy", _set("order.options.policy", "no-such-policy"), "order.options.policy"),
    ("negative_time_budget", _set("time_budget_ms", -1.0), "time_budget_ms"),
    ("nan_time_budget", _set("time_budget_ms", math.nan), "time_budget_ms"),
    ("huge_time_budget", _set("time_budget_ms", 1e9), "time_budget_ms"),
    ("long_request_id", _set("request_id", "r" * 200), "request_id"),
]
REQUEST_LEVEL = {"time_budget_ms", "request_id"}


def bad_request(valid_request, mutate: Mutate) -> routing_pb.RouteOrderRequest:
    req = valid_request("bad-1")
    mutate(req)
    return req


def error_field(err: grpc.RpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get(ERROR_FIELD_KEY)


@pytest.mark.parametrize(("mutate", "field"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
def test_route_order_rejects_bad_input(stub, valid_request, mutate: Mutate, field: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.RouteOrder(bad_request(valid_request, mutate), timeout=10)
    err = info.value
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert err.details().startswith(f"{field}: "), err.details()
    assert error_field(err) == field


@pytest.mark.parametrize(
    ("mutate", "field"),
    [c[1:] for c in BAD_REQUESTS if c[2] not in REQUEST_LEVEL],
    ids=[c[0] for c in BAD_REQUESTS if c[2] not in REQUEST_LEVEL],
)
def test_validate_order_reports_the_same_field(stub, valid_request, mutate: Mutate, field: str) -> None:
    bad = bad_request(valid_request, mutate)
    req = routing_pb.ValidateOrderRequest(request_id="v-1")
    if bad.HasField("order"):
        req.order.CopyFrom(bad.order)
    resp = stub.ValidateOrder(req, timeout=10)
    assert not resp.valid
    assert [v.field for v in resp.violations] == [field]
    assert resp.violations[0].description
    assert resp.request_id == "v-1"


def test_server_keeps_serving_after_bad_requests(stub, channel, valid_request) -> None:
    """Every bad request, then undecodable bytes and an oversized message; then a valid order
    still routes and health still says SERVING."""
    for _, mutate, _ in BAD_REQUESTS:
        with pytest.raises(grpc.RpcError):
            stub.RouteOrder(bad_request(valid_request, mutate), timeout=10)

    raw = channel.unary_unary("/dom.v1.RoutingService/RouteOrder")  # bytes in, bytes out
    with pytest.raises(grpc.RpcError) as garbage:
        raw(b"\xff\xff\xff\xff not a protobuf", timeout=10)
    assert garbage.value.code() is not grpc.StatusCode.OK
    with pytest.raises(grpc.RpcError) as oversized:  # over [server] max_message_mb
        raw(b"\x00" * ((DEFAULT_MAX_MESSAGE_MB + 1) * 1024 * 1024), timeout=30)
    assert oversized.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED

    resp = stub.RouteOrder(valid_request("after-bad"), timeout=10)
    assert resp.plan.order_id == "after-bad"
    assert resp.plan.status in (routing_pb.PLAN_STATUS_OPTIMAL, routing_pb.PLAN_STATUS_FEASIBLE)
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
