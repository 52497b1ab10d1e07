"""Stock files past the quantity bound (rows.MAX_QUANTITY) or past int64, and duplicate rows: the
loaders and `dom inventory load` name the file, the line and the limit (a ConfigError, exit 2),
never an OverflowError or a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dom_engine.domain import ConfigError, Network, Node, NodeKind
from dom_engine.inventory.rows import MAX_QUANTITY
from dom_engine.io.stock_files import load_inventory

ROOT = Path(__file__).resolve().parents[2]
LIMIT_TEXT = f"{MAX_QUANTITY:,}"
PAST_INT64 = "99999999999999999999"


@pytest.fixture
def network() -> Network:
    return Network((Node("A", NodeKind.WAREHOUSE, 40.0, -75.0), Node("B", NodeKind.STORE, 41.0, -87.0)))


@pytest.mark.parametrize(("body", "where"), [
    (f"A,X,10,0\nB,X,{PAST_INT64},0\n", "line 3, column 'on_hand'"),
    (f"A,X,10,0\nB,X,{MAX_QUANTITY + 1},0\n", "line 3, column 'on_hand'"),
    (f"A,X,10,{PAST_INT64}\n", "line 2, column 'safety_stock'"),
])
def test_csv_quantities_past_the_limit_name_the_line(tmp_path, network, body, where):
    path = tmp_path / "inv.csv"
    path.write_text("node_id,sku,on_hand,safety_stock\n" + body)
    with pytest.raises(ConfigError) as err:
        load_inventory(path, network)
    assert where in err.value.field and LIMIT_TEXT in err.value.message


@pytest.mark.parametrize("value", [2**64, MAX_QUANTITY + 1])
def test_json_quantities_past_the_limit_name_the_row(tmp_path, network, value):
    path = tmp_path / "inv.json"
    path.write_text(json.dumps([{"node_id": "A", "sku": "X", "on_hand": 1},
                                {"node_id": "B", "sku": "X", "on_hand": value}]))
    with pytest.raises(ConfigError) as err:
        load_inventory(path, network)
    assert err.value.field.endswith("rows[1].on_hand") and LIMIT_TEXT in err.value.message


def test_parquet_quantity_past_the_limit_names_the_row(tmp_path, network):
    path = tmp_path / "inv.parquet"
    pq.write_table(pa.table({"node_id": ["A", "B"], "sku": ["X", "X"],
                             "on_hand": pa.array([1, 2**63 - 1], type=pa.int64())}), path)
    with pytest.raises(ConfigError) as err:
        load_inventory(path, network)
    assert "row 1, column 'on_hand'" in err.value.field and LIMIT_TEXT in err.value.message


def _dom_inventory_load(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "dom.toml").write_text(f'[data]\nnetwork = "{ROOT / "examples" / "network.toml"}"\n'
                                       f'inventory = "{ROOT / "examples" / "inventory.csv"}"\n')
    (tmp_path / "inv.csv").write_text("node_id,sku,on_hand\n" + body)
    # validation comes first: nothing listens on port 1, and nothing is sent there
    return subprocess.run([sys.executable, "-m", "dom_engine", "inventory", "load", str(tmp_path / "inv.csv"),
                           "--config", str(tmp_path / "dom.toml"), "--redis", "redis://127.0.0.1:1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("body", "where", "words"), [
    ("DC-EDISON,X,1\nDC-EDISON,Y,2\nDC-EDISON,X,3\n", "inv.csv line 4", "duplicate row"),
    (f"DC-EDISON,X,1\nDC-EDISON,Y,{PAST_INT64}\n", "inv.csv line 3, column 'on_hand'", LIMIT_TEXT),
    (f"DC-EDISON,X,{MAX_QUANTITY + 1}\n", "inv.csv line 2, column 'on_hand'", LIMIT_TEXT),
])
def test_dom_inventory_load_names_the_file_line_and_exits_2(tmp_path, body, where, words):
    result = _dom_inventory_load(tmp_path, body)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert where in result.stderr and words in result.stderr, result.stderr
