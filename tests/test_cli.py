"""The `dom` CLI, run as a real subprocess (`python -m dom_engine`), plus the order/plan codecs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dom_engine.domain import (
    Alternative,
    CostBreakdown,
    Explanation,
    Plan,
    PlanStatus,
    Shipment,
    ShipmentLine,
    ValidationError,
)
from dom_engine.io.order_json import order_from_dict, order_request_from_dict
from dom_engine.io.render import format_plan, plan_to_dict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def dom(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DOM_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "dom_engine", *args], cwd=ROOT, capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _bad(result: subprocess.CompletedProcess, field: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert field in result.stderr, result.stderr
    return result.stderr


# ----------------------------------------------------------------------------- route
def test_route_demo_order_prints_a_table():
    out = _ok(dom("route", "examples/order-simple.json"))
    assert "Order DEMO-1001:" in out
    assert re.search(r"Order DEMO-1001: (OPTIMAL|FEASIBLE)", out)
    for word in ("Shipments", "node", "service", "deliver", "total", "Objective", "gap", "lines: "):
        assert word in out
    assert "SKU-00001 x2" in out


def test_route_json_is_a_consistent_plan():
    plan = json.loads(_ok(dom("route", "examples/order-simple.json", "--json")))
    assert plan["order_id"] == "DEMO-1001"
    assert plan["status"] in ("OPTIMAL", "FEASIBLE")
    shipped = sum(ln["quantity"] for s in plan["shipments"] for ln in s["lines"])
    assert shipped + sum(b["quantity"] for b in plan["backordered"]) == 4
    assert plan["shipping_cost"] == pytest.approx(sum(s["cost"]["total"] for s in plan["shipments"]))
    assert 0.0 <= plan["gap"] and plan["lower_bound"] <= plan["objective"] + 1e-6
    for s in plan["shipments"]:
        assert date.fromisoformat(s["ship_date"]) <= date.fromisoformat(s["delivery_date"])


def test_route_small_example_network():
    plan = json.loads(_ok(dom("route", "--config", "examples/dom.toml", "examples/order-small.json",
                              "--json")))
    nodes = {"DC-EDISON", "DC-COLUMBUS", "DC-RENO", "ST-BOSTON", "ST-CHICAGO", "ST-SEATTLE", "DS-AUSTIN"}
    assert plan["status"] in ("OPTIMAL", "FEASIBLE")
    assert {s["node_id"] for s in plan["shipments"]} <= nodes
    assert {s["service"] for s in plan["shipments"]} <= {"ground", "two_day", "overnight"}


def test_route_proto_json_and_kit_examples():
    plan = json.loads(_ok(dom("route", "examples/order-proto.json", "--json")))
    # marketplace channel: never from a store; IND1 excluded by the order
    assert all(not s["node_id"].startswith("ST-") and s["node_id"] != "IND1" for s in plan["shipments"])
    kit = json.loads(_ok(dom("route", "--config", "examples/dom.toml", "examples/order-kit.json", "--json")))
    homes = {ln["line_id"]: s["node_id"] for s in kit["shipments"] for ln in s["lines"]}
    if kit["status"] != "INFEASIBLE":
        assert homes["1"] == homes["2"]  # the gift-box lines ship together


def test_dom_config_environment_variable_is_used():
    out = _ok(dom("route", "examples/order-small.json", "--json", env={"DOM_CONFIG": "examples/dom.toml"}))
    assert json.loads(out)["order_id"] == "SMALL-2001"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o["lines"][1].pop("quantity"), "lines[1].quantity"),
        (lambda o: o["lines"][0].update(quantity=-3), "lines[0].quantity"),
        (lambda o: o["lines"][0].update(quantity="two"), "lines[0].quantity"),
        (lambda o: o["lines"][2].update(sku="SKU-99999"), "lines[2].sku"),
        (lambda o: o["destination"].update(latitude=123.0), "destination.latitude"),
        (lambda o: o.update(deliver_by="2001-01-01"), "deliver_by"),
        (lambda o: o.update(deliver_by="tomorrow"), "deliver_by"),
        (lambda o: o.update(colour="red"), "colour"),
        (lambda o: o["options"].update(policy="cheapest"), "options.policy"),
        (lambda o: o["options"].update(excluded_nodes=["DC-0"]), "options.excluded_nodes"),
        (lambda o: o.pop("order_id"), "order_id"),
    ],
)
def test_bad_orders_exit_2_naming_the_field(tmp_path, mutate, field):
    order = json.loads((EXAMPLES / "order-simple.json").read_text())
    mutate(order)
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order))
    _bad(dom("route", str(path)), field)


def test_unreadable_inputs_exit_2(tmp_path):
    path = tmp_path / "order.json"
    path.write_text('{"order_id": "x",\n "lines": [}')
    _bad(dom("route", str(path)), "line 2")
    _bad(dom("route", str(tmp_path / "missing.json")), "missing.json")
    bad_config = tmp_path / "dom.toml"
    bad_config.write_text("[limits]\nmax_lines = 'lots'\n")
    _bad(dom("route", "examples/order-simple.json", "--config", str(bad_config)), "limits.max_lines")
    _bad(dom("route", "examples/order-simple.json", env={"DOM_TIME_BUDGET_MS": "soon"}), "DOM_TIME_BUDGET_MS")
    _bad(dom("route"), "ORDER")  # argparse usage error, also exit 2


# ----------------------------------------------------------------------------- other commands
def test_validate_config():
    out = _ok(dom("validate-config", "examples/dom.toml"))
    assert "OK" in out and "7 nodes" in out and "8 SKUs" in out


def test_validate_config_reports_bad_data_files(tmp_path):
    (tmp_path / "inv.csv").write_text("node_id,sku,on_hand\nDC-EDISON,X,1\nDC-NOWHERE,X,2\n")
    (tmp_path / "dom.toml").write_text(
        f'[data]\nnetwork = "{EXAMPLES / "network.toml"}"\ninventory = "inv.csv"\n')
    err = _bad(dom("validate-config", str(tmp_path / "dom.toml")), "line 3.node_id")
    assert "DC-NOWHERE" in err


def test_demo_export_then_route_on_the_exported_files(tmp_path):
    out = _ok(dom("demo", "export", str(tmp_path)))
    assert {Path(p).name for p in out.split()} == {"nodes.csv", "inventory.csv", "rates.toml", "dom.toml",
                                                   "orders-batch.jsonl"}
    assert "100 nodes" in _ok(dom("validate-config", str(tmp_path / "dom.toml")))
    plan = json.loads(_ok(dom("route", "--config", str(tmp_path / "dom.toml"), "examples/order-simple.json",
                              "--json")))
    direct = json.loads(_ok(dom("route", "examples/order-simple.json", "--json")))
    assert plan["total_cost"] == pytest.approx(direct["total_cost"])  # same data, same answer


@contextmanager
def _serving(*args: str):
    """`dom serve ARGS` as a process: yields its start-up line (the one that says "serving");
    on leaving, SIGTERM must stop it with exit 0 (killed otherwise)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOM_")}
    proc = subprocess.Popen([sys.executable, "-m", "dom_engine", "serve", *args], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "serving" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
        yield line
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_serve_starts_answers_health_and_stops_on_sigterm():
    grpc = pytest.importorskip("grpc")
    health_pb2 = pytest.importorskip("grpc_health.v1.health_pb2")
    health_pb2_grpc = pytest.importorskip("grpc_health.v1.health_pb2_grpc")
    with _serving("--address", "127.0.0.1:0") as line:
        match = re.search(r"serving 100 nodes on 127\.0\.0\.1:(\d+)", line)
        assert match, "server did not report its port"
        assert "INSECURE: no TLS, no authentication" in line      # plain text is said out loud
        with grpc.insecure_channel(f"127.0.0.1:{match.group(1)}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_demo_export_never_overwrites_without_force(tmp_path):
    out = tmp_path / "demo"
    _ok(dom("demo", "export", str(out)))
    edited = (out / "dom.toml").read_text() + "# edited\n"
    (out / "dom.toml").write_text(edited)
    err = _bad(dom("demo", "export", str(out)), "DIR")
    assert "--force" in err and (out / "dom.toml").read_text() == edited
    _ok(dom("demo", "export", str(out), "--force"))
    assert "# edited" not in (out / "dom.toml").read_text()
    (tmp_path / "a-file").write_text("x")
    _bad(dom("demo", "export", str(tmp_path / "a-file")), "DIR")


def test_validate_config_with_the_redis_store_reports_it(tmp_path, redis_server):
    _ok(dom("demo", "export", str(tmp_path)))
    config = tmp_path / "dom.toml"
    # A namespace of its own: other tests load stock into the session's Redis.
    config.write_text(config.read_text() + '\n[store]\nnamespace = "validate-config-empty"\n')
    env = {"DOM_STORE_BACKEND": "redis", "DOM_REDIS_URL": redis_server.url}
    out = _ok(dom("validate-config", str(config), env=env))
    assert f"redis store {redis_server.url}" in out and "0 SKUs" in out and "dom inventory load" in out
    down = _ok(dom("validate-config", str(config), env={**env, "DOM_REDIS_URL": "redis://127.0.0.1:1/0"}))
    assert "unreachable" in down


def test_serve_refuses_an_empty_or_unreachable_shared_store(tmp_path, redis_server):
    config = tmp_path / "dom.toml"
    config.write_text(f'[store]\nbackend = "redis"\nurl = "{redis_server.url}"\nnamespace = "serve-empty"\n')
    err = _bad(dom("serve", "--config", str(config), "--address", "127.0.0.1:0"), "store")
    assert "dom inventory load" in err and "--allow-empty-store" in err
    down = tmp_path / "down.toml"
    down.write_text('[store]\nbackend = "redis"\nurl = "redis://127.0.0.1:1/0"\n')
    _bad(dom("serve", "--config", str(down), "--address", "127.0.0.1:0"), "store.url")


def test_serve_names_the_shared_store_it_uses(tmp_path, redis_server):
    config = tmp_path / "dom.toml"
    config.write_text(f'[store]\nbackend = "redis"\nurl = "{redis_server.url}"\nnamespace = "serve-named"\n')
    with _serving("--config", str(config), "--address", "127.0.0.1:0", "--allow-empty-store") as line:
        assert f"stock redis store {redis_server.url}" in line and "bundled demo" in line


def test_inventory_load_names_a_bad_redis_option(tmp_path):
    _ok(dom("demo", "export", str(tmp_path)))
    err = _bad(dom("inventory", "load", "--redis", "http://x:1", str(tmp_path / "inventory.csv"),
                   "--config", str(tmp_path / "dom.toml")), "--redis")
    assert "redis://" in err


def test_serve_rejects_a_bad_address():
    _bad(dom("serve", "--address", "nowhere"), "--address")


def test_serve_refuses_plain_text_off_loopback_unless_told():
    _bad(dom("serve", "--address", "0.0.0.0:0"), "server.tls")


# ----------------------------------------------------------------------------- codecs (in process)
NATIVE = {
    "order_id": "A-1",
    "lines": [{"line_id": "1", "sku": "S", "quantity": 2, "unit_weight_kg": 0.5, "ship_group": "k"}],
    "destination": {"latitude": 40.0, "longitude": -75.0, "postal_code": "19103"},
    "deliver_by": "2026-07-01",
    "created_at": "2026-06-01T10:00:00Z",
    "channel": "web",
    "options": {"max_shipments": 2, "excluded_nodes": ["N1"], "penalty": {"per_unit": 3.5}},
}
PROTO = {
    "order": {
        "orderId": "A-1",
        "lines": [{"lineId": "1", "sku": "S", "quantity": "2", "unitWeightKg": 0.5, "shipGroup": "k"}],
        "destination": {"latitude": 40.0, "longitude": -75.0, "postalCode": "19103"},
        "deliverBy": {"year": 2026, "month": 7, "day": 1},
        "createdAt": "2026-06-01T10:00:00Z",
        "channel": "web",
        "options": {"maxShipments": 2, "excludedNodes": ["N1"], "penalty": {"perUnit": 3.5}},
    },
    "reserve": True,
    "timeBudgetMs": 20,
}


def test_native_and_proto_json_give_the_same_order():
    native = order_from_dict(NATIVE)
    request = order_request_from_dict(PROTO)
    assert request.order == native
    assert request.reserve is True and request.time_budget_ms == 20.0
    assert native.created_at == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert native.lines[0].ship_group == "k" and native.options.penalty.per_unit == 3.5


def test_deliver_in_days_is_relative_to_now():
    now = datetime(2026, 6, 1, 23, tzinfo=UTC)
    data = {k: v for k, v in NATIVE.items() if k != "deliver_by"}
    order = order_from_dict({**data, "deliver_in_days": 3}, now)
    assert order.deliver_by == date(2026, 6, 4)


def test_codec_errors_name_nested_fields():
    bad = json.loads(json.dumps(PROTO))
    bad["order"]["deliverBy"]["month"] = 13
    with pytest.raises(ValidationError, match=r"order\.deliver_by"):
        order_request_from_dict(bad)
    bad = json.loads(json.dumps(PROTO))
    bad["order"]["options"]["penalty"]["perUnit"] = "high"
    with pytest.raises(ValidationError) as info:
        order_request_from_dict(bad)
    assert info.value.field == "order.options.penalty.per_unit"


def _plan() -> Plan:
    cost = CostBreakdown(package=8.759, units=1.2, handling=1.2, distance=0.5, co2e_kg=0.3)
    shipment = Shipment("DC-1", "ground", (ShipmentLine("1", "S", 2),), date(2026, 6, 1), date(2026, 6, 4),
                        812.4, cost)
    return Plan("A-1", PlanStatus.FEASIBLE, (shipment,), total_cost=cost.total, shipping_cost=cost.total,
                objective=11.659, lower_bound=11.0, solve_time_ms=3.2, solver="cp-sat", snapshot_version=7,
                explanation=Explanation("cheapest single node", Alternative(("DC-2",), 12.0, 0.341),
                                        ("store capacity",), 12, 3))


def test_plan_rendering():
    plan = _plan()
    data = plan_to_dict(plan)
    assert json.loads(json.dumps(data)) == data
    assert data["gap"] == pytest.approx(plan.gap) and data["shipments"][0]["cost"]["total"] == pytest.approx(
        plan.shipments[0].cost.total)
    text = format_plan(plan)
    for piece in ("A-1: FEASIBLE", "cp-sat", "DC-1", "ground", "2026-06-04", "S x2", "5.65%",
                  "store capacity", "DC-2", "snapshot v7"):
        assert piece in text, piece
