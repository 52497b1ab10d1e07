"""The online replay's fast path (simulation/fast_replay.py, optimize/order_chunk.py,
optimize/stream_kernel.py) against the engine path it replaces (`replay(..., fast=False)`: every
order through Engine.route(reserve=True), held and committed): the same outcome for every order
and the same unit ledger, on streams that exercise everything routing looks at — kits, repeated
SKUs, line weights, excluded nodes, channel filters, stock buffers, modes, promise dates,
max_shipments and ship_complete, orders without backorders, penalty overrides, daily
capacities, safety stock, receipts, a node closing mid-stream, invalid orders."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from dom_engine.domain import (
    Line,
    Mode,
    Order,
    OrderOptions,
    Penalties,
    PenaltyOverride,
    PolicyProfile,
    Weights,
)
from dom_engine.simulation import fast_replay
from dom_engine.simulation.fast_replay import chunks
from dom_engine.simulation.receipts import Receipt
from dom_engine.simulation.replay import replay
from dom_engine.simulation.scenarios import Scenario
from dom_engine.simulation.world import Stock, build_world
from dom_engine.testing import FIXED_NOW, banded_rate_card, random_network, random_order

SKUS = tuple(f"S{j}" for j in range(10))
CLOSING = FIXED_NOW.date() + timedelta(days=2)
POLICIES = {
    "default": PolicyProfile(penalties=Penalties(per_order=20.0, per_unit=15.0)),
    "shelf": PolicyProfile(name="shelf", penalties=Penalties(per_order=5.0, per_unit=30.0),
                           min_stock_buffer={"store": 1},
                           channel_node_kinds={"marketplace": frozenset({"warehouse"})},
                           weights=Weights(split_penalty=2.0, delivery_day_weight=0.5, co2e_price=0.1)),
    "fastest": PolicyProfile(name="fastest", mode=Mode.FASTEST, max_shipments=2),
    "fewest": PolicyProfile(name="fewest", mode=Mode.FEWEST_SHIPMENTS,
                            penalties=Penalties(per_order=3.0, per_unit=9.0)),
}


def _world(seed: int, scenario: Scenario | None = None, n_nodes: int = 14, depth: int = 5,
           capacity: int | None = None):
    scenario = scenario or Scenario("base")
    rng = np.random.default_rng(seed)
    network = random_network(rng, n_nodes)
    shape = (n_nodes, len(SKUS))
    on_hand = np.where(rng.random(shape) < 0.6, rng.integers(1, depth + 1, shape), 0)
    safety = np.where(rng.random(on_hand.shape) < 0.2, 1, 0)
    if capacity is not None:
        scenario = replace(scenario, capacity={n.node_id: capacity for n in network.nodes[::2]})
    return build_world(scenario, network, Stock(SKUS, on_hand.astype(np.int64), safety.astype(np.int64)),
                       banded_rate_card(), POLICIES)


def _varied(rng: np.random.Generator, k: int, at, node_ids: list[str]) -> Order:
    """One order of a stream that touches every input routing reads."""
    order = random_order(rng, SKUS, int(rng.integers(1, 5)), max_qty=4, kit_probability=0.15,
                         promise_days=int(rng.integers(1, 7)) if rng.random() < 0.6 else None,
                         allow_backorder=rng.random() < 0.8, order_id=f"O-{k}", now=at)
    lines = list(order.lines)
    if rng.random() < 0.1:      # the same SKU twice: one item (same weight) or two (shared SKU)
        weight = lines[0].unit_weight_kg if rng.random() < 0.5 else 2.5
        lines.append(Line("dup", lines[0].sku, 2, weight))
    if rng.random() < 0.03:     # longer than the chunk arrays hold
        lines += [Line(f"x{j}", SKUS[j], 1) for j in range(10) if SKUS[j] not in {ln.sku for ln in lines}]
    options = OrderOptions(
        max_shipments=int(rng.integers(1, 4)) if rng.random() < 0.3 else None,
        ship_complete=rng.random() < 0.05,
        allow_backorder=order.options.allow_backorder,
        excluded_nodes=frozenset(rng.choice(node_ids, 2, replace=False).tolist()) if rng.random() < 0.15
        else frozenset(),
        policy=str(rng.choice(["", "", "shelf", "fastest", "fewest"])),
        penalty=PenaltyOverride(per_unit=40.0) if rng.random() < 0.1 else PenaltyOverride(),
    )
    channel = str(rng.choice(["web", "marketplace"]))
    return replace(order, lines=tuple(lines), options=options, channel=channel)


def _stream(seed: int, n: int, days: int, node_ids: list[str]) -> list[Order]:
    rng = np.random.default_rng(seed + 7)
    times = sorted(FIXED_NOW + timedelta(minutes=int(m)) for m in rng.integers(0, days * 24 * 60, n))
    orders = [_varied(rng, k, at, node_ids) for k, at in enumerate(times)]
    # Refused by the checks: an unknown SKU and an unknown excluded node.
    orders[n // 3] = replace(orders[n // 3], lines=(Line("L1", "NOPE", 1),))
    bad = replace(orders[n // 2].options, excluded_nodes=frozenset({"NOWHERE"}))
    orders[n // 2] = replace(orders[n // 2], options=bad)
    return orders


def _assert_same_runs(fast, slow):
    assert len(fast.outcomes) == len(slow.outcomes)
    for a, b in zip(fast.outcomes, slow.outcomes, strict=True):
        assert (a.order_id, a.status, a.nodes, a.units_shipped, a.shipments, a.on_time) == \
               (b.order_id, b.status, b.nodes, b.units_shipped, b.shipments, b.on_time), (a, b)
        for field in ("total_cost", "shipping_cost", "penalty_cost", "co2e_kg", "distance_km",
                      "unserved_penalty"):
            assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-9, abs=1e-9), (field, a, b)
        both_nan = math.isnan(a.delivery_days) and math.isnan(b.delivery_days)
        assert both_nan or a.delivery_days == b.delivery_days
    assert (fast.end_on_hand == slow.end_on_hand).all()
    assert (fast.shipped == slow.shipped).all() and (fast.received == slow.received).all()
    assert fast.stockouts == slow.stockouts


@pytest.fixture
def exact_calls(monkeypatch):
    """How many orders the fast path handed to solve_order (the spy calls the real function)."""
    calls = []
    real = fast_replay.solve_order

    def spy(*args, **kwargs):
        calls.append(args[0].order.order_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(fast_replay, "solve_order", spy)
    return calls


# Budgets are generous (5 s per order): the paths are compared where both finish their search.
# Under a short budget on a loaded machine the engine path can time out (NO_PLAN_FOUND) on a hard
# order that the fast path, not timed per order, solves: a timing difference, not a decision one.
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_fast_path_decides_as_the_engine_order_by_order(seed, exact_calls):
    world = _world(seed, capacity=3)
    orders = _stream(seed, 400, 3, [n.node_id for n in world.network.nodes])
    fast = replay(world, orders, time_budget_ms=5000)
    slow = replay(world, orders, time_budget_ms=5000, fast=False)
    _assert_same_runs(fast, slow)
    statuses = {o.status for o in fast.outcomes}
    assert {"OPTIMAL", "INFEASIBLE", "INVALID"} <= statuses
    assert fast.stockouts and any(o.penalty_cost > 0 for o in fast.outcomes)
    # Kits, shared SKUs, long orders and no-plan orders go to solve_order; the rest are the kernel's.
    assert 0 < len(exact_calls) < len(orders) // 2


def test_receipts_and_a_closing_node_mid_stream():
    seed = 5
    world = _world(seed, Scenario("closing", close=("DC000",), close_from=CLOSING), depth=3)
    node_ids = [n.node_id for n in world.network.nodes]
    orders = _stream(seed, 500, 4, node_ids)
    rng = np.random.default_rng(seed)
    receipts = sorted((Receipt(FIXED_NOW + timedelta(hours=int(h)), str(rng.choice(node_ids)),
                               str(rng.choice(SKUS)), int(rng.integers(1, 6)))
                       for h in rng.integers(0, 96, 40)),
                      key=lambda r: r.at)
    fast = replay(world, orders, time_budget_ms=5000, receipts=receipts)
    slow = replay(world, orders, time_budget_ms=5000, receipts=receipts, fast=False)
    _assert_same_runs(fast, slow)
    assert fast.received.sum() == sum(r.units for r in receipts)
    closed_day = CLOSING.isoformat()
    assert world.changes and FIXED_NOW.date().isoformat() < closed_day
    assert not any("DC000" in o.nodes.split(";") for o in fast.outcomes if o.day >= closed_day)


def test_a_demo_day_is_decided_as_by_the_engine(exact_calls):
    """The bundled demo network and demand generator (what the benchmark runs): every order the
    kernel's, identical outcomes."""
    from dom_engine.app.bootstrap import load_components
    from dom_engine.app.config import EngineConfig
    from dom_engine.simulation.demand import generated_stream
    from dom_engine.simulation.scenarios import Demand

    components = load_components(EngineConfig())
    skus, on_hand, _, safety = components.store.arrays()
    world = build_world(Scenario("base"), components.network, Stock(skus, on_hand, safety),
                        components.rate_card, components.policies)
    orders = generated_stream(Demand(orders=1500, days=1, seed=9))
    fast = replay(world, orders, time_budget_ms=5000)
    slow = replay(world, orders, time_budget_ms=5000, fast=False)
    _assert_same_runs(fast, slow)
    assert len(exact_calls) < len(orders) // 100


def test_chunks_end_where_an_event_is_due():
    at = [FIXED_NOW + timedelta(hours=h) for h in range(10)]
    orders = [replace(random_order(np.random.default_rng(k), SKUS, 1, order_id=f"O{k}"), created_at=t)
              for k, t in enumerate(at)]
    receipts = [Receipt(at[3], "DC000", "S1", 1), Receipt(at[3], "DC000", "S2", 1),
                Receipt(at[7], "ST001", "S1", 2)]
    # FIXED_NOW is 15:00: the 9th hour after it is the next day, when the network changes and
    # (twice over: two dates passed at once) stock is replenished.
    tomorrow = FIXED_NOW.date() + timedelta(days=1)
    replenish = [FIXED_NOW.date(), tomorrow, tomorrow + timedelta(days=1)]
    cut = list(chunks(orders, receipts, [[tomorrow], replenish], size=3))
    assert [[o.order_id for o in c] for _, _, c in cut] == [["O0", "O1", "O2"], ["O3", "O4", "O5"], ["O6"],
                                                            ["O7", "O8"], ["O9"]]
    assert [len(due) for due, _, _ in cut] == [0, 2, 0, 1, 0]
    assert [counts for _, counts, _ in cut] == [[0, 1], [0, 0], [0, 0], [0, 0], [1, 1]]


def test_replenishment_tops_stock_up_to_its_starting_level_on_both_paths():
    """Every 2 days each node x SKU goes back up to its starting on-hand level: the fast path and
    the engine path replenish alike, units stay conserved (start + received = end + shipped), and
    the run ships more than without replenishment."""
    seed = 7
    world = _world(seed, Scenario("weekly", replenish_every_days=2), depth=2)
    orders = _stream(seed, 600, 6, [n.node_id for n in world.network.nodes])
    fast = replay(world, orders, time_budget_ms=5000)
    slow = replay(world, orders, time_budget_ms=5000, fast=False)
    _assert_same_runs(fast, slow)
    assert fast.received.sum() > 0
    assert (fast.start.on_hand + fast.received == fast.end_on_hand + fast.shipped).all()
    dry = replay(replace(world, scenario=Scenario("never")), orders, time_budget_ms=5000)
    assert fast.shipped.sum() > dry.shipped.sum() and not dry.received.any()
    # Topped up, never past the starting level: what arrives is at most what had been shipped.
    assert (fast.received <= fast.shipped).all()


def test_the_engine_path_is_kept_where_the_fast_path_does_not_apply(exact_calls):
    """Node refusals and a repeated order id go through Engine.route: the fast path is not used."""
    world = _world(6)
    orders = _stream(6, 60, 1, [n.node_id for n in world.network.nodes])
    refusing = replace(world, scenario=Scenario("refuse", reject_rate={"store": 0.5}))
    replay(refusing, orders, time_budget_ms=5000)
    replay(world, orders + orders[:1], time_budget_ms=5000)
    assert not exact_calls
    replay(world, orders, time_budget_ms=5000)
    assert exact_calls
