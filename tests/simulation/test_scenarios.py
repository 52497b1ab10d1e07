"""Scenario files are checked up front; every error names the scenario and the key."""

from __future__ import annotations

from datetime import date

import pytest

from dom_engine.domain import ConfigError
from dom_engine.simulation import load_scenarios

GOOD = """
[base]
replications = 3
seed = 5
[base.demand]
orders = 50
days = 2
start = "2026-03-02"
[scenarios.close]
close = ["ONT6"]
close_from = "2026-03-03"
[scenarios.rates]
rates_scale = 1.08
rates_scale_services = { ground = 1.1 }
[scenarios.policy]
max_shipments = 2
channel_node_kinds = { marketplace = ["warehouse", "dropship"] }
min_stock_buffer = { store = 2 }
[scenarios.stock]
stock_scale = 0.9
stock_move = [{ from = "ONT6", to = "AVP3", share = 0.2 }]
capacity = { AVP3 = 100 }
[scenarios.demand]
demand_scale = 1.3
channels = ["marketplace"]
mode = "nearest"
"""


def _load(tmp_path, text):
    path = tmp_path / "whatif.toml"
    path.write_text(text)
    return load_scenarios(path)


def test_a_full_file_parses(tmp_path):
    spec = _load(tmp_path, GOOD)
    assert (spec.replications, spec.seed, spec.demand.orders, spec.demand.days) == (3, 5, 50, 2)
    by_name = {s.name: s for s in spec.scenarios}
    assert list(by_name) == ["close", "rates", "policy", "stock", "demand"]
    assert by_name["close"].close == ("ONT6",) and by_name["close"].close_from == date(2026, 3, 3)
    assert by_name["rates"].rates_scale_services == {"ground": 1.1}
    assert by_name["policy"].channel_node_kinds == {"marketplace": frozenset({"warehouse", "dropship"})}
    assert by_name["policy"].min_stock_buffer == {"store": 2}
    assert by_name["stock"].stock_moves[0].share == 0.2 and by_name["stock"].capacity == {"AVP3": 100}
    assert by_name["demand"].channels == ("marketplace",) and by_name["demand"].mode == "nearest"
    assert spec.config is None and spec.orders is None    # the demo and its generated demand


@pytest.mark.parametrize(("text", "field"), [
    ("[scenarios.a]\nclos = []\n", "scenarios.a.clos"),
    ("[scenarios.a]\nmode = \"random\"\n", "scenarios.a.mode"),
    ("[scenarios.a]\nrates_scale = -1.0\n", "scenarios.a.rates_scale"),
    ("[scenarios.a]\nrates_scale = 0\n", "scenarios.a.rates_scale"),
    ("[scenarios.a]\nstock_scale = -0.5\n", "scenarios.a.stock_scale"),
    ("[scenarios.a]\nclose_from = \"2026-03-03\"\n", "scenarios.a.close_from"),
    ("[scenarios.a]\nclose = [\"X\"]\nclose_from = \"March\"\n", "scenarios.a.close_from"),
    ("[scenarios.a]\nmax_shipments = 0\n", "scenarios.a.max_shipments"),
    ("[scenarios.a]\nstock_move = [{ from = \"A\", to = \"B\", share = 1.5 }]\n",
     "scenarios.a.stock_move[0].share"),
    ("[scenarios.a]\nstock_move = [{ from = \"A\", to = \"B\", shares = 0.5 }]\n",
     "scenarios.a.stock_move[0].shares"),
    ("[scenarios.a]\nmin_stock_buffer = { depot = 1 }\n", "scenarios.a.min_stock_buffer.depot"),
    ("[scenarios.a]\nchannel_node_kinds = { web = [\"moon\"] }\n", "scenarios.a.channel_node_kinds.web"),
    ("[scenarios.a]\ncapacity = { ONT6 = -1 }\n", "scenarios.a.capacity.ONT6"),
    ("[scenarios.base]\nrates_scale = 1.1\n", "scenarios.base"),
    ("[base]\nreplications = 0\n[scenarios.a]\n", "base.replications"),
    ("[base]\nrepetitions = 2\n[scenarios.a]\n", "base.repetitions"),
    ("[base.demand]\norders = 0\n[scenarios.a]\n", "base.demand.orders"),
    ("[base]\n", "scenarios"),
    ("[base]\nreplications = 1001\n[scenarios.a]\n", "base.replications"),
    ("[base]\nseed = -1\n[scenarios.a]\n", "base.seed"),
    ("[base]\ntime_budget_ms = 1e9\n[scenarios.a]\n", "base.time_budget_ms"),
    ("[base.demand]\norders = 100000000\n[scenarios.a]\n", "base.demand.orders"),
    ("[base.demand]\ndays = 100000\n[scenarios.a]\n", "base.demand.days"),
    ("[base.demand]\nseed = -3\n[scenarios.a]\n", "base.demand.seed"),
    ("[simulation]\njobs = 10000\n[scenarios.a]\n", "simulation.jobs"),
    ("[scenarios.a]\ndemand_scale = 1000.0\n", "scenarios.a.demand_scale"),
    ("[simulation]\nexecutor = \"spark\"\n[scenarios.a]\n", "simulation.executor"),
    ("[simulation]\njobs = 0\n[scenarios.a]\n", "simulation.jobs"),
    ("[simulation]\nworkers = 2\n[scenarios.a]\n", "simulation.workers"),
    ("[scenarios.a]\nmode = \"wave\"\nwave_minutes = 0\n", "scenarios.a.wave_minutes"),
    ("[scenarios.a]\nwave_minutes = 30\n", "scenarios.a.wave_minutes"),
    ("[base]\nbatch_budget_ms = 0\n[scenarios.a]\n", "base.batch_budget_ms"),
    ("[base]\nhindsight = \"yes\"\n[scenarios.a]\n", "base.hindsight"),
    ("[scenario.a]\n", "scenario"),
    ("[base]\nreplenish_every_days = -1\n[scenarios.a]\n", "base.replenish_every_days"),
    ("[base]\nreplenish_every_days = 400\n[scenarios.a]\n", "base.replenish_every_days"),
    ("[scenarios.a]\nreplenish_every_days = 1.5\n", "scenarios.a.replenish_every_days"),
    ("[base.returns]\nrate = 1.5\n[scenarios.a]\n", "base.returns.rate"),
    ("[base.returns]\nrat = 0.1\n[scenarios.a]\n", "base.returns.rat"),
    ("[base.returns]\ndelay_days = [5, 2]\n[scenarios.a]\n", "base.returns.delay_days"),
    ("[base.returns]\ndelay_days = 400\n[scenarios.a]\n", "base.returns.delay_days"),
    ("[base.returns]\ndelay_days = [1, 2, 3]\n[scenarios.a]\n", "base.returns.delay_days"),
    ("[base.returns]\nconditions = { new = 0.5, opened = 0.2 }\n[scenarios.a]\n", "base.returns.conditions"),
    ("[base.returns]\nconditions = { broken = 1.0 }\n[scenarios.a]\n", "base.returns.conditions.broken"),
    ("[base.returns]\nby_channel = { web = -0.1 }\n[scenarios.a]\n", "base.returns.by_channel.web"),
    ("[base.returns]\nprocessing_days = 100\n[scenarios.a]\n", "base.returns.processing_days"),
    ("[base.returns]\ndropoff = \"yes\"\n[scenarios.a]\n", "base.returns.dropoff"),
    ("[base.returns]\n[scenarios.a.returns]\nrouting = \"nearest\"\n", "scenarios.a.returns.routing"),
    ("[scenarios.a.returns]\nby_sku = { X = 2 }\n", "scenarios.a.returns.by_sku.X"),
])
def test_bad_files_name_the_scenario_and_key(tmp_path, text, field):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert err.value.field == field


def test_replenishment_is_the_bases_unless_a_scenario_changes_it(tmp_path):
    spec = _load(tmp_path, "[base]\nreplenish_every_days = 7\n[scenarios.a]\nrates_scale = 1.1\n"
                           "[scenarios.daily]\nreplenish_every_days = 1\n"
                           "[scenarios.never]\nreplenish_every_days = 0\n")
    assert spec.base.replenish_every_days == 7
    assert [s.replenish_every_days for s in spec.scenarios] == [7, 1, 0]
    assert _load(tmp_path, "[scenarios.a]\n").base.replenish_every_days == 0


def test_a_scenario_changes_the_bases_returns_key_by_key(tmp_path):
    spec = _load(tmp_path, "[base.returns]\nrate = 0.2\ndelay_days = 5\nby_channel = { web = 0.3 }\n"
                           "[scenarios.same]\nrates_scale = 1.1\n"
                           "[scenarios.to_centre.returns]\nrouting = \"center\"\ncentre = \"ONT6\"\n")
    same, to_centre = spec.scenarios
    assert spec.base.returns == same.returns
    assert spec.base.returns.routing == "optimised" and spec.base.returns.delay_days == (5.0, 5.0)
    assert to_centre.returns.routing == "centre" and to_centre.returns.centre == "ONT6"
    assert (to_centre.returns.rate, to_centre.returns.by_channel) == (0.2, {"web": 0.3})
    assert to_centre.returns.rate_of("SKU-1", "web") == 0.3 and to_centre.returns.rate_of("SKU-1", "") == 0.2
    assert _load(tmp_path, "[scenarios.a]\n").base.returns is None
