"""The replay: units conserved, the same decisions as routing the stream order by order through the
engine, daily capacities and closing dates honoured, scenario changes applied to the world."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from dom_engine.domain import ConfigError, Network, Penalties, PolicyProfile
from dom_engine.simulation.replay import replay
from dom_engine.simulation.scenarios import Scenario, StockMove
from dom_engine.simulation.world import Stock, build_world
from dom_engine.testing import FIXED_NOW, banded_rate_card, random_network, random_order

from .one_by_one import route_one_by_one

SKUS = tuple(f"S{j}" for j in range(8))
# Backorders allowed at a price: scarce stock runs out during the replay and orders still get plans.
POLICIES = {"default": PolicyProfile(penalties=Penalties(per_order=20.0, per_unit=15.0))}


def _base(seed: int = 0, n_nodes: int = 12, depth: int = 4):
    rng = np.random.default_rng(seed)
    network = random_network(rng, n_nodes)
    on_hand = rng.integers(0, depth + 1, (n_nodes, len(SKUS))).astype(np.int64)
    return network, Stock(SKUS, on_hand, np.zeros_like(on_hand))


def _stream(seed: int, n: int, days: int = 3):
    rng = np.random.default_rng(seed + 100)
    out = []
    for k in range(n):
        at = FIXED_NOW + timedelta(minutes=int(rng.integers(0, days * 24 * 60)))
        out.append(random_order(rng, SKUS, int(rng.integers(1, 4)), max_qty=3, promise_days=6,
                                allow_backorder=True, order_id=f"O-{k}", now=at))
    return out


def _world(scenario: Scenario, seed: int = 0, **kw):
    network, stock = _base(seed, **kw)
    return build_world(scenario, network, stock, banded_rate_card(), POLICIES)


@pytest.mark.parametrize("scenario", [
    Scenario("base"),
    Scenario("nearest", mode="nearest"),
    Scenario("closed", close=("DC000",)),
    Scenario("moved", stock_moves=(StockMove("ST005", "DC000", 0.5),), stock_scale=1.5),
    Scenario("capped", capacity={"DC000": 1}),
], ids=lambda s: s.name)
@pytest.mark.parametrize("seed", [1, 2])
def test_units_are_conserved_per_sku_and_node(scenario, seed):
    world = _world(scenario, seed)
    orders = _stream(seed, 120)
    run = replay(world, orders, time_budget_ms=200)
    assert (run.start.on_hand - run.end_on_hand == run.shipped).all() and not run.received.any()
    assert (run.end_on_hand >= 0).all()
    assert run.shipped.sum() == sum(o.units_shipped for o in run.outcomes) > 0
    assert len(run.outcomes) == len(orders)


def test_online_replay_decides_as_routing_the_stream_one_by_one():
    """The replay is the engine (one code path): the same orders routed in arrival order through an
    Engine over the same stock, each held and committed, give the same plans."""
    world = _world(Scenario("base"), 3)
    orders = sorted(_stream(3, 150), key=lambda o: o.created_at)
    run = replay(world, orders, time_budget_ms=200)
    costs = [plan.total_cost for plan in route_one_by_one(world, orders, time_budget_ms=200)]
    assert [o.total_cost for o in run.outcomes] == pytest.approx(costs, abs=1e-9)
    assert sum(costs) > 0


def test_daily_capacity_resets_at_midnight():
    """A node allowed one shipment a day ships at most one a day, and again the next day."""
    world = _world(Scenario("capped", capacity={n.node_id: 1 for n in _base(4)[0].nodes}), 4)
    run = replay(world, _stream(4, 200, days=3), time_budget_ms=200)
    per_day: dict[tuple[str, str], int] = {}
    for o in run.outcomes:
        for node in filter(None, o.nodes.split(";")):
            per_day[(o.day, node)] = per_day.get((o.day, node), 0) + 1
    assert per_day and max(per_day.values()) == 1
    days_per_node: dict[str, int] = {}
    for _, node in per_day:
        days_per_node[node] = days_per_node.get(node, 0) + 1
    assert max(days_per_node.values()) >= 3      # the same node again on later days: reset daily


def test_a_node_closes_on_its_date():
    network, stock = _base(5)
    busiest = int(np.argmax(stock.on_hand.sum(axis=1)))
    node = network.nodes[busiest].node_id
    closes = (FIXED_NOW + timedelta(days=1)).date()
    world = build_world(Scenario("close", close=(node,), close_from=closes), network, stock,
                        banded_rate_card(), POLICIES)
    run = replay(world, _stream(5, 200, days=3), time_budget_ms=200)
    before = [o for o in run.outcomes if o.day < closes.isoformat()]
    after = [o for o in run.outcomes if o.day >= closes.isoformat()]
    assert any(node in o.nodes.split(";") for o in before), "the node shipped nothing before: no test"
    assert after and not any(node in o.nodes.split(";") for o in after)


def test_world_changes_are_checked_and_applied():
    network, stock = _base(6)
    card = banded_rate_card()
    up = build_world(Scenario("up", rates_scale=1.1, max_shipments=2,
                              channel_node_kinds={"marketplace": frozenset({"warehouse"})}),
                     network, stock, card, POLICIES)
    band, new = card.services[0].bands[0], up.rate_card.services[0].bands[0]
    assert new.per_package == pytest.approx(band.per_package * 1.1) and new.transit_days == band.transit_days
    assert up.policies["default"].max_shipments == 2
    assert up.policies["default"].channel_node_kinds == {"marketplace": frozenset({"warehouse"})}
    moved = build_world(Scenario("m", stock_moves=(StockMove("ST005", "DC000", 0.5),)), network, stock,
                        card, POLICIES)
    assert moved.stock.on_hand.sum() == stock.on_hand.sum()
    assert (moved.stock.on_hand[5] == stock.on_hand[5] - stock.on_hand[5] // 2).all()
    for bad, field in [(Scenario("x", close=("NOPE",)), "scenarios.x.close"),
                       (Scenario("x", capacity={"NOPE": 1}), "scenarios.x.capacity"),
                       (Scenario("x", stock_moves=(StockMove("DC000", "NOPE", 0.1),)),
                        "scenarios.x.stock_move[0].to"),
                       (Scenario("x", rates_scale_services={"teleport": 2.0}),
                        "scenarios.x.rates_scale_services.teleport")]:
        with pytest.raises(ConfigError) as err:
            build_world(bad, network, stock, card, POLICIES)
        assert err.value.field == field


def test_an_invalid_order_is_counted_not_fatal():
    world = _world(Scenario("base"), 7)
    orders = _stream(7, 20)
    bad = replace(orders[3], lines=(replace(orders[3].lines[0], sku="NOT-A-SKU"),))
    run = replay(world, [*orders[:3], bad, *orders[4:]], time_budget_ms=200)
    assert [o.status for o in run.outcomes].count("INVALID") == 1
    assert (run.start.on_hand - run.end_on_hand == run.shipped).all()


def test_receipts_arrive_at_their_time_and_are_accounted_for(tmp_path):
    """Scarce stock, then a receipt of every SKU at DC000 on the second day: orders after it ship
    units that did not exist before, and start + received = end + shipped."""
    from dom_engine.simulation.receipts import read_receipts

    network, stock = _base(8, depth=1)
    when = FIXED_NOW + timedelta(days=1)
    path = tmp_path / "receipts.csv"
    rows = "".join(f"{when.isoformat()},DC000,{sku},50\n" for sku in SKUS)
    path.write_text("at,node_id,sku,units\n" + rows)
    receipts = read_receipts(path, network, SKUS)
    world = build_world(Scenario("base"), network, stock, banded_rate_card(), POLICIES)
    orders = _stream(8, 150, days=3)
    run = replay(world, orders, time_budget_ms=200, receipts=receipts)
    assert run.received.sum() == 50 * len(SKUS)
    assert (run.start.on_hand + run.received - run.end_on_hand == run.shipped).all()
    without = replay(world, orders, time_budget_ms=200)
    assert run.shipped.sum() > without.shipped.sum()
    late = [o for o in run.outcomes if o.day > FIXED_NOW.date().isoformat()]
    assert any("DC000" in o.nodes.split(";") for o in late)


@pytest.mark.parametrize(("row", "column"), [
    ("2026-11-24T00:00:00Z,NOPE,S1,5", "node_id"),
    ("2026-11-24T00:00:00Z,DC000,NOPE,5", "sku"),
    ("2026-11-24T00:00:00Z,DC000,S1,0", "units"),
    ("tomorrow,DC000,S1,5", "at"),
])
def test_a_bad_receipt_names_its_row_and_column(tmp_path, row, column):
    from dom_engine.simulation.receipts import read_receipts

    network, _ = _base(8)
    path = tmp_path / "receipts.csv"
    path.write_text("at,node_id,sku,units\n2026-11-24T00:00:00Z,DC000,S1,5\n" + row + "\n")
    with pytest.raises(ConfigError) as err:
        read_receipts(path, network, SKUS)
    assert err.value.field == f"{path} line 3, column '{column}'"


def test_stockouts_and_capped_utilisation():
    from dom_engine.simulation.kpis import run_kpis

    network, stock = _base(9, depth=2)
    capped = Network(tuple(replace(n, daily_shipment_capacity=2) for n in network.nodes), currency="USD")
    world = build_world(Scenario("base"), capped, stock, banded_rate_card(), POLICIES)
    run = replay(world, _stream(9, 200, days=3), time_budget_ms=200)
    ran_out = {(world.network.nodes[i].node_id, SKUS[j])
               for i, j in zip(*np.nonzero((run.start.on_hand > 0) & (run.end_on_hand == 0)), strict=True)}
    assert ran_out and set(run.stockouts) == ran_out
    k = run_kpis(run, world.network)
    assert k["stockouts"] == len(ran_out)
    days = {o.day for o in run.outcomes}
    shipments = sum(o.shipments for o in run.outcomes)
    assert k["capped_node_utilisation"] == pytest.approx(shipments / 2 / (len(network.nodes) * len(days)))
    assert 0 < k["capped_node_utilisation"] <= 1
