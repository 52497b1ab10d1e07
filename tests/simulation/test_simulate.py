"""simulate(): scenarios against the base on the same replications (paired), intervals computed
from the paired differences, deterministic for a seed; `dom simulate` end to end."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats

from dom_engine.cli import main
from dom_engine.domain import ConfigError
from dom_engine.simulation import load_scenarios, simulate
from dom_engine.simulation.report import render_report

FILE = """
[base]
replications = {reps}
seed = 3
time_budget_ms = 100
[base.demand]
orders = 120
days = 2
seed = 4
[scenarios.same]
rates_scale = 1.0
[scenarios.rates_up]
rates_scale = 1.5
[scenarios.fewer]
demand_scale = 0.5
[scenarios.marketplace_only]
channels = ["marketplace"]
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "whatif.toml"
    path.write_text(FILE.format(reps=3))
    runs: list = []
    res = simulate(load_scenarios(path), keep_runs=runs)
    return res, runs, path


def test_kpi_tables_as_rows_for_notebooks(result):
    res, _, _ = result
    runs = res.rows()
    assert len(runs) == 5 * 3 and runs[0]["scenario"] == "base" and "total_cost" in runs[0]
    nodes = res.rows("node")
    assert {r["scenario"] for r in nodes} == set(res.scenarios) and all(r["shipments"] >= 1 for r in nodes)
    days = res.rows("day")
    assert sum(r["orders"] for r in days if r["scenario"] == "base") == res.kpis["base"][0]["orders"]
    with pytest.raises(ValueError, match="by must be one of"):
        res.rows("week")


def test_every_run_conserves_units(result):
    _, runs, _ = result
    assert len(runs) == 3 * 5
    for run in runs:
        assert (run.start.on_hand - run.end_on_hand == run.shipped).all()


def test_an_unchanged_scenario_is_the_base_on_every_replication(result):
    res, _, _ = result
    assert res.kpis["same"] == res.kpis["base"]
    same = [d for d in res.deltas if d.scenario == "same"]
    assert all(d.delta == 0 and d.low == 0 and d.high == 0 for d in same)


def test_deltas_are_paired_with_a_t_interval(result):
    res, _, _ = result
    d = next(d for d in res.deltas if d.scenario == "rates_up" and d.kpi == "shipping_cost")
    diffs = np.array([s["shipping_cost"] - b["shipping_cost"]
                      for s, b in zip(res.kpis["rates_up"], res.kpis["base"], strict=True)])
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / math.sqrt(3)
    assert d.delta == pytest.approx(diffs.mean()) and d.delta > 0
    assert (d.low, d.high) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    # the replications differ (resampled streams), so the interval is a real one
    assert len({round(k["total_cost"], 6) for k in res.kpis["base"]}) == 3


def test_demand_changes_apply_to_the_same_replication(result):
    res, _, _ = result
    for base, fewer in zip(res.kpis["base"], res.kpis["fewer"], strict=True):
        assert fewer["orders"] == round(base["orders"] * 0.5)
    assert all(0 < k["orders"] < 120 for k in res.kpis["marketplace_only"])
    assert res.outcomes["marketplace_only"] and all(o.channel == "marketplace"
                                                     for o in res.outcomes["marketplace_only"])


def test_the_same_seed_gives_the_same_result(result):
    res, _, path = result
    again = simulate(load_scenarios(path), replications=3)
    assert again.kpis == res.kpis
    assert res.meta["replications"] == 3 and len(res.meta["scenario_file_sha256"]) == 64


def test_dom_simulate_writes_every_output_and_prints_the_table(tmp_path, capsys):
    path = tmp_path / "whatif.toml"
    path.write_text(FILE.format(reps=2))
    out = tmp_path / "out"
    assert main(["simulate", str(path), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "rates_up" in table and "vs base" in table and "fill_rate" in table
    tables = [f"kpis{by}.{ext}" for by in ("", "_by_channel", "_by_day", "_by_node")
              for ext in ("csv", "parquet")]
    assert sorted(p.name for p in out.iterdir()) == sorted([*tables, "outcomes.parquet", "report.html",
                                                              "summary.json"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenarios"] == ["base", "same", "rates_up", "fewer", "marketplace_only"]
    assert summary["kpis"]["rates_up"]["total_cost"] > summary["kpis"]["base"]["total_cost"]
    with open(out / "kpis.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 5 * 2
    outcomes = pq.read_table(out / "outcomes.parquet").to_pydict()
    assert len(outcomes["order_id"]) == sum(len(v) for v in _result_outcomes(path).values())
    kpis = pq.read_table(out / "kpis.parquet").to_pydict()
    with open(out / "kpis.csv") as fh:
        assert kpis["total_cost"] == pytest.approx([float(r["total_cost"]) for r in csv.DictReader(fh)])
    by_node = pq.read_table(out / "kpis_by_node.parquet").to_pydict()
    assert set(by_node["scenario"]) == set(summary["scenarios"]) and min(by_node["shipments"]) >= 1
    by_channel = pq.read_table(out / "kpis_by_channel.parquet").to_pydict()
    assert set(by_channel["channel"]) == {"(none)", "marketplace"}


def _result_outcomes(path):
    return simulate(load_scenarios(path), replications=1).outcomes


def test_dom_simulate_refuses_an_output_folder_it_cannot_write_before_running(tmp_path, capsys):
    path = tmp_path / "whatif.toml"
    path.write_text(FILE.format(reps=1))
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert main(["simulate", str(path), "--out", str(taken)]) == 2
    assert "--out: " in capsys.readouterr().err and taken.read_text() == "a file"


def test_dom_simulate_names_a_bad_key_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "whatif.toml"
    path.write_text("[scenarios.close]\nclose = [\"NOT-A-NODE\"]\n")
    out = tmp_path / "out"
    assert main(["simulate", str(path), "--out", str(out)]) == 2
    assert "scenarios.close.close: unknown node 'NOT-A-NODE'" in capsys.readouterr().err
    assert not out.exists()


def test_the_example_file_runs():
    """examples/whatif.toml: every scenario is valid on the demo and changes something."""
    from dataclasses import replace
    from pathlib import Path

    spec = load_scenarios(Path(__file__).resolve().parents[2] / "examples" / "whatif.toml")
    small = replace(spec, demand=replace(spec.demand, orders=150, days=3))
    res = simulate(small, replications=1)
    assert res.scenarios == ("base", "close_ont6", "rates_up_8pct", "stores_stop_shipping",
                             "rebalance_east_west")
    for name in res.scenarios[1:]:
        assert res.kpis[name][0] != res.kpis["base"][0], name


def test_receipts_named_in_the_file_reach_every_scenario(tmp_path):
    (tmp_path / "receipts.csv").write_text("at,node_id,sku,units\n"
                                           "2026-03-02T12:00:00Z,ONT6,SKU-00001,40\n"
                                           "2026-03-03T00:00:00Z,AVP3,SKU-00002,25\n")
    path = tmp_path / "whatif.toml"
    path.write_text('[base]\nreceipts = "receipts.csv"\n[base.demand]\norders = 80\ndays = 2\n'
                    '[scenarios.rates_up]\nrates_scale = 1.2\n')
    runs: list = []
    simulate(load_scenarios(path), keep_runs=runs)
    assert len(runs) == 2
    for run in runs:
        assert run.received.sum() == 65
        assert (run.start.on_hand + run.received - run.end_on_hand == run.shipped).all()


def test_dates_outside_the_stream_are_named(tmp_path, capsys):
    """A closing date or a receipt past the stream would silently change nothing: both are
    refused, naming the scenario key or the receipts row, and nothing is written."""
    path = tmp_path / "whatif.toml"
    demand = '[base.demand]\norders = 60\ndays = 2\nstart = "2026-03-02"\n'
    path.write_text(demand + '[scenarios.late]\nclose = ["ONT6"]\nclose_from = "2026-05-01"\n')
    with pytest.raises(ConfigError) as err:
        simulate(load_scenarios(path))
    assert err.value.field == "scenarios.late.close_from" and "2026-03-02 to 2026-03-03" in err.value.message
    (tmp_path / "receipts.csv").write_text("at,node_id,sku,units\n2026-03-02T12:00:00Z,ONT6,SKU-00001,4\n"
                                           "2026-04-01T00:00:00Z,AVP3,SKU-00002,25\n")
    path.write_text('[base]\nreceipts = "receipts.csv"\n' + demand + '[scenarios.a]\nrates_scale = 2\n')
    out = tmp_path / "out"
    assert main(["simulate", str(path), "--out", str(out)]) == 2
    assert "receipts.csv line 3, column 'at'" in capsys.readouterr().err
    assert not out.exists()


def test_a_stream_with_a_repeated_order_id_is_refused(tmp_path):
    """Holds are per order id: a repeated id would silently get the first order's plan."""
    from dataclasses import replace

    from dom_engine.simulation.demand import generated_stream
    from dom_engine.simulation.scenarios import Demand

    orders = generated_stream(Demand(orders=3, days=1))
    orders[2] = replace(orders[2], order_id=orders[0].order_id)
    path = tmp_path / "whatif.toml"
    path.write_text('[scenarios.a]\nrates_scale = 2\n')
    with pytest.raises(ConfigError) as err:
        simulate(load_scenarios(path), orders=orders)
    assert err.value.field == "base.orders" and "orders 1 and 3" in err.value.message


HINDSIGHT = """
[base]
hindsight = true
batch_budget_ms = 500
time_budget_ms = 100
[base.demand]
orders = 150
days = 1
seed = 9
[scenarios.waves]
mode = "wave"
wave_minutes = 120
[scenarios.stock_down]
stock_scale = 0.2
"""


def test_hindsight_adds_regret_kpis_and_is_never_dearer_over_one_day(tmp_path):
    """With `hindsight = true` each run is also routed by the day's clairvoyant batch plan: regret is
    the run's cost less that yardstick's, never negative over a single day."""
    path = tmp_path / "whatif.toml"
    path.write_text(HINDSIGHT)
    seen: set[str] = set()
    res = simulate(load_scenarios(path), progress=lambda name, r, done, total: seen.add(name))
    for name in res.scenarios:
        run = res.kpis[name][0]
        assert run["regret"] == pytest.approx(run["total_cost"] - run["hindsight_cost"])
        assert run["regret"] >= -1e-6 and run["hindsight_cost"] > 0
    assert "base (hindsight)" in seen and "waves (hindsight)" in seen
    for name in res.scenarios:        # day by day too (one day here: the run's regret)
        (day,) = res.by_day[name].values()
        assert day["regret"] == pytest.approx(res.kpis[name][0]["regret"])
    assert "(hindsight)" in render_report(res)
