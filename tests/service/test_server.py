"""The server over a real loopback channel: routing, health, reflection, binding and shutdown."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.domain import ConfigError
from dom_engine.service.converters import plan_from_proto
from dom_engine.service.server import build_server, serve
from dom_engine.service.servicer import SERVICE_NAME

ROUTED = (routing_pb.PLAN_STATUS_OPTIMAL, routing_pb.PLAN_STATUS_FEASIBLE)


def _shipped(plan: routing_pb.Plan) -> dict[str, int]:
    totals: dict[str, int] = {}
    for s in plan.shipments:
        for line in s.lines:
            totals[line.line_id] = totals.get(line.line_id, 0) + line.quantity
    return totals


def test_route_order_returns_a_plan_covering_the_order(stub, valid_request) -> None:
    req = valid_request("cover-1")
    resp = stub.RouteOrder(req, timeout=30)
    plan = resp.plan
    assert resp.request_id == "req-cover-1"
    assert plan.order_id == "cover-1"
    assert plan.status in ROUTED, plan.infeasible_reason
    assert _shipped(plan) == {line.line_id: line.quantity for line in req.order.lines}
    assert not plan.backordered
    sku_of = {line.line_id: line.sku for line in req.order.lines}
    for s in plan.shipments:
        assert s.node_id in {"EAST", "CENTRAL", "WEST"}
        assert s.service
        assert all(line.sku == sku_of[line.line_id] for line in s.lines)
        assert (s.delivery_date.year, s.delivery_date.month, s.delivery_date.day) <= (2026, 3, 20)
        c = s.cost
        assert c.total == pytest.approx(c.package + c.units + c.handling + c.distance)
    # No node holds both SKUs, so the order must split.
    assert len(plan.shipments) >= 2
    assert plan.shipping_cost == pytest.approx(sum(s.cost.total for s in plan.shipments))
    assert plan.total_cost == pytest.approx(plan.shipping_cost + plan.penalty_cost)
    assert plan.currency == "USD"
    assert plan.snapshot_version >= 1
    assert not plan.reservation_id
    # The wire form converts back into a valid domain Plan.
    assert plan_from_proto(plan).units_shipped == 5


def test_route_order_respects_excluded_nodes(stub, valid_request) -> None:
    req = valid_request("exclude-1")
    req.order.options.excluded_nodes.append("EAST")
    plan = stub.RouteOrder(req, timeout=30).plan
    assert plan.status in ROUTED, plan.infeasible_reason
    assert "EAST" not in {s.node_id for s in plan.shipments}
    assert _shipped(plan) == {"1": 3, "2": 2}


def test_route_order_with_reserve_returns_a_reservation(stub, engine, valid_request) -> None:
    before = engine.store.version
    plan = stub.RouteOrder(valid_request("reserve-1", reserve=True, time_budget_ms=5000), timeout=30).plan
    assert plan.status in ROUTED
    assert plan.reservation_id
    assert engine.store.version > before
    # Idempotent per order: the same order reserves nothing more and returns the same reservation.
    again = stub.RouteOrder(valid_request("reserve-1", reserve=True), timeout=30).plan
    assert again.reservation_id == plan.reservation_id


def test_concurrent_calls_all_get_their_own_plan(stub, valid_request) -> None:
    ids = [f"conc-{i}" for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        plans = list(pool.map(lambda i: stub.RouteOrder(valid_request(i), timeout=30).plan, ids))
    assert [p.order_id for p in plans] == ids
    assert all(p.status in ROUTED and _shipped(p) == {"1": 3, "2": 2} for p in plans)


def test_validate_order_accepts_a_valid_order(stub, valid_request) -> None:
    resp = stub.ValidateOrder(routing_pb.ValidateOrderRequest(order=valid_request().order, request_id="v"),
                              timeout=10)
    assert resp.valid
    assert list(resp.violations) == []
    assert resp.request_id == "v"


@pytest.mark.parametrize("service", ["", SERVICE_NAME])
def test_health_is_serving(channel, service: str) -> None:
    request = health_pb2.HealthCheckRequest(service=service)
    resp = health_pb2_grpc.HealthStub(channel).Check(request, timeout=10)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_health_of_unknown_service_is_not_found(channel) -> None:
    with pytest.raises(grpc.RpcError) as info:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
    assert info.value.code() is grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_services(channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                          timeout=10)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"dom.v1.RoutingService", "grpc.health.v1.Health"} <= names


def test_reflection_v1_answers_too(channel) -> None:
    """grpc.reflection.v1 (what current grpcurl asks first) answers as v1alpha does: the protocols
    differ only in their package name, so the v1alpha messages go over the v1 method."""
    call = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                 request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                 response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    responses = call(iter([reflection_pb2.ServerReflectionRequest(list_services=""),
                           reflection_pb2.ServerReflectionRequest(file_containing_symbol="dom.v1.RoutingService")]),
                     timeout=10)
    listed, described = list(responses)
    names = {s.name for s in listed.list_services_response.service}
    assert {"dom.v1.RoutingService", "grpc.reflection.v1.ServerReflection"} <= names
    assert described.file_descriptor_response.file_descriptor_proto


def test_reflection_serves_the_full_schema(channel) -> None:
    """What grpcurl does: rebuild the descriptors from reflection alone, then describe a method."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName("dom.v1.RoutingService")
    methods = {m.name for m in service.methods}
    assert methods == {"RouteOrder", "ValidateOrder", "RejectShipment", "RouteBatch", "RouteReturn",
                       "CommitReturn"}
    assert service.file.name == "dom/v1/routing.proto"
    plan = pool.FindMessageTypeByName("dom.v1.Plan")
    assert "reservation_id" in plan.fields_by_name
    assert pool.FindMessageTypeByName("dom.v1.Order").fields_by_name["created_at"].message_type.full_name == (
        "google.protobuf.Timestamp"
    )


def test_a_second_server_cannot_take_a_busy_port(server_port: int, make_engine) -> None:
    with pytest.raises(ConfigError) as info:
        build_server(make_engine(), f"127.0.0.1:{server_port}")
    assert info.value.field == "server.address"


def test_build_server_rejects_zero_workers(make_engine) -> None:
    with pytest.raises(ConfigError):
        build_server(make_engine(), max_workers=0)


def test_serve_runs_until_stopped(make_engine) -> None:
    stop = threading.Event()
    ports: list[int] = []
    ready = threading.Event()

    def on_ready(port: int) -> None:
        ports.append(port)
        ready.set()

    thread = threading.Thread(
        target=serve, args=(make_engine(), "127.0.0.1:0"),
        kwargs={"stop": stop, "on_ready": on_ready, "grace_s": 1.0}, daemon=True,
    )
    thread.start()
    assert ready.wait(10)
    with grpc.insecure_channel(f"127.0.0.1:{ports[0]}") as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    with grpc.insecure_channel(f"127.0.0.1:{ports[0]}") as ch, pytest.raises(grpc.RpcError) as info:
        health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=2)
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE


def test_serve_loads_the_batch_half_before_it_listens() -> None:
    """The first RouteBatch on a fresh server paid ~0.5 s importing scipy.optimize inside its time
    budget (a 100 ms budget answered after 0.6 s). `serve` warms the engine before listening: in
    a fresh process, the batch modules are loaded by the time on_ready runs."""
    import subprocess
    import sys

    script = (
        "import sys, threading\n"
        "from dom_engine.testing import demo_engine\n"
        "from dom_engine.service.server import serve\n"
        "stop = threading.Event(); seen = []\n"
        "def ready(port):\n"
        "    seen.append('scipy.optimize' in sys.modules and 'dom_engine.app.batch_routing' in sys.modules)\n"
        "    stop.set()\n"
        "serve(demo_engine(), '127.0.0.1:0', stop=stop, on_ready=ready, grace_s=0)\n"
        "print('loaded' if seen == [True] else 'not loaded')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "loaded"
