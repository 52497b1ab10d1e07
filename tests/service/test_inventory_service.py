"""InventoryService over a real loopback server: stock feeds and the reservation lifecycle, each
test on its own engine and server (they change stock)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import inventory_pb2_grpc as inventory_grpc_pb
from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.service.errors import ERROR_FIELD_KEY
from dom_engine.service.server import build_server


@pytest.fixture
def live(make_engine) -> Iterator[tuple]:
    """(engine, RoutingService stub, InventoryService stub) on a fresh engine and server."""
    engine = make_engine()
    server, port = build_server(engine, "127.0.0.1:0", max_workers=2)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield engine, routing_grpc_pb.RoutingServiceStub(ch), inventory_grpc_pb.InventoryServiceStub(ch)
    server.stop(None)


def _atp(engine, node: str, sku: str) -> int:
    view = engine.store.read([sku])
    return int(view.atp[engine.network.index_of(node), 0])


def test_reserve_get_commit(live, valid_request):
    engine, routing, inventory = live
    plan = routing.RouteOrder(valid_request("c-1", reserve=True), timeout=10).plan
    assert plan.reservation_id == "res-c-1"
    held = inventory.GetReservation(inventory_pb.ReservationRequest(reservation_id="res-c-1"), timeout=10)
    assert held.order_id == "c-1" and held.expires_at.seconds > 0 and not held.committed
    assert sum(a.quantity for a in held.allocations) == 5
    before = engine.store.levels("EAST", "SKU-A")
    done = inventory.CommitReservation(inventory_pb.ReservationRequest(reservation_id="res-c-1"), timeout=10)
    assert done.committed and not done.HasField("expires_at")
    on_hand, reserved, _ = engine.store.levels("EAST", "SKU-A")
    assert on_hand == before[0] - 3 and reserved == before[1] - 3


def test_release_gives_units_back_and_then_not_found(live, valid_request):
    engine, routing, inventory = live
    start = _atp(engine, "CENTRAL", "SKU-B")
    routing.RouteOrder(valid_request("r-1", reserve=True), timeout=10)
    assert _atp(engine, "CENTRAL", "SKU-B") == start - 2
    release = inventory_pb.ReservationRequest(reservation_id="res-r-1")
    before = inventory.ReleaseReservation(release, timeout=10)
    assert sum(a.quantity for a in before.allocations) == 5
    assert _atp(engine, "CENTRAL", "SKU-B") == start
    with pytest.raises(grpc.RpcError) as err:
        inventory.ReleaseReservation(release, timeout=10)
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


def test_snapshot_upsert_replaces_stock(live):
    engine, _, inventory = live
    version = engine.store.version
    rows = [inventory_pb.StockRow(node_id="WEST", sku="SKU-B", on_hand=7, safety_stock=2)]
    reply = inventory.UpsertInventory(inventory_pb.UpsertInventoryRequest(
        snapshot=inventory_pb.StockSnapshot(rows=rows), request_id="load-1"), timeout=10)
    assert reply.applied == 1 and reply.version > version and reply.request_id == "load-1"
    assert _atp(engine, "WEST", "SKU-B") == 5 and _atp(engine, "EAST", "SKU-A") == 0


def test_deltas_apply_once(live):
    engine, _, inventory = live
    start = _atp(engine, "EAST", "SKU-A")
    req = inventory_pb.UpsertInventoryRequest(deltas=inventory_pb.StockDeltas(deltas=[
        inventory_pb.StockDelta(event_id="ev-1", node_id="EAST", sku="SKU-A", adjust=-10)]))
    assert inventory.UpsertInventory(req, timeout=10).applied == 1
    assert inventory.UpsertInventory(req, timeout=10).applied == 0
    assert _atp(engine, "EAST", "SKU-A") == start - 10


@pytest.mark.parametrize("request_, field", [
    (inventory_pb.UpsertInventoryRequest(), "change"),
    (inventory_pb.UpsertInventoryRequest(snapshot=inventory_pb.StockSnapshot(rows=[
        inventory_pb.StockRow(node_id="EAST", sku="SKU-A", on_hand=-1)])), "snapshot.rows[0].on_hand"),
    (inventory_pb.UpsertInventoryRequest(snapshot=inventory_pb.StockSnapshot(rows=[
        inventory_pb.StockRow(node_id="MARS", sku="SKU-A", on_hand=1)])), "rows[0].node_id"),
    (inventory_pb.UpsertInventoryRequest(deltas=inventory_pb.StockDeltas(deltas=[
        inventory_pb.StockDelta(node_id="EAST", sku="SKU-A", adjust=1)])), "deltas.deltas[0].event_id"),
])
def test_bad_upserts_name_the_field(live, request_, field):
    engine, _, inventory = live
    version = engine.store.version
    with pytest.raises(grpc.RpcError) as err:
        inventory.UpsertInventory(request_, timeout=10)
    assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
    assert field in err.value.details()
    assert engine.store.version == version  # nothing changed


def test_unknown_reservation_is_not_found_with_the_field(live):
    _, _, inventory = live
    with pytest.raises(grpc.RpcError) as err:
        inventory.CommitReservation(inventory_pb.ReservationRequest(reservation_id="res-nope"), timeout=10)
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    assert dict(err.value.trailing_metadata())[ERROR_FIELD_KEY] == "reservation_id"


def test_reject_shipment_reroutes_and_then_needs_a_human(live, valid_request):
    """SKU-A ships from EAST (nearest to New York); EAST rejects: WEST takes it. The same reject
    again (a retry) returns the reservation's plan as it stands, not an error."""
    engine, routing, _ = live
    request = valid_request("rj-1", reserve=True)
    first = routing.RouteOrder(request, timeout=10).plan
    assert "EAST" in {s.node_id for s in first.shipments}
    reject = routing_pb.RejectShipmentRequest(order=request.order, node_id="EAST", reason="damaged",
                                              request_id="rj")
    plan = routing.RejectShipment(reject, timeout=10).plan
    assert plan.reservation_id == first.reservation_id
    assert [s.node_id for s in plan.shipments] == ["WEST"]
    assert engine.store.reservation_for_order("rj-1").rejected_nodes == ("EAST",)
    again = routing.RejectShipment(reject, timeout=10).plan   # a retry: the plan as it stands
    assert again.reservation_id == first.reservation_id
    nodes = {s.node_id for s in again.shipments}
    assert "WEST" in nodes and "EAST" not in nodes
    assert engine.store.reservation_for_order("rj-1").rejected_nodes == ("EAST",)


def test_reject_shipment_of_an_unreserved_order_is_not_found(live, valid_request):
    _, routing, _ = live
    reject = routing_pb.RejectShipmentRequest(order=valid_request("none").order, node_id="EAST")
    with pytest.raises(grpc.RpcError) as err:
        routing.RejectShipment(reject, timeout=10)
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
