"""The replay's inventory_aware mode: the online router with opportunity prices re-computed during
the stream from the orders already seen (never the future ones), units conserved as in every
mode, and the prices change decisions on scarce stock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dom_engine.app.engine import Engine
from dom_engine.domain import ConfigError
from dom_engine.simulation.policies import InventoryAwarePolicy, OnlinePolicy, make_policy
from dom_engine.simulation.replay import replay
from dom_engine.simulation.scenarios import Scenario, parse_scenarios

from .test_replay import _stream, _world


def test_scenario_files_take_the_mode_and_its_keys(tmp_path):
    spec = parse_scenarios({"scenarios": {"ia": {"mode": "inventory_aware", "price_refresh_days": 0.5,
                                                 "forecast_days": 3}}}, tmp_path)
    ia = spec.scenarios[0]
    assert ia.mode == "inventory_aware" and ia.price_refresh_days == 0.5 and ia.forecast_days == 3
    policy = make_policy(ia.mode, refresh_days=ia.price_refresh_days, forecast_days=ia.forecast_days)
    assert isinstance(policy, InventoryAwarePolicy)
    with pytest.raises(ConfigError, match="price_refresh_days"):
        parse_scenarios({"scenarios": {"x": {"price_refresh_days": 1}}}, tmp_path)
    with pytest.raises(ConfigError, match="forecast_days"):
        parse_scenarios({"scenarios": {"x": {"mode": "inventory_aware", "forecast_days": 0}}}, tmp_path)


def test_prices_come_from_past_orders_only_and_change_decisions(monkeypatch):
    seen: list[tuple] = []
    real = Engine.refresh_prices

    def spy(engine, forecast=None, time_budget_s=None):
        newest = max(o.created_at for o in forecast.prototypes)
        seen.append((engine.clock(), newest, len(forecast.prototypes)))
        return real(engine, forecast, time_budget_s)

    monkeypatch.setattr(Engine, "refresh_prices", spy)
    changed = 0
    for seed in range(3):
        scenario = Scenario("ia", mode="inventory_aware", price_refresh_days=0.5, forecast_days=1.0)
        world = _world(scenario, seed, depth=2)
        orders = _stream(seed, 240, days=3)
        policy = InventoryAwarePolicy(refresh_days=0.5, forecast_days=1.0)
        aware = replay(world, orders, time_budget_ms=200, policy=policy)
        base = _world(Scenario("base"), seed, depth=2)
        online = replay(base, orders, time_budget_ms=200, policy=OnlinePolicy())
        assert policy.refreshes >= 4
        assert (aware.start.on_hand - aware.end_on_hand == aware.shipped).all()
        assert aware.shipped.sum() == sum(o.units_shipped for o in aware.outcomes)
        changed += sum(a.nodes != b.nodes for a, b in zip(aware.outcomes, online.outcomes, strict=True))
    assert all(newest < now for now, newest, _ in seen) and len(seen) >= 12
    assert changed > 0


def _regioned(order):
    where = order.destination
    return replace(order, destination=replace(where, region=f"R{int(where.longitude) // 13}"))


def test_dilated_rounding_is_deterministic_conserves_units_and_follows_the_lp():
    from dom_engine.simulation.policies import DilatedPolicy

    changed = 0
    for seed in range(2):
        scenario = Scenario("d", mode="dilated", price_refresh_days=0.5, forecast_days=1.0)
        world = _world(scenario, seed, depth=2)
        # Four regions (the replay zones by region): later orders meet the shares of earlier ones.
        orders = [_regioned(o)
                  for o in _stream(seed, 240, days=3)]
        runs = [replay(world, orders, time_budget_ms=200, policy=DilatedPolicy(0.5, 1.0)) for _ in range(2)]
        first, again = runs
        assert [o.nodes for o in first.outcomes] == [o.nodes for o in again.outcomes]   # seeded by order id
        assert (first.start.on_hand - first.end_on_hand == first.shipped).all()
        online = replay(_world(Scenario("base"), seed, depth=2), orders, time_budget_ms=200,
                        policy=OnlinePolicy())
        changed += sum(a.nodes != b.nodes for a, b in zip(first.outcomes, online.outcomes, strict=True))
    assert changed > 0
    with pytest.raises(ConfigError, match="forecast_days"):
        parse_scenarios({"scenarios": {"x": {"mode": "wave", "forecast_days": 2}}}, ".")
