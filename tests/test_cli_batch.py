"""`dom batch` and its order files: JSONL (the JSON `dom route` reads, one order per line), CSV and
Parquet (one row per order line); the summary, --json, --out and --reserve; errors naming the file,
line or row and column; the shipped examples/orders-batch.jsonl and its generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dom_engine.cli import main
from dom_engine.domain import ValidationError
from dom_engine.io.demo import demo_batch_orders
from dom_engine.io.order_files import read_orders

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "orders-batch.jsonl"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HEADER = "order_id,line_id,sku,quantity,latitude,longitude"


def dom(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOM_")}
    return subprocess.run([sys.executable, "-m", "dom_engine", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=120)


def run(capsys, *args: str) -> tuple[int, str, str]:
    """`dom ARGS` in this process (no DOM_CONFIG: the demo); (exit code, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _rows_of_example() -> list[dict]:
    """examples/orders-batch.jsonl as one row per order line (the CSV / Parquet layout)."""
    rows = []
    for order in map(json.loads, EXAMPLE.read_text().splitlines()):
        for line in order["lines"]:
            rows.append({"order_id": order["order_id"], "line_id": line["line_id"], "sku": line["sku"],
                         "quantity": line["quantity"], "unit_weight_kg": line["unit_weight_kg"],
                         "latitude": order["destination"]["latitude"],
                         "longitude": order["destination"]["longitude"],
                         "region": order["destination"]["region"],
                         "deliver_in_days": order["deliver_in_days"],
                         "channel": order["channel"], "customer_tier": order["customer_tier"],
                         "allow_backorder": order.get("options", {}).get("allow_backorder", False)})
    return rows


def _write_csv(path: Path, rows: list[dict]) -> Path:
    names = list(rows[0])
    path.write_text(",".join(names) + "\n" + "".join(",".join(str(r[n]) for n in names) + "\n" for r in rows))
    return path


# ----------------------------------------------------------------------------- end to end
def test_batch_of_the_example_prints_a_summary():
    result = dom("batch", "examples/orders-batch.jsonl")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "Batch of 50 orders: " in out
    for words in ("Objective", "lower bound", "gap", "Plans:", "fill rate", "Shipments:", "Cost:",
                  "By node:"):
        assert words in out, words


def test_jsonl_csv_and_parquet_give_the_same_batch(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = _rows_of_example()
    csv_path = _write_csv(tmp_path / "orders.csv", rows)
    parquet_path = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet_path)
    summaries = []
    for path in (EXAMPLE, csv_path, parquet_path):
        code, out, err = run(capsys, "batch", str(path), "--json", "--out", str(tmp_path / "plans.jsonl"))
        assert code == 0, err
        summaries.append(json.loads(out))
        plans = [json.loads(line) for line in (tmp_path / "plans.jsonl").read_text().splitlines()]
        assert [p["order_id"] for p in plans] == [f"BATCH-{k:04d}" for k in range(1, 51)]
    first = summaries[0]
    assert "plans" not in first and first["kpis"]["orders"] == 50
    assert first["status"] in ("OPTIMAL", "FEASIBLE") and first["lower_bound"] <= first["objective"] + 1e-9
    for other in summaries[1:]:
        assert other["objective"] == pytest.approx(first["objective"])
        for key, value in first["kpis"].items():
            assert other["kpis"][key] == (value if isinstance(value, dict) else pytest.approx(value)), key


def test_json_without_out_includes_the_plans_and_reserve_holds_them(capsys):
    code, out, err = run(capsys, "batch", str(EXAMPLE), "--json", "--reserve", "--time-budget-ms", "5000")
    assert code == 0, err
    result = json.loads(out)
    assert len(result["plans"]) == 50
    held = [p for p in result["plans"] if p["reservation_id"]]
    assert result["reserved_orders"] == len(held) == sum(1 for p in result["plans"] if p["shipments"])
    assert all(p["reservation_id"] == "res-" + p["order_id"] for p in held)


def test_text_summary_mentions_reservations_and_the_plans_file(tmp_path, capsys):
    code, out, _ = run(capsys, "batch", str(EXAMPLE), "--reserve", "--out", str(tmp_path / "p.jsonl"))
    assert code == 0
    # The example's promise dates are relative to the real clock: late in the UTC day an order
    # with 2 days can miss every carrier cut-off and hold nothing. Every plan with shipments holds.
    plans = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    held = [p for p in plans if p["shipments"]]
    assert len(held) >= 45 and all(p["reservation_id"] == f"res-{p['order_id']}" for p in held)
    assert f"Reserved:  {len(held)} orders" in out and "p.jsonl" in out


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("name", "text", "field"), [
    ("o.csv", f"{HEADER}\nA,1,SKU-00001,2,40.7,-74.0\nA,2,SKU-00002,0,40.7,-74.0\n",
     "o.csv line 3, column 'quantity'"),
    ("o.csv", f"{HEADER}\nA,1,SKU-00001,2,40.7,-74.0\nA,2,SKU-00002,1,41.7,-74.0\n",
     "o.csv line 3, column 'latitude'"),
    ("o.csv", f"{HEADER}\nA,1,SKU-00001,2,91,-74.0\n", "o.csv line 2, column 'latitude'"),
    ("o.csv", f"{HEADER}\nA,1,SKU-00001,2,40.7,-74.0\nA,1,SKU-00002,1,40.7,-74.0\n",
     "o.csv line 3, column 'line_id'"),
    ("o.csv", f"{HEADER}\nA,1,SKU-00001,two,40.7,-74.0\n", "o.csv line 2, column 'quantity'"),
    ("o.csv", f"{HEADER},deliver_by\nA,1,SKU-00001,2,40.7,-74.0,tomorrow\n",
     "o.csv line 2, column 'deliver_by'"),
    ("o.csv", f"{HEADER},colour\nA,1,SKU-00001,2,40.7,-74.0,red\n", "o.csv header"),
    ("o.csv", "order_id,line_id,sku,quantity\nA,1,SKU-00001,2\n", "o.csv header"),
    ("o.csv", f"{HEADER}\nA,1,SKU-00001,2,40.7\n", "o.csv line 2"),
    ("o.csv", f"{HEADER}\nA,1,SKU-00001,2,40.7,-74.0\nB,1,SKU-99999,1,40.7,-74.0\n",
     "o.csv line 3, column 'sku' (orders[1].lines[0].sku)"),
    ("o.csv", f"{HEADER},policy\nA,1,SKU-00001,2,40.7,-74.0,\nB,1,SKU-00002,1,40.7,-74.0,vip\n",
     "o.csv line 3, column 'policy' (orders[1].options.policy)"),
    ("o.jsonl", '{"order_id": "A", "lines": [{"line_id": "1", "sku": "SKU-00001", "quantity": 1}], '
                '"destination": {"latitude": 40.7, "longitude": -74.0}}\n{"order_id": \n', "o.jsonl line 2"),
    ("o.jsonl", '\n{"order_id": "A", "lines": [{"line_id": "1", "sku": "SKU-00001", "quantity": -1}], '
                '"destination": {"latitude": 40.7, "longitude": -74.0}}\n',
     "o.jsonl line 2, lines[0].quantity"),
    ("o.jsonl", '{"order_id": "A", "lines": [{"line_id": "1", "sku": "SKU-00001", "quantity": 1}], '
                '"destination": {"latitude": 40.7, "longitude": -74.0}}\n' * 2, "o.jsonl line 2, order_id"),
    ("o.jsonl", '{"order_id": "A", "lines": [{"line_id": "1", "sku": "SKU-0000X", "quantity": 1}], '
                '"destination": {"latitude": 40.7, "longitude": -74.0}}\n', "o.jsonl line 1, lines[0].sku"),
    ("o.jsonl", '{"order": {"order_id": "A", "lines": [{"line_id": "1", "sku": "SKU-00001", "quantity": 1}], '
                '"destination": {"latitude": 40.7, "longitude": -74.0}}, "reserve": true}\n',
     "o.jsonl line 1, reserve"),
    ("o.jsonl", "\n\n", "o.jsonl orders"),
    ("o.txt", "hello\n", "o.txt"),
])
def test_bad_order_files_exit_2_naming_the_place(tmp_path, capsys, name, text, field):
    path = tmp_path / name
    path.write_text(text)
    code, out, err = run(capsys, "batch", str(path))
    assert code == 2, (out, err)
    assert err.startswith(f"dom batch: error: {tmp_path}/{field}: "), err


def test_bad_parquet_cells_name_the_row_and_column(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [{"order_id": "A", "line_id": "1", "sku": "SKU-00001", "quantity": 2, "latitude": 40.7,
             "longitude": -74.0, "ship_complete": "maybe"}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "o.parquet")
    code, _, err = run(capsys, "batch", str(tmp_path / "o.parquet"))
    assert code == 2 and f"{tmp_path}/o.parquet row 0, column 'ship_complete': must be true or false" in err


def test_missing_file_and_bad_budget_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "batch", str(tmp_path / "none.jsonl"))
    assert code == 2 and "file not found" in err
    code, _, err = run(capsys, "batch", str(EXAMPLE), "--time-budget-ms", "0")
    assert code == 2 and "--time-budget-ms" in err


# ----------------------------------------------------------------------------- readers
def test_csv_rows_group_by_order_and_carry_per_order_columns(tmp_path):
    text = (f"{HEADER},deliver_by,channel,customer_tier,excluded_nodes,max_shipments,allow_backorder,"
            "penalty_per_unit,created_at,ship_group\n"
            "A,1,SKU-00001,2,40.7,-74.0,2026-03-09,web,gold,IND1;SAT1,2,yes,3.5,2026-03-01T08:00:00Z,kit\n"
            "B,1,SKU-00003,1,34.0,-118.2,,,,,,,,,\n"
            "A,2,SKU-00002,1,,,,,,,,,,,kit\n")
    orders = read_orders(_write(tmp_path / "o.csv", text), now=NOW)
    a, b = orders.orders
    assert [o.order_id for o in orders.orders] == ["A", "B"]
    assert [(ln.line_id, ln.sku, ln.quantity, ln.ship_group) for ln in a.lines] == [
        ("1", "SKU-00001", 2, "kit"), ("2", "SKU-00002", 1, "kit")]
    assert a.deliver_by == date(2026, 3, 9) and a.channel == "web" and a.customer_tier == "gold"
    assert a.options.excluded_nodes == frozenset({"IND1", "SAT1"}) and a.options.max_shipments == 2
    assert a.options.allow_backorder and a.options.penalty.per_unit == 3.5
    assert a.created_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert b.created_at == NOW and b.deliver_by is None and b.destination.latitude == 34.0
    place = orders.locate("orders[0].lines[1].sku")
    assert place.endswith("o.csv line 4, column 'sku' (orders[0].lines[1].sku)")


def test_typed_parquet_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({
        "order_id": pa.array([7, 7, 8], pa.int64()), "line_id": ["a", "b", "a"],
        "sku": ["SKU-00001", "SKU-00002", "SKU-00003"], "quantity": pa.array([1, 2, 3], pa.int32()),
        "latitude": [40.7, 40.7, 34.0], "longitude": [-74.0, -74.0, -118.2],
        "deliver_by": pa.array([date(2026, 3, 9), None, None], pa.date32()),
        "created_at": pa.array([datetime(2026, 3, 1, 8), None, None], pa.timestamp("s")),
        "ship_complete": [True, None, False],
    })
    pq.write_table(table, tmp_path / "o.parquet")
    first, second = read_orders(tmp_path / "o.parquet", now=NOW).orders
    assert first.order_id == "7" and [ln.quantity for ln in first.lines] == [1, 2]
    assert first.deliver_by == date(2026, 3, 9) and first.created_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert first.options.ship_complete and not second.options.ship_complete


def test_jsonl_accepts_the_route_shapes(tmp_path):
    native = EXAMPLE.read_text().splitlines()[0]
    proto = json.dumps({"order": {
        "orderId": "P-1", "lines": [{"lineId": "1", "sku": "SKU-00001", "quantity": "2"}],
        "destination": {"latitude": 40.7, "longitude": -74.0},
        "deliverBy": {"year": 2026, "month": 3, "day": 9}}})
    orders = read_orders(_write(tmp_path / "o.jsonl", f"{native}\n\n{proto}\n"), now=NOW)
    assert [o.order_id for o in orders.orders] == ["BATCH-0001", "P-1"]
    assert orders.where[1].endswith("o.jsonl line 3")
    assert orders.orders[1].lines[0].quantity == 2 and orders.orders[1].deliver_by == date(2026, 3, 9)
    with pytest.raises(ValidationError):
        read_orders(_write(tmp_path / "o.csv", "order_id\n"), now=NOW)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- the example
def test_example_file_is_what_the_generator_writes():
    """examples/orders-batch.jsonl == demo_batch_orders() (also written by `dom demo export`)."""
    expected = "".join(json.dumps(r) + "\n" for r in demo_batch_orders())
    assert EXAMPLE.read_text() == expected
    orders = read_orders(EXAMPLE)
    assert len(orders.orders) == 50 and len({o.order_id for o in orders.orders}) == 50
