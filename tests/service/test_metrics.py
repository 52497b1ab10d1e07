"""Prometheus metrics read from the real /metrics endpoint of a server started by serve() (as
`dom serve` runs it): calls by method and status, latency histograms, plans by solver path,
reservations held and conflicts, batch sizes; with `dom serve --workers 2`, one endpoint serving
the sum over the workers."""

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


def test_metrics_address_is_checked(tmp_path):
    import tomllib
    config = parse_config(tomllib.loads('[server.metrics]\naddress = "127.0.0.1:9464"\n'), tmp_path)
    assert config.server.metrics_address == "127.0.0.1:9464"
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads('[server.metrics]\naddress = "9464"\n'), tmp_path)
    assert err.value.field == "server.metrics.address"
    taken = ServerMetrics()
    port = taken.serve_http("127.0.0.1:0")
    with pytest.raises(ConfigError) as err:
        ServerMetrics().serve_http(f"127.0.0.1:{port}")
    assert err.value.field == "server.metrics.address"


def test_workers_metrics_are_served_merged_on_one_port(tmp_path, redis_server):
    """`dom serve --workers 2` over Redis: calls spread over 8 connections (so both workers answer
    some), and the one /metrics endpoint counts every call once."""
    import os
    import subprocess
    import sys

    from tests.redis_servers import free_port, new_namespace

    stock = tmp_path / "stock.csv"
    stock.write_text("node_id,sku,on_hand,safety_stock\nEAST,SKU-A,1000,0\nCENTRAL,SKU-B,1000,0\n")
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("node_id,kind,latitude,longitude\nEAST,warehouse,40.73,-74.17\n"
                     "CENTRAL,warehouse,32.78,-96.80\n")
    metrics_port, port = free_port(), free_port()
    config = tmp_path / "dom.toml"
    config.write_text(f'[data]\nnetwork = "nodes.csv"\ninventory = "stock.csv"\n'
                      f'[store]\nbackend = "redis"\nurl = "{redis_server.url}"\n'
                      f'namespace = "{new_namespace("m")}"\n'
                      f'[server.metrics]\naddress = "127.0.0.1:{metrics_port}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOM_")}
    dom = [sys.executable, "-m", "dom_engine"]
    subprocess.run([*dom, "inventory", "load", str(stock), "--config", str(config)], check=True, env=env,
                   capture_output=True, timeout=120)
    proc = subprocess.Popen([*dom, "serve", "--workers", "2", "--config", str(config), "--address",
                             f"127.0.0.1:{port}"], env=env, stderr=subprocess.DEVNULL)
    own = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.insecure_channel(f"127.0.0.1:{port}", options=own) for _ in range(8)]
    try:
        for ch in channels:
            grpc.channel_ready_future(ch).result(timeout=120)
        calls = 0
        for k, ch in enumerate(channels * 3):
            health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
            request = _valid_request(f"mw-{k}")
            request.order.ClearField("deliver_by")        # the real clock: no promise date
            reply = routing_grpc_pb.RoutingServiceStub(ch).RouteOrder(request, timeout=30)
            assert reply.plan.shipments
            calls += 1
        samples = _samples(metrics_port)
        routed = samples[("dom_grpc_requests_total", (("code", "OK"), ("method", "RouteOrder")))]
        assert routed == calls
        assert samples[("dom_grpc_request_seconds_count", (("method", "RouteOrder"),))] == calls
    finally:
        for ch in channels:
            ch.close()
        proc.terminate()
        assert proc.wait(timeout=60) == 0
