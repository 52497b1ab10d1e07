"""`dom events tail | export` against a decision log in a real redis-server, written by a real
gRPC server; the exported orders replay in `dom simulate`."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import grpc
import numpy as np
import pyarrow.parquet as pq
import pytest

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.bootstrap import build_engine
from dom_engine.inventory.redis_events import RedisEventLog
from dom_engine.io.demo import random_order
from dom_engine.io.order_files import read_orders
from dom_engine.service.converters import order_to_proto
from dom_engine.service.server import build_server
from tests.redis_servers import new_namespace


def dom(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dom_engine", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def logged(tmp_path, redis_server):
    """A config naming the log's Redis and namespace, after 4 demo orders were routed over gRPC
    (one of them twice: a retry)."""
    namespace = new_namespace("cli-ev")
    log = RedisEventLog(redis_server.url, namespace)
    engine = replace(build_engine(), events=log)
    server, port = build_server(engine, "127.0.0.1:0", max_workers=2)
    server.start()
    rng = np.random.default_rng(3)
    orders = [random_order(rng, 2, order_id=f"EV-{k}") for k in range(4)]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = routing_grpc_pb.RoutingServiceStub(ch)
        for order in [*orders, orders[0]]:
            request = routing_pb.RouteOrderRequest(order=order_to_proto(order), request_id="cli")
            stub.RouteOrder(request, timeout=30)
    server.stop(None)
    assert engine.decisions.drain(10.0)
    log.close()
    config = tmp_path / "dom.toml"
    config.write_text(f'[store]\nbackend = "redis"\nurl = "{redis_server.url}"\nnamespace = "{namespace}"\n')
    return config, orders


def test_export_writes_every_event_and_the_orders_once(tmp_path, logged):
    config, orders = logged
    out, stream = tmp_path / "events.parquet", tmp_path / "orders.jsonl"
    done = dom("events", "export", str(out), "--orders", str(stream), "--config", str(config))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out).to_pylist()
    assert [r["order_id"] for r in table] == ["EV-0", "EV-1", "EV-2", "EV-3", "EV-0"]
    assert {r["kind"] for r in table} == {"route"} and all(r["total_cost"] > 0 for r in table)
    assert json.loads(table[1]["detail"])["plan"]["order_id"] == "EV-1"
    replayed = read_orders(stream).orders
    assert [o.order_id for o in replayed] == [o.order_id for o in orders]   # the retry is one arrival
    assert [o.lines for o in replayed] == [o.lines for o in orders]


def test_exported_orders_replay_in_the_simulation(tmp_path, logged):
    config, _ = logged
    stream = tmp_path / "orders.jsonl"
    assert dom("events", "export", str(tmp_path / "e.parquet"), "--orders", str(stream),
               "--config", str(config)).returncode == 0
    scenarios = tmp_path / "whatif.toml"
    scenarios.write_text("[base]\nreplications = 1\n[scenarios.dearer]\nrates_scale = 1.1\n")
    done = dom("simulate", str(scenarios), "--orders", str(stream), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["meta"]["orders"] == 4 and summary["scenarios"] == ["base", "dearer"]
    assert summary["kpis"]["base"]["fill_rate"] == 1.0


def test_tail_prints_the_latest_events(logged):
    config, _ = logged
    done = dom("events", "tail", "-n", "2", "--json", "--config", str(config))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert [x["order_id"] for x in lines] == ["EV-3", "EV-0"]
    one = dom("events", "tail", "--order", "EV-2", "--config", str(config))
    assert one.returncode == 0 and len(one.stdout.splitlines()) == 1 and "EV-2" in one.stdout


def test_events_of_the_memory_store_and_bad_kinds_are_refused(tmp_path, logged):
    config, _ = logged
    bad = dom("events", "tail", "--kind", "routed", "--config", str(config))
    assert bad.returncode == 2 and "--kind" in bad.stderr
    memory = dom("events", "tail")
    assert memory.returncode == 2 and "store.backend" in memory.stderr and "ListEvents" in memory.stderr
