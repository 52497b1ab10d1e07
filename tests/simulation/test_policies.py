"""Batch policies of the replay: waves and the hindsight yardstick. Hindsight is never dearer than
online over the same day from the same starting stock, and beats it where orders contend; waves
and hindsight conserve units and respect daily capacities like the online replay."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dom_engine.domain import Line, Order
from dom_engine.simulation.policies import HindsightPolicy, OnlinePolicy, WavePolicy, make_policy
from dom_engine.simulation.replay import replay
from dom_engine.simulation.scenarios import Scenario
from dom_engine.testing import FIXED_NOW

from .test_replay import _base, _stream, _world


def _one_day(seed: int, n: int):
    """n orders within one day (FIXED_NOW's), in arrival order."""
    return sorted((o for o in _stream(seed, 3 * n, days=1) if o.created_at.date() == FIXED_NOW.date()),
                  key=lambda o: o.created_at)[:n]


def test_hindsight_is_never_dearer_than_online_over_the_same_day_and_beats_it_where_orders_contend():
    """Same world, same day's orders, same starting stock: the clairvoyant day plan costs at most
    what routing the orders one by one as they arrive costs; on scarce stock knowing the day's
    orders pays on some days (the batch allocator's plans, not just the online incumbent)."""
    gains = []
    for seed in range(8):
        world = _world(Scenario("base"), seed, depth=2)
        orders = _one_day(seed, 60)
        online = replay(world, orders, time_budget_ms=200, policy=OnlinePolicy())
        hindsight = replay(world, orders, time_budget_ms=200, policy=HindsightPolicy(time_budget_ms=500))
        gain = sum(o.total_cost for o in online.outcomes) - sum(o.total_cost for o in hindsight.outcomes)
        assert gain >= -1e-6, seed
        assert (hindsight.start.on_hand - hindsight.end_on_hand == hindsight.shipped).all()
        assert hindsight.shipped.sum() == sum(o.units_shipped for o in hindsight.outcomes)
        gains.append(gain)
    assert sum(g > 1e-6 for g in gains) >= 2, gains


def test_hindsight_with_no_time_for_the_batch_falls_back_on_the_online_plans():
    """A budget too short for the batch allocator to reach every order: the online plans of the
    day (its incumbent) win, so the yardstick still never costs more than online."""
    world = _world(Scenario("base"), 3, depth=2)
    orders = _one_day(3, 60)
    online = replay(world, orders, time_budget_ms=200, policy=OnlinePolicy())
    hindsight = replay(world, orders, time_budget_ms=200, policy=HindsightPolicy(time_budget_ms=0.01))
    expected = [o.total_cost for o in online.outcomes]
    assert [o.total_cost for o in hindsight.outcomes] == pytest.approx(expected)


@pytest.mark.parametrize("mode", ["wave", "hindsight"])
def test_batch_modes_conserve_units_and_answer_every_order(mode):
    world = _world(Scenario("batch", mode=mode, wave_minutes=30 if mode == "wave" else 60), 5)
    orders = _stream(5, 150, days=3)
    run = replay(world, orders, time_budget_ms=200,
                 policy=make_policy(mode, world.scenario.wave_minutes, 500))
    assert (run.start.on_hand - run.end_on_hand == run.shipped).all() and (run.end_on_hand >= 0).all()
    assert sorted(o.order_id for o in run.outcomes) == sorted(o.order_id for o in orders)
    assert run.shipped.sum() == sum(o.units_shipped for o in run.outcomes) > 0


@pytest.mark.parametrize("mode", ["wave", "hindsight"])
def test_batch_modes_respect_daily_capacity(mode):
    network, _ = _base(4)
    world = _world(Scenario("capped", capacity={n.node_id: 1 for n in network.nodes}, mode=mode), 4)
    run = replay(world, _stream(4, 200, days=3), time_budget_ms=200, policy=make_policy(mode, 60, 500))
    per_day: dict[tuple[str, str], int] = {}
    for o in run.outcomes:
        for node in filter(None, o.nodes.split(";")):
            per_day[(o.day, node)] = per_day.get((o.day, node), 0) + 1
    assert per_day and max(per_day.values()) == 1


def test_waves_never_span_two_days_and_release_at_window_end():
    orders = _stream(6, 200, days=3)
    orders.sort(key=lambda o: o.created_at)
    steps = list(WavePolicy(minutes=90).steps(orders))
    assert sum(len(s) for _, s in steps) == len(orders)
    for release, step in steps:
        assert len({o.created_at.date() for o in step}) == 1
        assert all(o.created_at <= release for o in step)
        assert release - min(o.created_at for o in step) <= timedelta(minutes=90)
        assert release.date() == step[0].created_at.date()


def test_a_bad_order_in_a_wave_is_counted_and_the_rest_routed():
    """One order with an unknown SKU must not refuse its whole wave (a batch call would)."""
    world = _world(Scenario("wave", mode="wave"), 7)
    orders = sorted(_stream(7, 40, days=1), key=lambda o: o.created_at)
    bad = orders[5]
    orders[5] = Order(bad.order_id, (Line("L1", "NO-SUCH-SKU", 1),), bad.destination,
                      created_at=bad.created_at)
    for mode in ("wave", "hindsight"):
        run = replay(world, orders, time_budget_ms=200, policy=make_policy(mode, 60, 500))
        statuses = {o.order_id: o.status for o in run.outcomes}
        assert statuses[bad.order_id] == "INVALID"
        assert sum(s != "INVALID" for s in statuses.values()) == len(orders) - 1
        assert run.shipped.sum() > 0
