"""Config: TOML parsing, environment overrides, errors naming the key, build_engine wiring."""

from __future__ import annotations

from pathlib import Path

import pytest

from dom_engine.app.bootstrap import build_engine, load_components
from dom_engine.app.config import EngineConfig, load_config
from dom_engine.domain import ConfigError, Limits, Mode
from dom_engine.io.demo import DEMO_SEED, demo_policies

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dom.toml"
    path.write_text(text)
    return path


def test_no_file_means_the_demo():
    config = load_config(None, env={})
    assert config.uses_demo and config.inventory is None and config.rates is None
    assert config.limits == Limits()
    assert set(config.policies) == set(demo_policies())
    assert config.server.address == "127.0.0.1:50051"


def test_example_config_is_complete():
    config = load_config(EXAMPLES / "dom.toml", env={})
    assert config.network == EXAMPLES / "network.toml"
    assert config.inventory == EXAMPLES / "inventory.csv"
    assert config.rates == EXAMPLES / "rates.toml"
    assert set(config.policies) == {"default", "fewest_shipments", "fastest", "green", "inventory_aware"}
    aware = config.policies["inventory_aware"]
    assert aware.inventory_aware and aware.opportunity_weight == 1.0
    assert config.opportunity.policy == "inventory_aware" and config.opportunity.max_age_s == 86_400
    assert config.policies["default"].max_shipments == 4
    marketplace = config.policies["default"].channel_node_kinds["marketplace"]
    assert marketplace == frozenset({"warehouse", "dropship"})
    assert config.policies["green"].weights.co2e_price == 0.5
    assert config.policies["fastest"].mode is Mode.FASTEST
    assert config.limits.time_budget_ms == 50.0
    parts = load_components(config)
    assert len(parts.network) == 7 and len(parts.store.skus) == 8


def test_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "dom.toml"
    path.write_text('[data]\nnetwork = "n.toml"\ninventory = "../i.csv"\n')
    config = load_config(path, env={})
    assert config.network == tmp_path / "sub" / "n.toml"
    assert config.inventory == tmp_path / "sub" / ".." / "i.csv"


def test_environment_overrides_the_file(tmp_path):
    path = _write(tmp_path, '[limits]\ntime_budget_ms = 80\nmax_lines = 10\n'
                            '[server]\naddress = "0.0.0.0:1"\n')
    env = {"DOM_TIME_BUDGET_MS": "12.5", "DOM_SERVER_ADDRESS": "127.0.0.1:6000",
           "DOM_SERVER_MAX_WORKERS": "3", "DOM_DEFAULT_POLICY": "fastest", "DOM_DEMO_SEED": "11",
           "DOM_MAX_QUANTITY": ""}
    config = load_config(path, env=env)
    assert config.limits.time_budget_ms == 12.5
    assert config.limits.max_lines == 10            # untouched by env
    assert config.limits.max_quantity == Limits().max_quantity  # empty env value = unset
    assert config.server.address == "127.0.0.1:6000" and config.server.max_workers == 3
    assert config.default_policy == "fastest" and config.demo_seed == 11


def test_environment_paths_resolve_against_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(None, env={"DOM_NETWORK": "net.csv", "DOM_INVENTORY": "demo"})
    assert config.network == tmp_path / "net.csv" and config.inventory is None


@pytest.mark.parametrize(
    ("env", "key"),
    [({"DOM_TIME_BUDGET_MS": "fast"}, "DOM_TIME_BUDGET_MS"),
     ({"DOM_MAX_LINES": "1.5"}, "DOM_MAX_LINES"),
     ({"DOM_MAX_LINES": "0"}, "DOM_MAX_LINES (limits.max_lines)"),
     ({"DOM_SERVER_ADDRESS": "localhost"}, "DOM_SERVER_ADDRESS (server.address)"),
     ({"DOM_DEFAULT_POLICY": "nope"}, "DOM_DEFAULT_POLICY (routing.default_policy)")],
)
def test_bad_environment_values_name_the_variable_and_key(env, key):
    """A bad value from the environment names its variable (and the key it sets, when it parses)."""
    with pytest.raises(ConfigError) as info:
        load_config(None, env=env)
    assert info.value.field == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[limits]\nmax_lines = 'many'\n", "limits.max_lines"),
        ("[limits]\ntime_budget_ms = -5\n", "limits.time_budget_ms"),
        ("[limits]\nmax_line = 5\n", "limits.max_line"),
        ("[serverr]\n", "serverr"),
        ("[server]\nmax_workers = 0\n", "server.max_workers"),
        ("[server]\naddress = 'host:port'\n", "server.address"),
        ("[data]\nnetwork = 'n.toml'\n", "data.inventory"),
        ("[data]\nnetwork = 3\n", "data.network"),
        ("[routing]\ndefault_policy = 'x'\n", "routing.default_policy"),
        ("[policies.a]\nmode = 'cheapest'\n", "policies.a.mode"),
        ("[policies.a.weights]\ncost_weight = 0\n", "weights.cost_weight"),
        ("[policies.a.penalties]\nper_unit = 'x'\n", "policies.a.penalties.per_unit"),
        ("[policies.a.min_stock_buffer]\nshop = 1\n", "policies.a.min_stock_buffer.shop"),
        ("[policies.default]\nmax_shipments = 0\n", "policies['default'].max_shipments"),
        ("limits = 3\n", "limits"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), env={})
    assert info.value.field == key


def test_invalid_toml_names_the_file(tmp_path):
    path = _write(tmp_path, "[limits\n")
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load_config(path, env={})
    assert info.value.field == str(path)


def test_inline_policies_replace_the_demo_profiles(tmp_path):
    text = "[policies.default]\n[policies.b2b]\nmode = 'fewest_shipments'\n"
    config = load_config(_write(tmp_path, text), env={})
    assert set(config.policies) == {"default", "b2b"}
    assert config.policies["b2b"].mode is Mode.FEWEST_SHIPMENTS


def test_synthetic_stock_for_a_file_network(tmp_path):
    path = _write(tmp_path, f'[data]\nnetwork = "{EXAMPLES / "network.toml"}"\ninventory = "demo"\n')
    parts = load_components(load_config(path, env={}))
    assert len(parts.network) == 7 and len(parts.store.skus) == 5000


def test_build_engine_wires_everything():
    engine = build_engine(load_config(EXAMPLES / "dom.toml", env={"DOM_TIME_BUDGET_MS": "7"}))
    assert engine.limits.time_budget_ms == 7
    assert engine.default_policy == "default"
    assert "TEE-BLK-M" in engine.store.known_skus()
    assert [s.name for s in engine.rate_card.services] == ["ground", "two_day", "overnight"]


def test_default_engine_config_is_the_demo():
    config = EngineConfig()
    assert config.uses_demo and config.demo_seed == DEMO_SEED
