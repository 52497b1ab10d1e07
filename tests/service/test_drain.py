"""Graceful drain of real `dom serve` processes: SIGTERM while a RouteBatch is in flight lets that
call finish with its answer, refuses new calls, writes the buffered decision log, and exits 0 —
in one process (in-memory store) and with `--workers 2` over a real redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.io.demo import random_order
from dom_engine.service.converters import order_to_proto
from tests.redis_servers import free_port, new_namespace

WAVE = 2000    # a RouteBatch of this many demo orders takes about a second


def _wave(tag: str) -> routing_pb.RouteBatchRequest:
    rng = np.random.default_rng(5)
    orders = [order_to_proto(random_order(rng, 3, order_id=f"{tag}-{k}")) for k in range(WAVE)]
    for order in orders:
        order.ClearField("created_at")
    return routing_pb.RouteBatchRequest(orders=orders, time_budget_ms=20_000, request_id=tag)


def _start(args: list[str], port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOM_")}
    proc = subprocess.Popen([sys.executable, "-m", "dom_engine", "serve", "--address", f"127.0.0.1:{port}",
                             *args], stderr=subprocess.PIPE, text=True, env=env)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        health = health_pb2_grpc.HealthStub(ch)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return proc
            except grpc.RpcError:
                time.sleep(0.2)
    proc.kill()
    raise TimeoutError("dom serve did not start")


def _drain_with_a_wave_in_flight(proc: subprocess.Popen, port: int,
                                 tag: str) -> routing_pb.RouteBatchResponse:
    """Send the wave, SIGTERM once the server is working on it, and return its answer; checks
    that a call made after the signal is refused and that the process exits 0."""
    answer: dict = {}
    big = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=big) as ch:
        stub = routing_grpc_pb.RoutingServiceStub(ch)
        request = _wave(tag)

        def call() -> None:
            try:
                answer["reply"] = stub.RouteBatch(request, timeout=60)
            except grpc.RpcError as err:
                answer["error"] = err

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.5)                         # the wave is parsed and being solved by now
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as fresh:    # a new connection is refused
            with pytest.raises(grpc.RpcError):
                routing_grpc_pb.RoutingServiceStub(fresh).ValidateOrder(
                    routing_pb.ValidateOrderRequest(order=request.orders[0]), timeout=2)
        caller.join(timeout=60)
    assert "error" not in answer, answer.get("error")
    assert proc.wait(timeout=60) == 0
    return answer["reply"]


def test_sigterm_lets_the_call_in_flight_finish_and_exits_0():
    port = free_port()
    proc = _start([], port)
    try:
        reply = _drain_with_a_wave_in_flight(proc, port, "drain-1")
        assert len(reply.plans) == WAVE and all(p.shipments for p in reply.plans)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_workers_drain_and_flush_the_decision_log(tmp_path: Path, redis_server):
    namespace = new_namespace("drain")
    subprocess.run([sys.executable, "-m", "dom_engine", "demo", "export", str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    config = tmp_path / "dom.toml"
    config.write_text(config.read_text() + f'\n[store]\nbackend = "redis"\nurl = "{redis_server.url}"\n'
                                           f'namespace = "{namespace}"\n')
    subprocess.run([sys.executable, "-m", "dom_engine", "inventory", "load", str(tmp_path / "inventory.csv"),
                    "--config", str(config)], check=True, capture_output=True, timeout=300)
    port = free_port()
    proc = _start(["--workers", "2", "--config", str(config)], port)
    try:
        reply = _drain_with_a_wave_in_flight(proc, port, "drain-w")
        assert len(reply.plans) == WAVE
    finally:
        if proc.poll() is None:
            proc.kill()
    entries = redis.Redis.from_url(redis_server.url).xrange(f"{namespace}:events")
    batch = [e for e in entries if e[1][b"kind"] == b"batch" and e[1][b"request_id"] == b"drain-w"]
    assert len(batch) == WAVE      # every decision of the drained call was written before exit
