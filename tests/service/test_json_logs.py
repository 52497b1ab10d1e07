"""`dom serve` with [server] log_format = "json" and log_calls: every line on stderr is a JSON
object, and a routed call's line carries its method, request and order id, status and time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import grpc

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.log_format import JsonLines
from tests.redis_servers import free_port


def test_json_lines_with_the_calls_fields():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOM_")}
    env.update(DOM_LOG_FORMAT="json", DOM_LOG_CALLS="1")
    proc = subprocess.Popen([sys.executable, "-m", "dom_engine", "serve", "--address", f"127.0.0.1:{port}"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            grpc.channel_ready_future(ch).result(timeout=120)
            stub = routing_grpc_pb.RoutingServiceStub(ch)
            order = routing_pb.Order(order_id="JSON-1", lines=[routing_pb.Line(line_id="1", sku="SKU-00001",
                                                                               quantity=1)],
                                     destination=routing_pb.Destination(latitude=40.7, longitude=-74.0))
            stub.RouteOrder(routing_pb.RouteOrderRequest(order=order, request_id="req-json"), timeout=30)
            bad = routing_pb.RouteOrderRequest(order=routing_pb.Order(order_id="JSON-2"), request_id="bad")
            try:
                stub.RouteOrder(bad, timeout=30)
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    records = [json.loads(line) for line in err.splitlines() if line.strip()]     # every line parses
    assert any("serving" in r["message"] for r in records)
    call = [r for r in records if r.get("order_id") == "JSON-1"]
    assert len(call) == 1
    assert call[0]["method"] == "route" and call[0]["request_id"] == "req-json"
    assert call[0]["status"] == "OPTIMAL" and call[0]["elapsed_ms"] > 0
    assert call[0]["logger"] == "dom_engine.calls"
    refused = [r for r in records if r.get("code") == "INVALID_ARGUMENT"]
    assert refused and refused[0]["method"] == "/dom.v1.RoutingService/RouteOrder"


def test_json_formatter_keeps_exceptions_and_only_set_fields():
    import logging

    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    record.order_id = "O-1"
    out = json.loads(JsonLines().format(record))
    assert out["message"] == "failed here" and out["order_id"] == "O-1" and "ValueError: boom" in out["error"]
    assert "request_id" not in out
