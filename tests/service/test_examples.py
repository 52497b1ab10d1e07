"""examples/order.json and examples/grpc_client.py work as documented against the bundled demo."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.io.demo import demo_catalogue
from dom_engine.service.server import build_server
from dom_engine.testing import demo_engine

ROOT = Path(__file__).resolve().parents[2]
ORDER_FILE = ROOT / "examples" / "order.json"
CLIENT = ROOT / "examples" / "grpc_client.py"


def example_request() -> routing_pb.RouteOrderRequest:
    # Strict parse: an unknown or misspelt field in the example fails here.
    return json_format.Parse(ORDER_FILE.read_text(), routing_pb.RouteOrderRequest())


@pytest.fixture(scope="module")
def demo_address() -> Iterator[str]:
    """The bundled demo engine served on a free loopback port."""
    server, port = build_server(demo_engine(), max_workers=2)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def run_client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CLIENT), *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_example_order_uses_demo_skus() -> None:
    request = example_request()
    assert request.order.order_id and request.order.HasField("destination")
    assert {line.sku for line in request.order.lines} <= set(demo_catalogue().skus)


def test_grpc_client_routes_the_example_order(demo_address: str) -> None:
    result = run_client(str(ORDER_FILE), "--address", demo_address)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["order_id"] == example_request().order.order_id
    assert plan["status"] in ("PLAN_STATUS_OPTIMAL", "PLAN_STATUS_FEASIBLE"), plan["infeasible_reason"]
    shipped: dict[str, int] = {}
    for shipment in plan["shipments"]:
        for line in shipment["lines"]:
            shipped[line["line_id"]] = shipped.get(line["line_id"], 0) + int(line["quantity"])
    assert shipped == {line.line_id: line.quantity for line in example_request().order.lines}
    # The kit (ship_group "gift-set") ships complete from one node.
    kit = {"L3", "L4"}
    kit_nodes = {s["node_id"] for s in plan["shipments"] for line in s["lines"] if line["line_id"] in kit}
    assert len(kit_nodes) == 1


def test_grpc_client_validates_and_reports_errors(demo_address: str, tmp_path: Path) -> None:
    ok = run_client(str(ORDER_FILE), "--address", demo_address, "--validate")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["valid"] is True

    bad = json.loads(ORDER_FILE.read_text())
    bad["order"]["lines"][1]["sku"] = "SKU-99999999"
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(bad))
    failed = run_client(str(bad_file), "--address", demo_address)
    assert failed.returncode == 1
    assert "INVALID_ARGUMENT" in failed.stderr
    assert "field: order.lines[1].sku" in failed.stderr


def test_grpc_client_takes_camel_case_and_native_orders(demo_address: str, tmp_path: Path) -> None:
    for name in ("order-proto.json", "order-simple.json"):     # lowerCamelCase proto-JSON; native
        result = run_client(str(ROOT / "examples" / name), "--address", demo_address)
        assert result.returncode == 0, (name, result.stderr)
        assert json.loads(result.stdout)["shipments"], name
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"not": "an order"}')
    failed = run_client(str(garbage), "--address", demo_address)
    assert failed.returncode == 2 and "neither a proto-JSON RouteOrderRequest" in failed.stderr
