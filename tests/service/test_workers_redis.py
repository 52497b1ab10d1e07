"""End to end over real processes: `dom inventory load` into a real redis-server, then
`dom serve --workers 2` sharing it, hammered by concurrent reserving clients on several channels.
The hot SKU must never be oversold, and every order gets a plan or a clean error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from tests.redis_servers import free_port, new_namespace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOT_STOCK = {"DC-EDISON": 6, "DC-RENO": 4}  # the only stock of the hot SKU: 10 units in all


def _config(tmp_path: Path, url: str) -> Path:
    for name in ("network.toml", "rates.toml"):
        (tmp_path / name).write_text((EXAMPLES / name).read_text())
    inventory = ["node_id,sku,on_hand,safety_stock"] + [f"{n},HOT,{q},0" for n, q in HOT_STOCK.items()]
    (tmp_path / "stock.csv").write_text("\n".join(inventory) + "\n")
    config = tmp_path / "dom.toml"
    config.write_text(f'[data]\nnetwork = "network.toml"\ninventory = "stock.csv"\nrates = "rates.toml"\n'
                      f'[store]\nbackend = "redis"\nurl = "{url}"\nnamespace = "{new_namespace("w")}"\n')
    return config


def _dom(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dom_engine", *args], capture_output=True, text=True,
                          timeout=120, **kw)


def _order(k: int) -> routing_pb.RouteOrderRequest:
    return routing_pb.RouteOrderRequest(reserve=True, order=routing_pb.Order(
        order_id=f"HOT-{k}", lines=[routing_pb.Line(line_id="1", sku="HOT", quantity=1)],
        destination=routing_pb.Destination(latitude=39.95, longitude=-75.16)))


def test_workers_share_stock_and_never_oversell(tmp_path, redis_server):
    config = _config(tmp_path, redis_server.url)
    loaded = _dom("inventory", "load", str(tmp_path / "stock.csv"), "--config", str(config))
    assert loaded.returncode == 0, loaded.stderr
    assert "snapshot version" in loaded.stderr

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "dom_engine", "serve", "--workers", "2", "--config",
                               str(config), "--address", f"127.0.0.1:{port}"],
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # Separate subchannel pools: each channel its own connection, so the kernel can spread them.
        own_pool = [("grpc.use_local_subchannel_pool", 1)]
        channels = [grpc.insecure_channel(f"127.0.0.1:{port}", options=own_pool) for _ in range(4)]
        for ch in channels:
            grpc.channel_ready_future(ch).result(timeout=60)
        stubs = [routing_grpc_pb.RoutingServiceStub(ch) for ch in channels]

        def call(k: int):
            try:
                return stubs[k % len(stubs)].RouteOrder(_order(k), timeout=30).plan
            except grpc.RpcError as err:
                return err.code()

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(call, range(40)))
        plans = [r for r in results if isinstance(r, routing_pb.Plan)]
        errors = [r for r in results if not isinstance(r, routing_pb.Plan)]
        assert set(errors) <= {grpc.StatusCode.ABORTED}, errors
        reserved = [p for p in plans if p.reservation_id]
        shipped = sum(ln.quantity for p in reserved for s in p.shipments for ln in s.lines)
        assert shipped == len(reserved) == sum(HOT_STOCK.values())  # all 10 sold, not one more
        assert all(p.status == routing_pb.PLAN_STATUS_INFEASIBLE for p in plans if not p.reservation_id)
        for ch in channels:
            ch.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail("workers did not stop on SIGTERM")
    assert server.returncode == 0, server.stderr.read()
