"""RejectShipment validates the order once and reads its stock once (it used to validate in the
servicer, reading stock, and again in the engine, reading stock a second time)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import pytest

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.engine import Engine
from dom_engine.domain import Network, PolicyProfile, us_network_rate_card
from dom_engine.domain.stock import StockView
from dom_engine.inventory.memory import MemoryStore
from dom_engine.service.errors import ERROR_FIELD_KEY
from dom_engine.service.server import build_server

from .conftest import NODES, NOW, ON_HAND, SKUS


class CountingStore(MemoryStore):
    """A real MemoryStore that counts its stock reads."""

    reads = 0

    def read(self, skus: Sequence[str]) -> StockView:
        type(self).reads += 1
        return super().read(skus)


@pytest.fixture()
def live():
    CountingStore.reads = 0
    network = Network(NODES)
    store = CountingStore.from_arrays(network, SKUS, ON_HAND, clock=lambda: NOW)
    engine = Engine(network, us_network_rate_card(), store, policies={"default": PolicyProfile()},
                    clock=lambda: NOW)
    server, port = build_server(engine, "127.0.0.1:0", max_workers=2)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield engine, routing_grpc_pb.RoutingServiceStub(channel)
    finally:
        channel.close()
        server.stop(0)


def test_reject_shipment_reads_stock_once(live, valid_request):
    engine, routing = live
    request = valid_request("rr-1", reserve=True)
    first = routing.RouteOrder(request, timeout=10).plan
    assert "EAST" in {s.node_id for s in first.shipments}
    before = CountingStore.reads
    plan = routing.RejectShipment(routing_pb.RejectShipmentRequest(order=request.order, node_id="EAST"),
                                  timeout=10).plan
    assert [s.node_id for s in plan.shipments] == ["WEST"]
    assert CountingStore.reads - before == 1


def test_reject_shipment_names_an_unknown_sku_and_changes_nothing(live, valid_request):
    engine, routing = live
    request = valid_request("rr-2", reserve=True)
    routing.RouteOrder(request, timeout=10)
    bad = routing_pb.Order()
    bad.CopyFrom(request.order)
    bad.lines[0].sku = "SKU-NOPE"
    with pytest.raises(grpc.RpcError) as err:
        routing.RejectShipment(routing_pb.RejectShipmentRequest(order=bad, node_id="EAST"), timeout=10)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.value.trailing_metadata())[ERROR_FIELD_KEY] == "order.lines[0].sku"
    assert engine.store.reservation_for_order("rr-2").rejected_nodes == ()
