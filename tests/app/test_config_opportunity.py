"""[opportunity] and the inventory_aware policy mode in configuration files: defaults, values, and
errors that name the key."""

from __future__ import annotations

import pytest

from dom_engine.app.config import load_config
from dom_engine.domain import ConfigError, Mode


def _load(tmp_path, text: str):
    path = tmp_path / "dom.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_opportunity_section_and_policy_mode(tmp_path):
    config = _load(tmp_path, '[policies.default]\nmode = "inventory_aware"\nopportunity_weight = 0.5\n'
                             '[opportunity]\nforecast = "f.jsonl"\nhorizon_days = 3\nrefresh_every_s = 600\n')
    policy = config.policies["default"]
    assert policy.mode is Mode.INVENTORY_AWARE and policy.opportunity_weight == 0.5 and policy.inventory_aware
    assert config.opportunity.forecast == tmp_path / "f.jsonl"
    assert config.opportunity.horizon_days == 3 and config.opportunity.refresh_every_s == 600


@pytest.mark.parametrize("text, field", [
    ("[opportunity]\nhorizon_days = 0\n", "opportunity.horizon_days"),
    ("[opportunity]\nrefresh_every_s = -1\n", "opportunity.refresh_every_s"),
    ("[opportunity]\nrecent_orders = 0\n", "opportunity.recent_orders"),
    ("[opportunity]\npolicy = \"nope\"\n", "opportunity.policy"),
    ("[opportunity]\nhorizon = 3\n", "opportunity.horizon"),
    ("[policies.default]\nmode = \"inventory_aware\"\nopportunity_weight = -1\n", "opportunity_weight"),
    ("[policies.default]\nmode = \"myopic\"\n", "policies.default.mode"),
])
def test_bad_opportunity_settings_name_the_key(tmp_path, text, field):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert field in err.value.field


@pytest.mark.parametrize("zoning", ["grid", "grid:0", "grid:x", "zip", "grid:200"])
def test_bad_zoning_names_the_key(tmp_path, zoning):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, f'[opportunity]\nzoning = "{zoning}"\n')
    assert err.value.field == "opportunity.zoning"
