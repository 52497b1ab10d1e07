"""Config of batch allocation: the [batch] section, its environment overrides, [server]
max_message_mb, and nodes' daily_unit_capacity in network files and the demo export."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dom_engine.app.bootstrap import build_engine
from dom_engine.app.config import load_config
from dom_engine.domain import ConfigError, Network, Node, NodeKind
from dom_engine.domain.batch import BatchSettings, PriorityRule
from dom_engine.io.demo import export_demo
from dom_engine.io.tables import load_network

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _write(tmp_path: Path, text: str, name: str = "dom.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_batch_defaults_without_a_section():
    config = load_config(None, env={})
    assert config.batch == BatchSettings()
    assert config.server.max_message_mb == 64


def test_batch_section_is_parsed(tmp_path):
    text = ("[batch]\nmax_orders = 500\ntime_budget_ms = 2500\npriority_rule = 'weighted'\n"
            "points_per_day_waiting = 0.25\ndue_soon_days = 3\ndue_soon_points = 2\npenalty_per_point = 4.5\n"
            "[batch.tier_points]\ngold = 3\nsilver = 1.5\n")
    batch = load_config(_write(tmp_path, text), env={}).batch
    assert batch == BatchSettings(max_orders=500, time_budget_ms=2500.0, priority_rule=PriorityRule.WEIGHTED,
                                  tier_points={"gold": 3.0, "silver": 1.5}, points_per_day_waiting=0.25,
                                  due_soon_days=3, due_soon_points=2.0, penalty_per_point=4.5)


def test_pricing_executor_keys(tmp_path):
    text = "[batch]\nexecutor = 'ray'\npricing_workers = 3\nray_address = '10.1.2.3:6379'\n"
    batch = load_config(_write(tmp_path, text), env={}).batch
    assert (batch.executor, batch.pricing_workers, batch.ray_address) == ("ray", 3, "10.1.2.3:6379")
    with pytest.raises(ConfigError, match=r"batch\.executor.*spark"):
        load_config(_write(tmp_path, "[batch]\nexecutor = 'spark'\n"), env={})
    with pytest.raises(ConfigError, match=r"batch\.pricing_workers"):
        load_config(_write(tmp_path, "[batch]\npricing_workers = -1\n"), env={})


def test_example_config_documents_and_sets_every_batch_key():
    config = load_config(EXAMPLES / "dom.toml", env={})
    assert config.batch.priority_rule is PriorityRule.STRICT
    assert config.batch.tier_points == {"gold": 2.0, "silver": 1.0}
    assert config.server.max_message_mb == 64
    text = (EXAMPLES / "dom.toml").read_text()
    doc = (Path(__file__).resolve().parents[2] / "dom_engine" / "app" / "config.py").read_text()
    for key in ("max_orders", "time_budget_ms", "priority_rule", "tier_points", "points_per_day_waiting",
                "due_soon_days", "due_soon_points", "penalty_per_point", "max_message_mb",
                "executor", "pricing_workers", "ray_address",
                "DOM_BATCH_MAX_ORDERS", "DOM_BATCH_TIME_BUDGET_MS"):
        assert key in text and key in doc, key


def test_environment_overrides_batch_settings(tmp_path):
    path = _write(tmp_path, "[batch]\nmax_orders = 500\ntime_budget_ms = 2500\n")
    env = {"DOM_BATCH_MAX_ORDERS": "20000", "DOM_BATCH_TIME_BUDGET_MS": "7500.5",
           "DOM_SERVER_MAX_MESSAGE_MB": "128"}
    config = load_config(path, env=env)
    assert config.batch.max_orders == 20000 and config.batch.time_budget_ms == 7500.5
    assert config.server.max_message_mb == 128
    assert load_config(path, env={"DOM_BATCH_MAX_ORDERS": ""}).batch.max_orders == 500  # empty = unset


def test_build_engine_wires_the_batch_settings(tmp_path):
    engine = build_engine(load_config(_write(tmp_path, "[batch]\nmax_orders = 9\n"), env={}))
    assert engine.batch.max_orders == 9


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[batch]\nmax_orders = 0\n", "batch.max_orders"),
        ("[batch]\nmax_orders = 'many'\n", "batch.max_orders"),
        ("[batch]\nmax_orders = 2.5\n", "batch.max_orders"),
        ("[batch]\ntime_budget_ms = -1\n", "batch.time_budget_ms"),
        ("[batch]\ntime_budget_ms = nan\n", "batch.time_budget_ms"),
        ("[batch]\npriority_rule = 'fifo'\n", "batch.priority_rule"),
        ("[batch]\npoints_per_day_waiting = -0.5\n", "batch.points_per_day_waiting"),
        ("[batch]\ndue_soon_days = -1\n", "batch.due_soon_days"),
        ("[batch]\ndue_soon_points = inf\n", "batch.due_soon_points"),
        ("[batch]\npenalty_per_point = true\n", "batch.penalty_per_point"),
        ("[batch.tier_points]\ngold = 'high'\n", "batch.tier_points.gold"),
        ("[batch.tier_points]\ngold = -2\n", "batch.tier_points.gold"),
        ("[batch]\ntier_points = 3\n", "batch.tier_points"),
        ("[batch]\nmax_order = 5\n", "batch.max_order"),
        ("batch = 1\n", "batch"),
        ("[server]\nmax_message_mb = 0\n", "server.max_message_mb"),
        ("[server]\nmax_message_mb = 4096\n", "server.max_message_mb"),
        ("[server]\nmax_message_mb = '64MB'\n", "server.max_message_mb"),
    ],
)
def test_bad_batch_config_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), env={})
    assert info.value.field == key


@pytest.mark.parametrize(
    ("env", "key"),
    [({"DOM_BATCH_MAX_ORDERS": "lots"}, "DOM_BATCH_MAX_ORDERS"),
     ({"DOM_BATCH_MAX_ORDERS": "0"}, "DOM_BATCH_MAX_ORDERS (batch.max_orders)"),
     ({"DOM_BATCH_TIME_BUDGET_MS": "soon"}, "DOM_BATCH_TIME_BUDGET_MS"),
     ({"DOM_BATCH_TIME_BUDGET_MS": "0"}, "DOM_BATCH_TIME_BUDGET_MS (batch.time_budget_ms)"),
     ({"DOM_SERVER_MAX_MESSAGE_MB": "0"}, "DOM_SERVER_MAX_MESSAGE_MB (server.max_message_mb)")],
)
def test_bad_batch_environment_names_the_variable_and_key(env, key):
    with pytest.raises(ConfigError) as info:
        load_config(None, env=env)
    assert info.value.field == key


# ----------------------------------------------------------------------------- unit capacity
TOML_NODE = "[[nodes]]\nnode_id = 'A'\nlatitude = 40.0\nlongitude = -75.0\n"


def test_daily_unit_capacity_from_toml_and_csv(tmp_path):
    net = load_network(EXAMPLES / "network.toml")
    assert net.nodes[net.index_of("ST-BOSTON")].daily_unit_capacity == 120
    assert net.nodes[net.index_of("DC-EDISON")].daily_unit_capacity is None
    caps = net.daily_unit_capacities
    assert caps[net.index_of("ST-BOSTON")] == 120 and math.isinf(caps[net.index_of("DC-EDISON")])
    csv_path = _write(tmp_path, "node_id,latitude,longitude,daily_unit_capacity\nA,40,-75,30\nB,41,-80,\n",
                      "nodes.csv")
    net = load_network(csv_path)
    assert [n.daily_unit_capacity for n in net.nodes] == [30, None]


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [("nodes.csv", "node_id,latitude,longitude,daily_unit_capacity\nA,40,-75,many\n",
      "nodes.csv line 2, column 'daily_unit_capacity'"),
     ("nodes.csv", "node_id,latitude,longitude,daily_unit_capacity\nA,40,-75,-3\n",
      "nodes.csv line 2 nodes['A'].daily_unit_capacity"),
     ("nodes.toml", TOML_NODE + "daily_unit_capacity = 2.5\n", "nodes.toml nodes[0].daily_unit_capacity"),
     ("nodes.toml", TOML_NODE + "daily_unit_capacity = -1\n",
      "nodes.toml nodes[0] nodes['A'].daily_unit_capacity")],
)
def test_bad_daily_unit_capacity_names_the_node_and_field(tmp_path, name, text, field):
    with pytest.raises(ConfigError) as info:
        load_network(_write(tmp_path, text, name))
    assert info.value.field == f"{tmp_path}/{field}"


def test_node_refuses_a_negative_unit_capacity():
    with pytest.raises(ConfigError) as info:
        Node("A", NodeKind.STORE, 40.0, -75.0, daily_unit_capacity=-1)
    assert info.value.field == "nodes['A'].daily_unit_capacity"
    zero = Network((Node("A", NodeKind.STORE, 40.0, -75.0, daily_unit_capacity=0),))
    assert zero.daily_unit_capacities.tolist() == [0.0]


def test_demo_export_writes_the_unit_capacity_column_and_reads_back(tmp_path):
    export_demo(tmp_path)
    header = (tmp_path / "nodes.csv").read_text().splitlines()[0].split(",")
    assert "daily_unit_capacity" in header
    net = load_network(tmp_path / "nodes.csv")
    assert len(net) == 100 and all(n.daily_unit_capacity is None for n in net.nodes)
