"""Scenario changes beyond the first slice: nodes refusing shipments by kind (re-routed as
RejectShipment), stock added, demand filtered by region and SKU, and the generator's weekly and
seasonal pattern."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from dom_engine.domain import ConfigError
from dom_engine.simulation.demand import day_weights, generated_stream, scenario_stream
from dom_engine.simulation.replay import replay
from dom_engine.simulation.scenarios import BandScale, Demand, Scenario, StockAdd
from dom_engine.simulation.world import build_world
from dom_engine.testing import FIXED_NOW, banded_rate_card, random_order

from .test_replay import POLICIES, SKUS, _base, _stream, _world
from .test_scenarios import _load


def _kinds(world):
    return {n.node_id: n.kind.value for n in world.network.nodes}


def test_a_kind_refusing_everything_is_routed_around():
    """The warehouse refuses every shipment: each order it was to serve is re-routed (as
    RejectShipment does) to the stores, so no warehouse ships, yet the orders are served."""
    world = _world(Scenario("refuse", reject_rate={"warehouse": 1.0}), 2, depth=6)
    orders = _stream(2, 120)
    base = replay(replace(world, scenario=Scenario("base")), orders, time_budget_ms=200)
    run = replay(world, orders, time_budget_ms=200)
    kinds = _kinds(world)
    warehouse_orders = [o for o in base.outcomes
                        if any(kinds[n] == "warehouse" for n in filter(None, o.nodes.split(";")))]
    assert warehouse_orders
    assert all(kinds[n] != "warehouse" for o in run.outcomes for n in filter(None, o.nodes.split(";")))
    assert sum(o.rejections for o in run.outcomes) >= len(warehouse_orders) // 2
    assert sum(o.units_shipped for o in run.outcomes) > 0.8 * sum(o.units_shipped for o in base.outcomes)
    assert (run.start.on_hand - run.end_on_hand == run.shipped).all()   # given-back units stay
    assert run.shipped.sum() == sum(o.units_shipped for o in run.outcomes)


def test_refusals_are_seeded_and_partial_rates_refuse_some():
    world = _world(Scenario("some", reject_rate={"store": 0.5, "warehouse": 0.2}), 3, depth=6)
    orders = _stream(3, 120)
    first = replay(world, orders, time_budget_ms=200, seed=4)
    again = replay(world, orders, time_budget_ms=200, seed=4)
    def key(run):
        return [(o.order_id, o.nodes, o.total_cost, o.rejections) for o in run.outcomes]

    assert key(first) == key(again)
    refused = sum(o.rejections for o in first.outcomes)
    shipments = sum(o.shipments for o in first.outcomes)
    assert 0 < refused < shipments + refused


def test_stock_add_changes_the_worlds_stock():
    network, stock = _base(1)
    world = _world(Scenario("add", stock_adds=(StockAdd(network.nodes[0].node_id, "S1", 7),
                                               StockAdd(network.nodes[1].node_id, None, -100))), 1)
    assert world.stock.on_hand[0, 1] == stock.on_hand[0, 1] + 7
    assert (world.stock.on_hand[1] == 0).all()
    assert (np.delete(world.stock.on_hand, [0, 1], axis=0) == np.delete(stock.on_hand, [0, 1], axis=0)).all()
    with pytest.raises(ConfigError) as err:
        _world(Scenario("bad", stock_adds=(StockAdd("NOPE", None, 1),)), 1)
    assert err.value.field == "scenarios.bad.stock_add[0].node"
    with pytest.raises(ConfigError) as err:
        _world(Scenario("bad", stock_adds=(StockAdd(network.nodes[0].node_id, "NOPE", 1),)), 1)
    assert err.value.field == "scenarios.bad.stock_add[0].sku"


def test_demand_filters_by_region_and_sku():
    stream = generated_stream(Demand(orders=400, days=3))
    regions = sorted({o.destination.region for o in stream})[:3]
    kept = scenario_stream(stream, Scenario("r", regions=tuple(regions)), 0, 0)
    assert kept and all(o.destination.region in regions for o in kept) and len(kept) < len(stream)
    sku = stream[0].lines[0].sku
    kept = scenario_stream(stream, Scenario("s", skus=(sku,)), 0, 0)
    assert kept and all(any(line.sku == sku for line in o.lines) for o in kept)
    with pytest.raises(ConfigError) as err:
        scenario_stream(stream, Scenario("none", regions=("ATLANTIS",)), 0, 0)
    assert err.value.field == "scenarios.none.regions"
    with pytest.raises(ConfigError) as err:
        _world(Scenario("unknown", skus=("NOT-A-SKU",)), 1)
    assert err.value.field == "scenarios.unknown.skus" and SKUS


def test_generated_demand_follows_the_weekly_and_seasonal_pattern():
    demand = Demand(orders=30_000, days=364, start=date(2026, 1, 5), seed=3)   # a Monday
    counts = np.bincount([(o.created_at.date() - demand.start).days for o in generated_stream(demand)],
                         minlength=demand.days)
    expected = day_weights(demand) * demand.orders
    # every weekday's total within 4 % of its expectation; Saturdays the lowest
    by_weekday = [counts[d::7].sum() for d in range(7)]
    assert by_weekday == pytest.approx([expected[d::7].sum() for d in range(7)], rel=0.04)
    assert int(np.argmin(by_weekday)) == 5
    december, june = counts[330:358].sum(), counts[150:178].sum()
    assert december > 1.6 * june          # 1.3 / 0.7 = 1.86 at the peak vs the trough
    flat = Demand(orders=5000, days=14, weekly=(1,) * 7, seasonality=0.0)
    assert day_weights(flat) == pytest.approx(np.full(14, 1 / 14))


@pytest.mark.parametrize(("text", "field"), [
    ("[scenarios.a]\nreject_rate = { depot = 0.1 }\n", "scenarios.a.reject_rate.depot"),
    ("[scenarios.a]\nreject_rate = { store = 1.5 }\n", "scenarios.a.reject_rate.store"),
    ("[scenarios.a]\nstock_add = [{ node = \"X\" }]\n", "scenarios.a.stock_add[0].units"),
    ("[scenarios.a]\nstock_add = [{ units = 3 }]\n", "scenarios.a.stock_add[0].node"),
    ("[scenarios.a]\nregions = [1]\n", "scenarios.a.regions"),
    ("[base.demand]\nweekly = [1, 2]\n[scenarios.a]\n", "base.demand.weekly"),
    ("[base.demand]\nweekly = [1, 1, 1, 1, 1, 1, \"x\"]\n[scenarios.a]\n", "base.demand.weekly"),
    ("[base.demand]\nseasonality = 1.0\n[scenarios.a]\n", "base.demand.seasonality"),
    ("[scenarios.a]\nmode = \"ranked\"\n", "scenarios.a.ranking"),
    ("[scenarios.a]\nranking = [\"X\"]\n", "scenarios.a.ranking"),
])
def test_bad_changes_are_named(tmp_path, text, field):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert err.value.field == field


def test_a_full_file_with_the_new_keys_parses(tmp_path):
    spec = _load(tmp_path, '[scenarios.a]\nreject_rate = { store = 0.1 }\nregions = ["CA"]\nskus = ["X"]\n'
                           'stock_add = [{ node = "N", sku = "X", units = -2 }]\n'
                           '[base.demand]\nweekly = [1, 1, 1, 1, 1, 0.5, 0.5]\nseasonality = 0\n')
    a = spec.scenarios[0]
    assert a.reject_rate == {"store": 0.1} and a.regions == ("CA",) and a.skus == ("X",)
    assert a.stock_adds == (StockAdd("N", "X", -2),)
    assert spec.demand.weekly[5] == 0.5 and spec.demand.seasonality == 0


def test_the_ranked_rule_ships_from_its_first_node_when_it_holds_the_order():
    """mode "ranked": an order the first-ranked node can ship whole ships from it alone, however
    far it is; the nearest rule picks by distance instead."""
    network, stock = _base(5, depth=6)
    checked = 0
    for order in _stream(5, 40):
        cols = [SKUS.index(line.sku) for line in order.lines]
        whole = [i for i in range(len(network)) if all(stock.on_hand[i, j] >= line.quantity
                                                       for j, line in zip(cols, order.lines, strict=True))]
        if len(whole) < 2:
            continue
        far = whole[-1]
        node_id = network.nodes[far].node_id
        ranked = _world(Scenario("ranked", mode="ranked", ranking=(node_id,)), 5, depth=6)
        assert replay(ranked, [order], time_budget_ms=200).outcomes[0].nodes == node_id
        checked += 1
    assert checked >= 5
    with pytest.raises(ConfigError) as err:
        _world(Scenario("bad", mode="ranked", ranking=("NOPE",)), 5)
    assert err.value.field == "scenarios.bad.ranking"


def test_rates_scale_bands_scales_one_band_of_one_service(tmp_path):
    network, stock = _base(6)
    card = banded_rate_card()
    service = card.services[0]
    assert len(service.bands) >= 2
    world = build_world(Scenario("b", rates_scale=2.0, rates_scale_bands=(BandScale(service.name, 1, 1.5),)),
                        network, stock, card, POLICIES)
    new = world.rate_card.services[0].bands
    assert new[0].per_package == pytest.approx(service.bands[0].per_package * 2.0)
    assert new[1].per_package == pytest.approx(service.bands[1].per_package * 3.0)
    assert new[1].max_distance == service.bands[1].max_distance
    past_last = BandScale(service.name, len(service.bands), 2.0)
    for scale, field in [(BandScale("teleport", 0, 2.0), "scenarios.x.rates_scale_bands[0].service"),
                         (past_last, "scenarios.x.rates_scale_bands[0].band")]:
        with pytest.raises(ConfigError) as err:
            build_world(Scenario("x", rates_scale_bands=(scale,)), network, stock, card, POLICIES)
        assert err.value.field == field
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, '[scenarios.a]\nrates_scale_bands = [{ service = "g", band = -1, factor = 1.1 }]\n')
    assert err.value.field == "scenarios.a.rates_scale_bands[0].band"


def test_weights_change_every_policy_and_are_checked(tmp_path):
    world = _world(Scenario("w", weights={"split_penalty": 7.0, "co2e_price": 0.1}), 1)
    weights = world.policies["default"].weights
    assert (weights.split_penalty, weights.co2e_price, weights.cost_weight) == (7.0, 0.1, 1.0)
    for text, field in [("weights = { speed = 1 }", "scenarios.a.weights.speed"),
                        ("weights = { cost_weight = 0 }", "scenarios.a.weights.cost_weight"),
                        ("weights = { split_penalty = -1 }", "scenarios.a.weights.split_penalty")]:
        with pytest.raises(ConfigError) as err:
            _load(tmp_path, f"[scenarios.a]\n{text}\n")
        assert err.value.field == field


def test_demand_scaled_within_a_window_only():
    """Q4 +30 %: the orders of the window are resampled to 1.3x, the others stay as they are."""
    stream = generated_stream(Demand(orders=3000, days=20, start=date(2026, 9, 21), seed=2))
    q4 = Scenario("q4", demand_scale=1.3, demand_from=date(2026, 10, 1), demand_until=date(2026, 12, 31))
    orders = scenario_stream(stream, q4, 0, 0)
    before = [o for o in stream if o.created_at.date() < date(2026, 10, 1)]
    inside = [o for o in stream if o.created_at.date() >= date(2026, 10, 1)]
    assert [o for o in orders if o.created_at.date() < date(2026, 10, 1)] == before
    assert sum(o.created_at.date() >= date(2026, 10, 1) for o in orders) == round(1.3 * len(inside))
    assert [o.created_at for o in orders] == sorted(o.created_at for o in orders)
    assert len({o.order_id for o in orders}) == len(orders)
    with pytest.raises(ConfigError) as err:
        scenario_stream(stream, Scenario("x", demand_scale=2.0, demand_from=date(2027, 1, 1)), 0, 0)
    assert err.value.field == "scenarios.x.demand_from"


@pytest.mark.parametrize(("text", "field"), [
    ('demand_from = "2026-10-01"', "scenarios.a.demand_from"),
    ('demand_scale = 1.3\ndemand_from = "2026-10-01"\ndemand_until = "2026-09-01"',
     "scenarios.a.demand_until"),
    ('demand_scale = 1.3\ndemand_until = "Q4"', "scenarios.a.demand_until"),
])
def test_bad_demand_windows_are_named(tmp_path, text, field):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, f"[scenarios.a]\n{text}\n")
    assert err.value.field == field


def test_orders_without_a_plan_are_charged_as_lost_in_cost_with_unserved():
    """No stock and no backorders: the plans cost nothing, so total_cost alone would call the
    scenario cheap; cost_with_unserved charges each such order its policy's unfilled penalty."""
    from dom_engine.simulation.kpis import kpis

    rng = np.random.default_rng(4)
    orders = [random_order(rng, SKUS, 2, max_qty=3, promise_days=6, allow_backorder=False, order_id=f"N-{k}",
                           now=FIXED_NOW) for k in range(30)]
    empty = _world(Scenario("empty", stock_scale=0.0), 4)
    run = replay(empty, orders, time_budget_ms=200)
    for order, o in zip(orders, run.outcomes, strict=True):
        assert o.status == "INFEASIBLE" and o.total_cost == 0
        assert o.unserved_penalty == pytest.approx(20.0 + 15.0 * order.total_units)   # test_replay POLICIES
    values = kpis(run.outcomes)
    assert values["unplanned_orders"] == 30 and values["total_cost"] == 0
    assert values["cost_with_unserved"] == pytest.approx(sum(20.0 + 15.0 * o.total_units for o in orders))
    full = replay(_world(Scenario("full"), 4, depth=20), orders, time_budget_ms=200)
    assert all(o.unserved_penalty == 0 for o in full.outcomes if o.shipments)


def test_a_disabled_node_opens_on_its_date_and_another_closes():
    """open / open_from: a node the base keeps disabled ships nothing before its date and ships
    after it; a second node closing on another date is applied on top (changes in date order)."""
    from datetime import timedelta

    network, stock = _base(5)
    order = np.argsort(-stock.on_hand.sum(axis=1))
    opening, closing = network.nodes[int(order[0])].node_id, network.nodes[int(order[1])].node_id
    based = network.without({opening})
    opens, closes = (FIXED_NOW + timedelta(days=1)).date(), (FIXED_NOW + timedelta(days=2)).date()
    scenario = Scenario("open", open=(opening,), open_from=opens, close=(closing,), close_from=closes)
    world = build_world(scenario, based, stock, banded_rate_card(), POLICIES)
    assert [when for when, _ in world.changes] == [opens, closes]
    run = replay(world, _stream(5, 300, days=3), time_budget_ms=200)

    def shipped_by(node, first, last):
        return sum(node in o.nodes.split(";") for o in run.outcomes if first <= o.day < last)

    d0, d1, d2, d3 = (d.isoformat() for d in (FIXED_NOW.date(), opens, closes, closes + timedelta(days=1)))
    assert shipped_by(opening, d0, d1) == 0 and shipped_by(opening, d1, d3) > 0
    assert shipped_by(closing, d0, d2) > 0 and shipped_by(closing, d2, d3) == 0
    for scenario, field in [(Scenario("x", open=("NOPE",)), "scenarios.x.open"),
                            (Scenario("x", open=(closing,)), "scenarios.x.open")]:
        with pytest.raises(ConfigError) as err:
            build_world(scenario, based, stock, banded_rate_card(), POLICIES)
        assert err.value.field == field


@pytest.mark.parametrize(("text", "field"), [
    ('open_from = "2026-03-03"', "scenarios.a.open_from"),
    ('open = ["A"]\nclose = ["A"]', "scenarios.a.open"),
])
def test_bad_openings_are_named(tmp_path, text, field):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, f"[scenarios.a]\n{text}\n")
    assert err.value.field == field
