"""The store's side of the metrics, read from the real /metrics endpoint of serve() over a real
redis-server: calls to the store by operation and their latency, stock reads answered from the
cache or from Redis (the hit ratio) and the cached data's age, and the reservation lifecycle
(committed, released, and holds given back on expiry)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import grpc

from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import inventory_pb2_grpc as inventory_grpc_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from tests.service.test_expired_events import Clock, make_store, serving
from tests.service.test_metrics import _free_port, _samples


def test_store_cache_and_lifecycle_metrics(make_engine, valid_request, request):
    base, clock = make_engine(), Clock()
    engine = replace(base, store=make_store("redis", base, clock, request, cache_staleness_s=30.0))
    metrics_port = _free_port()
    for port in serving(engine, metrics_address=f"127.0.0.1:{metrics_port}"):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            routing = routing_grpc_pb.RoutingServiceStub(channel)
            inventory = inventory_grpc_pb.InventoryServiceStub(channel)
            for k in range(3):                     # the same SKUs: the first read fills the cache
                routing.RouteOrder(valid_request(f"sm-{k}"), timeout=10)
            held = [routing.RouteOrder(valid_request(f"sm-h{k}", reserve=True), timeout=10).plan
                    .reservation_id for k in range(3)]
            inventory.CommitReservation(inventory_pb.ReservationRequest(reservation_id=held[0]), timeout=10)
            inventory.ReleaseReservation(inventory_pb.ReservationRequest(reservation_id=held[1]), timeout=10)
            clock.now += timedelta(seconds=61)     # held[2] runs out
            deadline = time.monotonic() + 15
            while _samples(metrics_port).get(("dom_reservations_expired_total", ())) != 1:
                assert time.monotonic() < deadline, "the expiry was not counted"
                time.sleep(0.1)
            s = _samples(metrics_port)
    assert s[("dom_reservations_committed_total", ())] == 1
    assert s[("dom_reservations_released_total", ())] == 1
    assert s[("dom_reservations_held_total", ())] == 3
    reads = {dict(labels)["source"]: v for (name, labels), v in s.items() if name == "dom_stock_reads_total"}
    assert reads["store"] >= 1 and reads["cache"] >= 2
    assert s[("dom_stock_read_staleness_seconds_count", ())] == reads["cache"]
    calls = {dict(labels)["op"]: v for (name, labels), v in s.items()
             if name == "dom_store_calls_total" and ("outcome", "ok") in labels}
    assert calls["read"] == reads["store"] and calls["reserve"] == 3 and calls["commit"] == 1
    assert calls["sweep"] >= 1 and calls["take_expired"] >= 1
    assert s[("dom_store_call_seconds_count", (("op", "reserve"),))] == 3
