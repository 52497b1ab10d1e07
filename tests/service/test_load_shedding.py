"""Load shedding: with [server] max_in_flight, a call beyond that many in flight is answered
RESOURCE_EXHAUSTED at once (never queued), and calls go through again once the others end."""

from __future__ import annotations

import time
import tomllib

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.config import parse_config
from dom_engine.domain import ConfigError
from dom_engine.service.server import build_server

from .conftest import _valid_request


def test_calls_beyond_the_limit_are_shed_not_queued(make_engine, tmp_path):
    config = parse_config(tomllib.loads("[server]\nmax_in_flight = 1\n"), tmp_path).server
    server, port = build_server(make_engine(), "127.0.0.1:0", max_workers=4,
                                maximum_concurrent_rpcs=config.max_in_flight)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            routing = routing_grpc_pb.RoutingServiceStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)   # stays in flight
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as err:
                routing.RouteOrder(_valid_request("shed-1"), timeout=10)
            assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            watch.cancel()
            for _ in range(50):          # the cancelled stream leaves the server shortly
                try:
                    routing.RouteOrder(_valid_request("shed-2"), timeout=10)
                    break
                except grpc.RpcError as again:
                    assert again.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                    time.sleep(0.05)
            else:
                pytest.fail("calls were still shed after the stream in flight ended")
    finally:
        server.stop(None)


def test_the_limit_is_checked(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads("[server]\nmax_in_flight = 0\n"), tmp_path)
    assert err.value.field == "server.max_in_flight"
