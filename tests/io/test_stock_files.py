"""Loaders: inventory from CSV / JSON / Parquet, networks, rate cards and policies from TOML/CSV."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from dom_engine.domain import ConfigError, Mode, Network, Node, NodeKind, us_network_rate_card
from dom_engine.io.stock_files import load_inventory
from dom_engine.io.tables import load_network, load_policies, load_rate_card

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def network() -> Network:
    return Network((
        Node("A", NodeKind.WAREHOUSE, 40.0, -75.0),
        Node("B", NodeKind.STORE, 41.0, -87.0),
    ))


def _atp(store, skus):
    return store.read(skus).atp


# ----------------------------------------------------------------------------- CSV
def test_csv_loads_with_optional_safety_stock(tmp_path, network):
    path = tmp_path / "inv.csv"
    path.write_text("sku,node_id,on_hand,safety_stock\nX,A,10,2\nX,B, 4 ,\nY,B,3,1\n")
    store = load_inventory(path, network)
    np.testing.assert_array_equal(_atp(store, ["X", "Y"]), [[8, 0], [4, 2]])


def test_csv_without_safety_column(tmp_path, network):
    path = tmp_path / "inv.csv"
    path.write_text("node_id,sku,on_hand\nA,X,10\n")
    assert _atp(load_inventory(path, network), ["X"])[0, 0] == 10


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("A,X,10\nB,X,ten\n", "line 3, column 'on_hand'"),
        ("A,X,10\nB,X,-1\n", "line 3, column 'on_hand'"),
        ("A,X,1.5\n", "line 2, column 'on_hand'"),
        ("A,X,10\n,X,1\n", "line 3, column 'node_id'"),
        ("A,X,10\nZZ,X,1\n", "line 3.node_id"),
        ("A,X,10\nA,X,1\n", "line 3"),
        ("A,X\n", "line 2"),
    ],
)
def test_csv_errors_name_file_row_and_column(tmp_path, network, body, where):
    path = tmp_path / "bad.csv"
    path.write_text("node_id,sku,on_hand\n" + body)
    with pytest.raises(ConfigError) as info:
        load_inventory(path, network)
    assert str(path) in str(info.value)
    assert where in str(info.value)


def test_csv_missing_column_and_missing_file(tmp_path, network):
    path = tmp_path / "bad.csv"
    path.write_text("node_id,on_hand\nA,1\n")
    with pytest.raises(ConfigError, match=r"missing column\(s\) \['sku'\]"):
        load_inventory(path, network)
    with pytest.raises(ConfigError, match="file not found"):
        load_inventory(tmp_path / "nope.csv", network)
    with pytest.raises(ConfigError, match="unknown inventory format"):
        load_inventory(tmp_path / "inv.xlsx", network)


def test_unknown_node_is_named_with_its_row(tmp_path, network):
    path = tmp_path / "inv.csv"
    path.write_text("node_id,sku,on_hand\nA,X,1\nA,Y,1\nDC-9,X,1\n")
    with pytest.raises(ConfigError, match=r"line 4\.node_id: unknown node 'DC-9'"):
        load_inventory(path, network)


# ----------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("wrap", [False, True])
def test_json_list_or_rows_object(tmp_path, network, wrap):
    rows = [{"node_id": "A", "sku": "X", "on_hand": 5, "safety_stock": 1},
            {"node_id": "B", "sku": "X", "on_hand": 2}]
    path = tmp_path / "inv.json"
    path.write_text(json.dumps({"rows": rows} if wrap else rows))
    np.testing.assert_array_equal(_atp(load_inventory(path, network), ["X"])[:, 0], [4, 2])


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        ([{"node_id": "A", "sku": "X", "on_hand": "5"}], "rows[0].on_hand"),
        ([{"node_id": "A", "sku": "X", "on_hand": 1}, {"node_id": "A", "sku": "Y"}], "rows[1].on_hand"),
        ([{"node_id": "A", "sku": "X", "on_hand": True}], "rows[0].on_hand"),
        ([{"node_id": "A", "sku": "", "on_hand": 1}], "rows[0].sku"),
        ([{"node_id": "A", "sku": "X", "on_hand": 1, "onhand": 2}], "rows[0].onhand"),
        ([{"node_id": "A", "sku": "X", "on_hand": 1}, {"node_id": "Q", "sku": "X", "on_hand": 1}],
         "rows[1].node_id"),
        ({"data": []}, "expected a list"),
    ],
)
def test_json_errors_name_row_and_column(tmp_path, network, rows, where):
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(ConfigError) as info:
        load_inventory(path, network)
    assert str(path) in str(info.value) and where in str(info.value)


def test_json_syntax_error_names_the_line(tmp_path, network):
    path = tmp_path / "inv.json"
    path.write_text('[\n{"node_id": "A",\n}]')
    with pytest.raises(ConfigError, match="line 3"):
        load_inventory(path, network)


# ----------------------------------------------------------------------------- Parquet
def test_parquet_round_trip_and_errors(tmp_path, network):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "inv.parquet"
    pq.write_table(pa.table({"node_id": ["A", "B", "B"], "sku": ["X", "X", "Y"],
                             "on_hand": [7, 3, 9], "safety_stock": [1, None, 2]}), path)
    np.testing.assert_array_equal(_atp(load_inventory(path, network), ["X", "Y"]), [[6, 0], [3, 7]])

    pq.write_table(pa.table({"node_id": ["A", "B"], "sku": ["X", "X"], "on_hand": [1, -4]}), path)
    with pytest.raises(ConfigError, match=r"row 1, column 'on_hand'"):
        load_inventory(path, network)
    pq.write_table(pa.table({"node_id": ["A", "Q"], "sku": ["X", "X"], "on_hand": [1, 4]}), path)
    with pytest.raises(ConfigError, match=r"row 1\.node_id: unknown node 'Q'"):
        load_inventory(path, network)
    pq.write_table(pa.table({"node_id": ["A"], "sku": ["X"], "on_hand": [1.5]}), path)
    with pytest.raises(ConfigError, match="column 'on_hand'.*must be integers"):
        load_inventory(path, network)


def test_parquet_without_pyarrow_gives_a_clear_error(tmp_path, network, monkeypatch):
    for name in ("pyarrow", "pyarrow.parquet", "pyarrow.compute"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ConfigError, match=r"pip install 'dom-engine\[parquet\]'"):
        load_inventory(tmp_path / "inv.parquet", network)


# ----------------------------------------------------------------------------- networks
def test_example_network_toml_and_inventory_load():
    net = load_network(EXAMPLES / "network.toml")
    assert len(net) == 7 and net.currency == "USD"
    assert net.nodes[net.index_of("ST-BOSTON")].daily_shipment_capacity == 25
    assert net.nodes[net.index_of("DS-AUSTIN")].kind is NodeKind.DROPSHIP
    store = load_inventory(EXAMPLES / "inventory.csv", net)
    assert "TENT-2P" in store.known_skus()


def test_network_csv(tmp_path):
    path = tmp_path / "nodes.csv"
    path.write_text("node_id,kind,latitude,longitude,daily_shipment_capacity,enabled,tags\n"
                    "W1,warehouse,40,-75,,true,a;b\nS1,store,41,-87,12,false,\n")
    net = load_network(path)
    assert net.node_ids == ["W1", "S1"]
    assert net.nodes[0].tags == frozenset({"a", "b"}) and net.nodes[0].daily_shipment_capacity is None
    assert net.nodes[1].daily_shipment_capacity == 12 and not net.nodes[1].enabled


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[[nodes]]\nnode_id = "A"\nlatitude = 95.0\nlongitude = 0.0\n', "nodes[0] nodes['A'].latitude"),
        ('[[nodes]]\nnode_id = "A"\nlatitude = "x"\nlongitude = 0.0\n', "nodes[0].latitude"),
        ('[[nodes]]\nnode_id = "A"\nlatitude = 1.0\nlongitude = 0.0\nkind = "shop"\n', "nodes[0].kind"),
        ('[[nodes]]\nnode_id = "A"\nlatitude = 1.0\nlongitud = 0.0\n', "nodes[0].longitude"),
        ('[[nodes]]\nnode_id = "A"\nlatitude = 1.0\nlongitude = 0.0\ncutof_hour = 3\n',
         "nodes[0].cutof_hour"),
        ('[[nodes]]\nnode_id = "A"\nlatitude = 1.0\nlongitude = 0.0\n'
         '[[nodes]]\nnode_id = "A"\nlatitude = 1.0\nlongitude = 0.0\n', "node_id"),
        ("currency = 'USD'\n", "defines no nodes"),
    ],
)
def test_network_toml_errors_name_the_key(tmp_path, text, where):
    path = tmp_path / "net.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_network(path)
    assert str(path) in str(info.value) and where in str(info.value)


def test_network_csv_error_names_line_and_column(tmp_path):
    path = tmp_path / "nodes.csv"
    path.write_text("node_id,latitude,longitude\nA,40,-75\nB,north,-87\n")
    with pytest.raises(ConfigError, match=r"line 3, column 'latitude'"):
        load_network(path)


# ----------------------------------------------------------------------------- rates & policies
def test_example_rate_card():
    card = load_rate_card(EXAMPLES / "rates.toml")
    assert [s.name for s in card.services] == ["ground", "two_day", "overnight"]
    ground = card.service("ground")
    assert ground.bands[-1].max_distance == math.inf
    assert [b.transit_days for b in ground.bands] == [1, 3, 4, 5]
    assert card.default_unit_weight_kg == 0.5


def test_rate_card_round_trips_through_toml(tmp_path):
    from dom_engine.app.config import rate_card_to_toml

    path = tmp_path / "rates.toml"
    path.write_text(rate_card_to_toml(us_network_rate_card()))
    assert load_rate_card(path) == us_network_rate_card()


def test_rate_card_errors_name_the_key(tmp_path):
    path = tmp_path / "rates.toml"
    path.write_text('[[services]]\nname = "g"\n[[services.bands]]\nper_package = -1.0\n')
    with pytest.raises(ConfigError, match="services\\['g'\\].bands"):
        load_rate_card(path)
    path.write_text('[[services]]\nname = "g"\n[[services.bands]]\nper_pakage = 1.0\n')
    with pytest.raises(ConfigError, match=r"services\[0\]\.bands\[0\]\.per_pakage"):
        load_rate_card(path)


def test_policies_file(tmp_path):
    path = tmp_path / "policies.toml"
    path.write_text('[policies.quick]\nmode = "fastest"\nmax_shipments = 2\n'
                    '[policies.quick.channel_node_kinds]\nb2b = ["warehouse"]\n'
                    '[policies.quick.min_stock_buffer]\nstore = 2\n')
    quick = load_policies(path)["quick"]
    assert quick.mode is Mode.FASTEST and quick.max_shipments == 2
    assert quick.channel_node_kinds == {"b2b": frozenset({"warehouse"})}
    assert quick.min_stock_buffer == {"store": 2}
    path.write_text('[policies.quick.channel_node_kinds]\nb2b = ["depot"]\n')
    with pytest.raises(ConfigError, match=r"policies\.quick\.channel_node_kinds\.b2b"):
        load_policies(path)
