"""Results stream out of a run: the replay hands its outcomes to a sink in batches and keeps none,
the KPI tally over the batches equals the KPIs of the whole list, and simulate() spools the first
replication's outcomes to one Parquet file that reads back as the replay's outcomes and is removed
with the result."""

from __future__ import annotations

import gc
import math

import pytest

from dom_engine.simulation import load_scenarios, simulate
from dom_engine.simulation.kpis import RunTally, kpis, kpis_by_channel, kpis_by_day
from dom_engine.simulation.replay import _Outcomes, replay
from dom_engine.simulation.scenarios import Scenario

from .test_fast_replay import _stream, _world

FILE = """
[base]
replications = 2
seed = 4
time_budget_ms = 200
[base.demand]
orders = 150
days = 2
seed = 8
[scenarios.rates_up]
rates_scale = 1.2
"""


@pytest.mark.parametrize("fast", [True, False])
def test_a_sink_gets_every_outcome_in_batches_and_the_run_keeps_none(monkeypatch, fast):
    monkeypatch.setattr(_Outcomes, "FLUSH_OUTCOMES", 40)
    world = _world(3, Scenario("base"))
    orders = _stream(3, 700, 2, [n.node_id for n in world.network.nodes])
    whole = replay(world, orders, time_budget_ms=500, fast=fast)
    batches: list[list] = []
    streamed = replay(world, orders, time_budget_ms=500, fast=fast, sink=lambda b: batches.append(list(b)))
    # Flushed at the end of a step (an order, or a chunk of the fast path) once 40 are due.
    assert streamed.outcomes == () and len(batches) >= 700 // 256
    assert all(len(b) >= 40 for b in batches[:-1])
    assert repr([o for b in batches for o in b]) == repr(list(whole.outcomes))
    tally = RunTally()
    for batch in batches:
        tally.add(batch)
    assert tally.kpis() == kpis(whole.outcomes)
    assert tally.by_day() == kpis_by_day(whole.outcomes)
    assert tally.by_channel() == kpis_by_channel(whole.outcomes)
    assert (streamed.shipped == whole.shipped).all() and streamed.stockouts == whole.stockouts


def test_the_spooled_outcomes_read_back_as_the_replays(tmp_path):
    path = tmp_path / "whatif.toml"
    path.write_text(FILE)
    runs: list = []
    result = simulate(load_scenarios(path), keep_runs=runs)
    first = {run_name: run for run_name, run in zip(result.scenarios, runs[:2], strict=True)}
    for name in result.scenarios:
        table = result.outcomes.table(name)
        assert table.num_rows == len(first[name].outcomes) == result.kpis[name][0]["orders"]
        assert set(table.column("scenario").to_pylist()) == {name}
        spooled, kept = result.outcomes[name], first[name].outcomes
        assert [o.order_id for o in spooled] == [o.order_id for o in kept]
        for a, b in zip(spooled, kept, strict=True):
            assert a.total_cost == b.total_cost and a.nodes == b.nodes and a.status == b.status
            both_nan = math.isnan(a.delivery_days) and math.isnan(b.delivery_days)
            assert a.delivery_days == b.delivery_days or both_nan
        assert sum(result.shipment_counts[name]) == table.num_rows
    assert result.outcomes.table().num_rows == sum(result.kpis[n][0]["orders"] for n in result.scenarios)
    spool = result.outcomes.path
    assert spool.exists()
    del result, runs, first
    gc.collect()
    assert not spool.exists() and not spool.parent.exists()
