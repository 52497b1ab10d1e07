"""Prometheus metrics read from the real /metrics endpoint of a server started by serve() (as
`dom serve` runs it): calls by method and status, latency histograms, plans by solver path,
reservations held and conflicts, batch sizes; worker metrics ports."""

from __future__ import annotations

import threading
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.config import parse_config
from dom_engine.domain import ConfigError
from dom_engine.service.metrics import ServerMetrics
from dom_engine.service.server import serve
from dom_engine.service.workers import metrics_address_of

from .conftest import _valid_order, _valid_request


def _samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(make_engine):
    metrics_port, ready, stop = _free_port(), [], threading.Event()
    thread = threading.Thread(target=serve, args=(make_engine(), "127.0.0.1:0"), daemon=True,
                              kwargs={"stop": stop, "on_ready": ready.append, "grace_s": 1.0,
                                      "metrics_address": f"127.0.0.1:{metrics_port}"})
    thread.start()
    deadline = time.monotonic() + 30
    while not ready and time.monotonic() < deadline:
        time.sleep(0.05)
    with grpc.insecure_channel(f"127.0.0.1:{ready[0]}") as channel:
        yield channel, metrics_port
    stop.set()
    thread.join(timeout=30)


def test_metrics_count_calls_plans_and_reservations(served):
    channel, port = served
    stub = routing_grpc_pb.RoutingServiceStub(channel)
    for k in range(3):
        stub.RouteOrder(_valid_request(f"m-{k}"), timeout=10)
    stub.RouteOrder(_valid_request("m-held", reserve=True), timeout=10)
    bad = routing_pb.RouteOrderRequest(order=_valid_order("m-bad"))
    bad.order.lines[0].quantity = 0
    with pytest.raises(grpc.RpcError):
        stub.RouteOrder(bad, timeout=10)
    batch = routing_pb.RouteBatchRequest(orders=[_valid_order(f"b-{k}") for k in range(4)])
    stub.RouteBatch(batch, timeout=30)
    health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)

    s = _samples(port)
    assert s[("dom_grpc_requests_total", (("code", "OK"), ("method", "RouteOrder")))] == 4
    assert s[("dom_grpc_requests_total", (("code", "INVALID_ARGUMENT"), ("method", "RouteOrder")))] == 1
    assert s[("dom_grpc_requests_total", (("code", "OK"), ("method", "Check")))] == 1
    assert s[("dom_grpc_request_seconds_count", (("method", "RouteOrder"),))] == 5
    solvers = {labels: v for (name, labels), v in s.items() if name == "dom_plans_total"}
    assert sum(v for labels, v in solvers.items() if ("method", "RouteOrder") in labels) == 4
    assert all(dict(labels)["solver"] != "-" for labels in solvers)
    assert sum(v for labels, v in solvers.items() if ("method", "RouteBatch") in labels) == 4
    assert s[("dom_reservations_held_total", ())] == 1
    assert s[("dom_batch_orders_count", ())] == 1 and s[("dom_batch_orders_sum", ())] == 4


def test_metrics_address_is_checked_and_spread_over_workers(tmp_path):
    import tomllib
    config = parse_config(tomllib.loads('[server.metrics]\naddress = "127.0.0.1:9464"\n'), tmp_path)
    assert config.server.metrics_address == "127.0.0.1:9464"
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads('[server.metrics]\naddress = "9464"\n'), tmp_path)
    assert err.value.field == "server.metrics.address"
    assert metrics_address_of("127.0.0.1:9464", 2) == "127.0.0.1:9466"
    assert metrics_address_of("127.0.0.1:0", 2) == "127.0.0.1:0" and metrics_address_of(None, 1) is None
    taken = ServerMetrics()
    port = taken.serve_http("127.0.0.1:0")
    with pytest.raises(ConfigError) as err:
        ServerMetrics().serve_http(f"127.0.0.1:{port}")
    assert err.value.field == "server.metrics.address"
