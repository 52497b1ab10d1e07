"""Returns in the what-if simulation (simulation/returns.py): units conserved with restocks, the
drawn share and pairing across scenarios, the returns centre rule against the optimizer, restocked
units sellable only once they have travelled and been processed, and a closed centre."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dom_engine.app.returns_config import ReturnsConfig
from dom_engine.cli import main
from dom_engine.domain import ConfigError, Destination, Line, Order, OrderOptions, PlanStatus
from dom_engine.domain.returns import Condition, RecoveryValues, ReturnSite
from dom_engine.simulation import load_scenarios, simulate
from dom_engine.simulation.replay import replay
from dom_engine.simulation.return_spec import ReturnsSpec
from dom_engine.simulation.returns import UNROUTED, return_kpis
from dom_engine.simulation.scenarios import Scenario
from dom_engine.simulation.simulate import prepare
from dom_engine.simulation.world import Stock, build_world
from dom_engine.testing import FIXED_NOW, banded_rate_card, random_network

from .test_replay import POLICIES, SKUS, _base, _stream

RETURNS = ReturnsSpec(rate=0.3, delay_days=(1.0, 6.0), dropoff_radius_km=400.0)   # random networks are sparse


def _world(scenario: Scenario, seed: int = 0, depth: int = 4):
    network, stock = _base(seed, depth=depth)
    return build_world(scenario, network, stock, banded_rate_card(), POLICIES)


@pytest.mark.parametrize("mode", ["online", "wave", "nearest"])
@pytest.mark.parametrize("seed", [1, 2])
def test_units_are_conserved_with_restocked_returns(mode, seed):
    world = _world(Scenario("r", mode=mode, returns=RETURNS), seed)
    run = replay(world, _stream(seed, 150, days=6), time_budget_ms=200)
    assert (run.start.on_hand + run.received - run.shipped == run.end_on_hand).all()
    assert run.returns and all(r.status == PlanStatus.OPTIMAL.name for r in run.returns)
    # every restocked unit reached the stock (the flow is drained after the last order) and only those
    assert run.received.sum() == sum(r.units_restocked for r in run.returns) > 0
    assert sum(r.units for r in run.returns) <= run.shipped.sum()


def test_the_share_returned_and_their_conditions_follow_the_spec():
    spec = ReturnsSpec(rate=0.25, by_sku={"S0": 0.9, "S1": 0.0}, delay_days=(2.0, 2.0))
    world = _world(Scenario("r", returns=spec), 7, depth=60)
    orders = _stream(7, 600, days=5)
    run = replay(world, orders, time_budget_ms=200)
    col = {sku: j for j, sku in enumerate(SKUS)}
    shipped = run.shipped.sum(axis=0)
    back = run.received.sum(axis=0)      # restocked only: new and opened units (60 % + 30 %)
    assert back[col["S1"]] == 0 and back[col["S0"]] >= 0.9 * 0.9 * shipped[col["S0"]] - 4 * np.sqrt(
        shipped[col["S0"]])
    others = [col[s] for s in SKUS if s not in ("S0", "S1")]
    units = sum(r.units for r in run.returns)
    expected = 0.25 * shipped[others].sum() + 0.9 * shipped[col["S0"]]
    assert abs(units - expected) < 4 * np.sqrt(expected)
    restocked = sum(r.units_restocked for r in run.returns)
    assert abs(restocked / units - 0.9) < 0.05           # damaged units (10 %) are never restocked


def test_the_same_units_come_back_whatever_the_routing_and_the_centre_costs_more():
    orders = _stream(3, 300, days=6)
    optimised = replay(_world(Scenario("o", returns=RETURNS), 3, depth=60), orders, 200)
    centre_world = _world(Scenario("c", returns=replace(RETURNS, routing="centre")), 3, depth=60)
    centre = centre_world.scenario.returns.centre
    to_centre = replay(centre_world, orders, 200)
    assert all(o.units_shipped == o.units_ordered for o in optimised.outcomes)    # ample stock: paired
    a = {r.return_id: r for r in optimised.returns}
    b = {r.return_id: r for r in to_centre.returns}
    assert a.keys() == b.keys() and len(a) > 50
    for rid, r in a.items():
        assert (r.units, r.day) == (b[rid].units, b[rid].day)
        assert b[rid].sites == centre and b[rid].dropoff_units == 0
        assert r.net_cost <= b[rid].net_cost + 1e-9          # the optimizer may also pick the centre
    assert sum(r.net_cost for r in a.values()) < sum(r.net_cost for r in b.values())
    ka, kb = return_kpis(a.values(), 0.0), return_kpis(b.values(), 0.0)
    assert ka["units_returned"] == kb["units_returned"]
    assert kb["mean_days_to_restock"] >= 1 + RETURNS.processing_days        # by carrier: a day at least
    assert ka["dropoff_share"] > 0 and kb["dropoff_share"] == 0


def _scarce_world(stock_units: int, returns: ReturnsSpec):
    rng = np.random.default_rng(11)
    network = random_network(rng, 6)
    on_hand = np.zeros((6, len(SKUS)), dtype=np.int64)
    on_hand[0, 0] = stock_units            # DC000 holds the only unit of S0
    return build_world(Scenario("r", returns=returns), network, Stock(SKUS, on_hand, np.zeros_like(on_hand)),
                       banded_rate_card(), POLICIES)


def _order(k: int, at, world) -> Order:
    node = world.network.nodes[0]
    return Order(f"O-{k}", (Line("1", "S0", 1),), Destination(node.latitude + 0.3, node.longitude + 0.3),
                 options=OrderOptions(allow_backorder=False), created_at=at)


@pytest.mark.parametrize("gap_days, served", [(1, False), (30, True)])
def test_a_restocked_unit_sells_again_only_once_it_has_arrived_and_been_processed(gap_days, served):
    returns = ReturnsSpec(rate=1.0, delay_days=(0.0, 0.0), processing_days=5.0,
                          conditions={Condition.NEW: 1.0, Condition.OPENED: 0.0, Condition.DAMAGED: 0.0})
    world = _scarce_world(1, returns)
    first = _order(1, FIXED_NOW, world)
    second = _order(2, FIXED_NOW + timedelta(days=gap_days), world)
    run = replay(world, [first, second], time_budget_ms=200)
    assert run.outcomes[0].units_shipped == 1
    assert run.outcomes[1].units_shipped == (1 if served else 0)
    [back] = [r for r in run.returns if r.order_id == "O-1"]
    assert back.units == back.units_restocked == 1
    assert back.restock_unit_days >= 5.0                      # processing, plus any transit


def test_returns_to_a_closed_centre_are_left_unrouted():
    network, stock = _base(5, depth=30)
    closes = (FIXED_NOW + timedelta(days=3)).date()
    spec = replace(RETURNS, routing="centre", centre="DC000", delay_days=(0.0, 1.0))
    world = build_world(Scenario("c", close=("DC000",), close_from=closes, returns=spec), network, stock,
                        banded_rate_card(), POLICIES)
    run = replay(world, _stream(5, 200, days=6), time_budget_ms=200)
    unrouted = [r for r in run.returns if r.status == UNROUTED]
    routed = [r for r in run.returns if r.status != UNROUTED]
    assert unrouted and routed
    assert all(r.day >= closes.isoformat() for r in unrouted)
    assert all(r.day < closes.isoformat() for r in routed)
    assert all(r.units_restocked == 0 and r.net_cost == 0 for r in unrouted)
    assert return_kpis(run.returns, 0.0)["returns_unrouted"] == len(unrouted)


def test_the_default_centre_is_a_warehouse_taking_every_condition():
    world = _world(Scenario("c", returns=replace(RETURNS, routing="centre")), 2)
    centre = world.scenario.returns.centre
    assert centre is not None and centre.startswith("DC")
    run = replay(world, _stream(2, 80, days=6), time_budget_ms=200)
    assert {r.sites for r in run.returns} == {centre}


def test_draws_are_deterministic():
    world = _world(Scenario("r", returns=RETURNS), 4)
    orders = _stream(4, 120, days=6)
    assert replay(world, orders, 200).returns == replay(world, orders, 200).returns


DEMO = """
[base]
seed = 2
replications = {reps}
[base.demand]
orders = 300
days = 10
{base_returns}
[scenarios.to_centre.returns]
routing = "centre"
centre = "ONT6"
rate = 0.15
"""


def _spec(tmp_path, base_returns: str = "[base.returns]\nrate = 0.15\ndelay_days = [1, 4]", reps: int = 2,
          text: str = DEMO):
    path = tmp_path / "whatif.toml"
    path.write_text(text.format(reps=reps, base_returns=base_returns))
    return load_scenarios(path)


def test_simulate_compares_the_optimizer_with_the_returns_centre_on_the_same_returns(tmp_path):
    runs: list = []
    res = simulate(_spec(tmp_path), keep_runs=runs)
    for run in runs:
        assert (run.start.on_hand + run.received - run.shipped == run.end_on_hand).all()
    base, centre = res.kpis["base"], res.kpis["to_centre"]
    for b, c in zip(base, centre, strict=True):
        assert b["units_returned"] == c["units_returned"] > 0          # the same units on each replication
        assert b["return_net_cost"] < c["return_net_cost"]
        assert b["mean_days_to_restock"] < c["mean_days_to_restock"]
        for k in (b, c):
            assert k["cost_with_returns"] == pytest.approx(k["cost_with_unserved"] + k["return_net_cost"])
    delta = {d.kpi: d for d in res.deltas}["return_net_cost"]
    assert delta.delta > 0 and delta.low <= delta.delta <= delta.high


def test_a_base_without_returns_has_zero_return_kpis_beside_a_scenario_with_them(tmp_path):
    res = simulate(_spec(tmp_path, base_returns="", reps=1))
    assert res.kpis["base"][0]["units_returned"] == 0 and res.kpis["base"][0]["cost_with_returns"] == (
        res.kpis["base"][0]["cost_with_unserved"])
    assert res.kpis["to_centre"][0]["units_returned"] > 0
    assert "units_returned" not in simulate(_spec(tmp_path, base_returns="", reps=1, text=DEMO.split(
        "[scenarios.to_centre.returns]")[0] + "[scenarios.same]\nrates_scale = 1.0\n")).kpis["base"][0]


@pytest.mark.parametrize("returns, field", [
    ("[base.returns]\ncentre = \"NOPE\"\nrouting = \"centre\"", "base.returns.centre"),
    ("[base.returns]\nby_sku = { NOPE = 0.5 }", "base.returns.by_sku.NOPE"),
    ("[base.returns]\nrouting = \"centre\"\ncentre = \"ST-NEW-YORK\"", "base.returns.centre"),  # no damaged
])
def test_returns_naming_what_the_base_lacks_are_refused_naming_the_key(tmp_path, returns, field):
    with pytest.raises(ConfigError) as err:
        prepare(_spec(tmp_path, base_returns=returns))
    assert err.value.field == field


def test_a_condition_no_return_site_takes_is_refused_up_front():
    network, stock = _base(1)
    only_new = ReturnsConfig(sites=(ReturnSite("DC000", frozenset({Condition.NEW})),))
    with pytest.raises(ConfigError) as err:
        build_world(Scenario("r", returns=RETURNS), network, stock, banded_rate_card(), POLICIES, only_new)
    assert err.value.field == "scenarios.r.returns.conditions" and "damaged" in err.value.message
    news = replace(RETURNS, conditions={Condition.NEW: 1.0, Condition.OPENED: 0.0, Condition.DAMAGED: 0.0})
    world = build_world(Scenario("r", returns=news), network, stock, banded_rate_card(), POLICIES, only_new)
    run = replay(world, _stream(1, 60, days=4), time_budget_ms=200)
    assert run.returns and {r.sites for r in run.returns} == {"DC000"}


def test_the_example_returns_file_runs():
    """examples/whatif_returns.toml on fewer orders: the centre rule costs more per returned unit."""
    spec = load_scenarios(Path(__file__).resolve().parents[2] / "examples" / "whatif_returns.toml")
    res = simulate(replace(spec, demand=replace(spec.demand, orders=200, days=5)), replications=1)
    base, centre = res.kpis["base"][0], res.kpis["returns_centre"][0]
    assert base["units_returned"] == centre["units_returned"] > 0
    assert base["return_cost_per_unit"] < centre["return_cost_per_unit"]


def test_dom_simulate_writes_one_row_per_return_of_the_first_replication(tmp_path, capsys):
    spec_path = tmp_path / "whatif.toml"
    spec_path.write_text(DEMO.format(reps=2, base_returns="[base.returns]\nrate = 0.15\ndelay_days = [1, 4]"))
    out = tmp_path / "out"
    assert main(["simulate", str(spec_path), "--out", str(out)]) == 0
    assert "return_cost_per_unit" in capsys.readouterr().out
    rows = pq.read_table(out / "returns.parquet").to_pylist()
    summary = json.loads((out / "summary.json").read_text())
    first = simulate(load_scenarios(spec_path), replications=1).kpis
    for name in ("base", "to_centre"):
        mine = [r for r in rows if r["scenario"] == name]
        assert sum(r["units"] for r in mine) == first[name][0]["units_returned"] > 0
        assert sum(r["net_cost"] for r in mine) == pytest.approx(first[name][0]["return_net_cost"])
        assert name in summary["kpis"] and "units_restocked" in summary["kpis"][name]
    assert {r["sites"] for r in rows if r["scenario"] == "to_centre"} == {"ONT6"}


def test_shortage_credit_steers_the_router_but_is_not_counted_as_money():
    """With every site short of every SKU, each restocked unit carries the bonus in the router's
    objective; the outcome's recovery and net cost are money, the bonus is its shortage_credit."""
    network, stock = _base(6, depth=30)
    short = ReturnsConfig(recovery=RecoveryValues(short_below=10**6, short_bonus=7.0))
    world = build_world(Scenario("r", returns=RETURNS), network, stock, banded_rate_card(), POLICIES, short)
    run = replay(world, _stream(6, 150, days=6), time_budget_ms=200)
    assert sum(r.units_restocked for r in run.returns) > 0
    for r in run.returns:
        assert r.shortage_credit == pytest.approx(7.0 * r.units_restocked)
        assert r.net_cost == pytest.approx(r.shipping_cost + r.handling_cost - r.recovery_value)
    kpis = return_kpis(run.returns, 0.0)
    assert kpis["return_shortage_credit"] == pytest.approx(7.0 * kpis["units_restocked"])


def test_each_channel_row_carries_the_returns_of_its_orders(tmp_path):
    """[base.returns] by_channel: marketplace orders come back more often, and the by-channel
    table splits the return KPIs along the orders' channels (summing to the run's)."""
    spec = _spec(tmp_path, base_returns="[base.returns]\nrate = 0.05\nby_channel = { marketplace = 0.6 }\n"
                                        "delay_days = [1, 4]", reps=1)
    res = simulate(spec)
    for name in res.scenarios:
        rows, run = res.by_channel[name], res.kpis[name][0]
        assert set(rows) == {"(none)", "marketplace"}
        for kpi in ("units_returned", "units_restocked", "return_net_cost"):
            assert sum(row[kpi] for row in rows.values()) == pytest.approx(run[kpi])
        web = 0.15 if name == "to_centre" else 0.05        # DEMO's to_centre sets its own rate
        for channel, rate in (("marketplace", 0.6), ("", web)):      # each channel at its own rate
            shipped = sum(o.units_shipped for o in res.outcomes[name] if o.channel == channel)
            back = rows[channel or "(none)"]["units_returned"]
            assert abs(back - rate * shipped) < 4 * np.sqrt(shipped * rate * (1 - rate)) + 1
    table = res.returns["base"].to_pylist()
    assert {r["channel"] for r in table} == {"", "marketplace"}
