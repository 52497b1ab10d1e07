"""A server with an [opportunity] refresh schedule computes the prices at start (serve(), as
`dom serve` runs it) and its RouteOrder answers are inventory-aware: the scarce unit goes where
it is worth most, and the plan carries its opportunity cost over the wire."""

from __future__ import annotations

import json
import threading
import time

import grpc

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.opportunity import refresh_every
from dom_engine.inventory.memory import MemoryStore
from dom_engine.io.order_json import order_to_dict
from dom_engine.service.server import serve
from dom_engine.testing.networks import abc_network
from tests.app.test_opportunity import FORECAST, ROWS, _engine


def _order(order_id: str, lat: float, lon: float, skus: tuple[str, ...]) -> routing_pb.Order:
    lines = [routing_pb.Line(line_id=f"L{k}", sku=s, quantity=1) for k, s in enumerate(skus)]
    return routing_pb.Order(order_id=order_id, lines=lines,
                            destination=routing_pb.Destination(latitude=lat, longitude=lon),
                            options=routing_pb.OrderOptions(allow_backorder=True, policy="aware"))


def test_a_server_refreshes_prices_on_its_schedule_and_routes_on_them(tmp_path):
    path = tmp_path / "forecast.jsonl"
    path.write_text("".join(json.dumps({"expected": float(n), "order": order_to_dict(o)}) + "\n"
                            for o, n in zip(FORECAST.prototypes, FORECAST.counts, strict=True)))
    store = MemoryStore.from_records(abc_network(), ROWS)
    engine = _engine(store, forecast=path, refresh_every_s=3600.0)
    stop, ready = threading.Event(), []
    thread = threading.Thread(target=serve, args=(engine, "127.0.0.1:0"),
                              kwargs={"stop": stop, "on_ready": ready.append}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while (not ready or store.current_prices() is None) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.current_prices() is not None
        with grpc.insecure_channel(f"127.0.0.1:{ready[0]}") as channel:
            stub = routing_grpc_pb.RoutingServiceStub(channel)
            chicago = stub.RouteOrder(routing_pb.RouteOrderRequest(order=_order("c1", 41.88, -87.63, ("X",))))
            assert [s.node_id for s in chicago.plan.shipments] == ["C"]
            philly = stub.RouteOrder(routing_pb.RouteOrderRequest(
                order=_order("p1", 39.95, -75.17, ("X", "Y"))))
            assert {s.node_id for s in philly.plan.shipments} == {"A"}
            assert philly.plan.opportunity_cost > 0
    finally:
        stop.set()
        thread.join(timeout=30)


def test_the_schedule_outlives_a_failed_turn():
    calls, logged = [], []
    stop = threading.Event()

    def refresh():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("forecast file gone")
        stop.set()
        raise RuntimeError("second turn")

    refresh_every(refresh, 0.01, stop, lambda *a: logged.append(a[0] % a[1:]))
    assert len(calls) == 2
    assert "OSError: forecast file gone" in logged[0] and "RuntimeError" in logged[1]
