"""Redis goes away under a running gRPC server: quotes keep coming from the cache and say how stale
they are; reservations fail with UNAVAILABLE (nothing held); once Redis is back the same server
reserves again without a restart."""

from __future__ import annotations

from dataclasses import replace

import grpc
import numpy as np
import pytest

from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.service.server import build_server
from tests.redis_servers import new_namespace


def test_outage_degrades_quotes_and_refuses_holds(private_redis, make_engine, valid_request):
    server = private_redis(durable=True)
    base = make_engine()
    clock = [0.0]
    store = RedisStore(base.network, server.url, namespace=new_namespace("out"), cache_staleness_s=0.5,
                       degraded_staleness_s=600.0, clock=base.clock, monotonic=lambda: clock[0])
    skus, on_hand, _, safety = base.store.arrays()
    rows, cols = np.nonzero(on_hand)
    node_ids, sku_ids = np.array(base.network.node_ids, dtype=object), np.array(skus, dtype=object)
    store.load_snapshot(node_ids[rows], sku_ids[cols], on_hand[rows, cols], safety[rows, cols])
    engine = replace(base, store=store)
    grpc_server, port = build_server(engine, "127.0.0.1:0", max_workers=2)
    grpc_server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = routing_grpc_pb.RoutingServiceStub(ch)
            fresh = stub.RouteOrder(valid_request("q-1"), timeout=10).plan
            assert fresh.status == 1 and fresh.staleness_s == 0.0 and not fresh.stock_from_cache

            server.stop()
            clock[0] += 30.0  # past cache_staleness_s, within degraded_staleness_s
            quote = stub.RouteOrder(valid_request("q-2"), timeout=10).plan
            assert quote.status == 1 and quote.objective == pytest.approx(fresh.objective)
            assert quote.staleness_s >= 30.0  # says how old the stock it used may be
            assert quote.stock_from_cache     # and that the store could not be reached

            with pytest.raises(grpc.RpcError) as err:
                stub.RouteOrder(valid_request("hold-1", reserve=True), timeout=10)
            assert err.value.code() is grpc.StatusCode.UNAVAILABLE

            server.start()
            clock[0] += 1.0
            held = stub.RouteOrder(valid_request("hold-1", reserve=True), timeout=10).plan
            assert held.reservation_id == "res-hold-1"
            assert store.reservation_for_order("hold-1") is not None
    finally:
        grpc_server.stop(None)
