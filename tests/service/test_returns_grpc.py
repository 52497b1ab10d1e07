"""RouteReturn and CommitReturn over a real gRPC server on loopback: the same plan as in process,
bad input answered with the right status naming the field, and restock receipts counted once."""

from __future__ import annotations

import grpc
import pytest

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.domain import Destination
from dom_engine.domain.returns import Condition, ReturnLine, ReturnRequest
from dom_engine.service.errors import ERROR_FIELD_KEY
from dom_engine.service.server import build_server

from .conftest import new_engine


def _request(**fields) -> routing_pb.RouteReturnRequest:
    lines = fields.pop("lines", [routing_pb.ReturnLine(line_id="1", sku="SKU-A", quantity=2),
                                 routing_pb.ReturnLine(line_id="2", sku="SKU-B", quantity=1,
                                                       condition=routing_pb.RETURN_CONDITION_DAMAGED)])
    return routing_pb.RouteReturnRequest(return_id="R-1", lines=lines,
                                         origin=routing_pb.Destination(latitude=40.71, longitude=-74.01),
                                         request_id="rq", **fields)


def _field(err: grpc.RpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get(ERROR_FIELD_KEY)


def test_route_return_over_the_wire_equals_in_process(stub):
    answer = stub.RouteReturn(_request())
    assert answer.request_id == "rq"
    plan = answer.plan
    assert plan.status == routing_pb.PLAN_STATUS_OPTIMAL and plan.packages
    assert plan.net_cost == pytest.approx(plan.shipping_cost + plan.handling_cost - plan.recovery_value)
    local = new_engine().route_return(ReturnRequest(
        "R-1", (ReturnLine("1", "SKU-A", 2), ReturnLine("2", "SKU-B", 1, Condition.DAMAGED)),
        Destination(40.71, -74.01)))
    assert plan.net_cost == pytest.approx(local.net_cost)
    assert [p.node_id for p in plan.packages] == [p.node_id for p in local.packages]
    assert [p.transit_days for p in plan.packages] == [p.transit_days for p in local.packages]
    assert any(p.transit_days > 0 for p in local.packages if p.route != "dropoff")
    damaged = [a for p in plan.packages for a in p.lines if a.line_id == "2"]
    assert damaged and all(a.disposition != routing_pb.DISPOSITION_RESTOCK for a in damaged)


@pytest.mark.parametrize("request_, code, field", [
    (lambda: _request(lines=[routing_pb.ReturnLine(line_id="1", sku="NOPE", quantity=1)]),
     grpc.StatusCode.INVALID_ARGUMENT, "lines[0].sku"),
    (lambda: _request(lines=[routing_pb.ReturnLine(line_id="1", sku="SKU-A", quantity=0)]),
     grpc.StatusCode.INVALID_ARGUMENT, "lines[0].quantity"),
    (lambda: routing_pb.RouteReturnRequest(return_id="R", lines=[routing_pb.ReturnLine(
        line_id="1", sku="SKU-A", quantity=1)]), grpc.StatusCode.INVALID_ARGUMENT, "origin"),
    (_request, grpc.StatusCode.INVALID_ARGUMENT, "return_id"),
    (lambda: _request(order_id="never-routed"), grpc.StatusCode.FAILED_PRECONDITION, "order_id"),
    (lambda: _request(options=routing_pb.ReturnOptions(pickup_allowed=False, dropoff_allowed=False)),
     grpc.StatusCode.INVALID_ARGUMENT, "options"),
])
def test_bad_returns_get_the_right_status_and_field(stub, request_, code, field):
    req = request_()
    if field == "return_id":
        req.return_id = ""
    with pytest.raises(grpc.RpcError) as err:
        stub.RouteReturn(req)
    assert err.value.code() == code, err.value.details()
    assert _field(err.value) == field


def test_commit_return_restocks_once_however_often_it_is_sent():
    engine = new_engine()
    server, port = build_server(engine, "127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = routing_grpc_pb.RoutingServiceStub(channel)
            before = engine.store.read(["SKU-A"]).atp[engine.network.index_of("EAST"), 0]
            commit = routing_pb.CommitReturnRequest(return_id="R-9", received=[
                routing_pb.ReturnReceipt(line_id="1", node_id="EAST", sku="SKU-A", quantity=2,
                                         disposition=routing_pb.DISPOSITION_RESTOCK),
                routing_pb.ReturnReceipt(line_id="2", node_id="EAST", sku="SKU-A", quantity=5,
                                         disposition=routing_pb.DISPOSITION_LIQUIDATE)])
            first = stub.CommitReturn(commit)
            again = stub.CommitReturn(commit)
            after = engine.store.read(["SKU-A"]).atp[engine.network.index_of("EAST"), 0]
            assert (first.units_restocked, first.receipts_applied) == (2, 1)
            assert (again.units_restocked, again.receipts_applied) == (0, 0)
            assert after - before == 2
            receipt = routing_pb.ReturnReceipt(line_id="1", node_id="NOWHERE", sku="SKU-A", quantity=1,
                                               disposition=routing_pb.DISPOSITION_RESTOCK)
            bad = routing_pb.CommitReturnRequest(return_id="R-9", received=[receipt])
            with pytest.raises(grpc.RpcError) as err:
                stub.CommitReturn(bad)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert _field(err.value) == "received[0].node_id"
    finally:
        server.stop(None)
