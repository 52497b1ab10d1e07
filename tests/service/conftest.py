"""Fixtures for the gRPC service tests: a small deterministic Engine behind a real gRPC server on a
free loopback port, and a real channel to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.engine import Engine
from dom_engine.domain import Network, Node, NodeKind, PolicyProfile, us_network_rate_card
from dom_engine.inventory.memory import MemoryStore

# A fixed clock: "today" is 2026-03-02, so dates in requests are deterministic.
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SKUS = ("SKU-A", "SKU-B", "SKU-C")
# Newark, Dallas and Reno: three warehouses far enough apart that the cheapest node depends on the
# destination. Stock is deep, so reserving in one test never makes another infeasible.
NODES = (
    Node("EAST", NodeKind.WAREHOUSE, 40.73, -74.17, handling_per_shipment=1.0, handling_per_unit=0.1),
    Node("CENTRAL", NodeKind.WAREHOUSE, 32.78, -96.80, handling_per_shipment=1.0, handling_per_unit=0.1),
    Node("WEST", NodeKind.WAREHOUSE, 39.53, -119.81, handling_per_shipment=1.0, handling_per_unit=0.1),
)
ON_HAND = np.array(
    [[1000, 0, 500],      # EAST
     [0, 800, 0],         # CENTRAL: the only SKU-B, so an order for A and B must split
     [400, 0, 2000]],     # WEST
    dtype=np.int64,
)


def new_engine() -> Engine:
    """A fresh Engine over NODES / SKUS / ON_HAND with the clock fixed at NOW."""
    network = Network(NODES)
    store = MemoryStore.from_arrays(network, SKUS, ON_HAND, clock=lambda: NOW)
    policies = {"default": PolicyProfile(), "fewest": PolicyProfile(name="fewest")}
    return Engine(network, us_network_rate_card(), store, policies=policies, clock=lambda: NOW)


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The Engine behind the shared test server (see new_engine)."""
    return new_engine()


@pytest.fixture(scope="session")
def make_engine():
    """Factory for extra, independent Engines like `engine` (for tests that start their own server)."""
    return new_engine


@pytest.fixture(scope="session")
def server_port(engine) -> Iterator[int]:
    """A started RoutingService server on a free 127.0.0.1 port; stopped at session end."""
    from dom_engine.service.server import build_server

    server, port = build_server(engine, "127.0.0.1:0", max_workers=4)
    server.start()
    yield port
    server.stop(None)


@pytest.fixture(scope="session")
def channel(server_port: int) -> Iterator[grpc.Channel]:
    """A real insecure channel to the test server, ready before the first test uses it."""
    with grpc.insecure_channel(f"127.0.0.1:{server_port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch


@pytest.fixture(scope="session")
def stub(channel: grpc.Channel) -> routing_grpc_pb.RoutingServiceStub:
    """RoutingService client stub over `channel`."""
    return routing_grpc_pb.RoutingServiceStub(channel)


def _valid_order(order_id: str = "o-1") -> routing_pb.Order:
    """A routable order to New York: 3 x SKU-A and 2 x SKU-B (no single node has both)."""
    return routing_pb.Order(
        order_id=order_id,
        lines=[
            routing_pb.Line(line_id="1", sku="SKU-A", quantity=3, unit_weight_kg=1.5),
            routing_pb.Line(line_id="2", sku="SKU-B", quantity=2),
        ],
        destination=routing_pb.Destination(latitude=40.71, longitude=-74.01, postal_code="10007",
                                           region="NY"),
        deliver_by=routing_pb.Date(year=2026, month=3, day=20),
        channel="web",
        customer_tier="standard",
    )


def _valid_request(order_id: str = "o-1", **fields) -> routing_pb.RouteOrderRequest:
    return routing_pb.RouteOrderRequest(order=_valid_order(order_id), request_id=f"req-{order_id}", **fields)


@pytest.fixture(scope="session")
def valid_request():
    """Factory: valid_request(order_id="o-1", **request_fields) -> a routable RouteOrderRequest for
    3 x SKU-A and 2 x SKU-B to New York, deliver by 2026-03-20, request_id "req-<order_id>"."""
    return _valid_request
