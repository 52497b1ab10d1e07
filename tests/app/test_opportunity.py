"""Inventory-aware routing end to end through the Engine: prices computed from a forecast and
published through the store change a decision the myopic optimum gets wrong; without fresh prices
the policy routes on cost and says so; prices published by one process route another's orders
(Redis); a forecast can come from the orders routed or from a file (bad files name the line)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dom_engine.app.engine import Engine
from dom_engine.app.opportunity_config import OpportunityConfig
from dom_engine.domain import (
    Destination,
    Line,
    Mode,
    Order,
    OrderOptions,
    Penalties,
    PolicyProfile,
    PreconditionError,
    ValidationError,
    us_network_rate_card,
)
from dom_engine.domain.opportunity import Forecast
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.io.forecast_file import read_forecast
from dom_engine.testing.networks import abc_network
from tests.redis_servers import client_url, new_namespace

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
PHILADELPHIA = Destination(39.95, -75.17)
CHICAGO = Destination(41.88, -87.63)
PENALTIES = Penalties(per_order=2 * 8.759, per_unit=2 * 0.423, per_unit_per_max_distance=2 * 0.000541,
                      distance_unit="mi")
AWARE = PolicyProfile(name="aware", mode=Mode.INVENTORY_AWARE, penalties=PENALTIES)
MYOPIC = PolicyProfile(name="default", penalties=PENALTIES)
# X is at A (Philadelphia, 1 unit) and C (Los Angeles); Y only at A. Philadelphia's X+Y orders
# want A's X (one package instead of two); a Chicago order for X is cheapest from A now.
ROWS = [{"node_id": "A", "sku": "X", "on_hand": 1}, {"node_id": "C", "sku": "X", "on_hand": 50},
        {"node_id": "A", "sku": "Y", "on_hand": 50}]


def _order(order_id: str, where: Destination, skus: tuple[str, ...], policy: str = "aware",
           created: datetime = NOW) -> Order:
    return Order(order_id, tuple(Line(f"L{k}", sku, 1) for k, sku in enumerate(skus)), where,
                 options=OrderOptions(allow_backorder=True, policy=policy), created_at=created)


FORECAST = Forecast((_order("p", PHILADELPHIA, ("X", "Y")), _order("c", CHICAGO, ("X",))),
                    np.array([3.0, 0.5]), 7.0)


def _engine(store, clock=lambda: NOW, **config) -> Engine:
    return Engine(abc_network(), us_network_rate_card(), store, policies={"default": MYOPIC, "aware": AWARE},
                  clock=clock, opportunity_config=OpportunityConfig(**config))


def _nodes(plan) -> set[str]:
    return {s.node_id for s in plan.shipments}


def test_prices_keep_scarce_stock_for_the_orders_that_need_it_most():
    engine = _engine(MemoryStore.from_records(abc_network(), ROWS))
    chicago = _order("o1", CHICAGO, ("X",))
    assert _nodes(engine.route(replace(chicago, options=replace(chicago.options, policy="default")))) == {"A"}
    before = engine.route(chicago)
    assert _nodes(before) == {"A"}            # no prices yet: routed on cost, and it says so
    assert any("no fresh opportunity prices" in b for b in before.explanation.binding)

    refresh = engine.refresh_prices(FORECAST)
    a, c = engine.network.index_of("A"), engine.network.index_of("C")
    x = refresh.prices.skus.index("X")
    assert refresh.fluid.converged and refresh.prices.values[a, x] > 1.0 and refresh.prices.values[c, x] == 0
    after = engine.route(chicago)
    assert _nodes(after) == {"C"}             # A's last X is worth more to a Philadelphia order
    assert after.shipping_cost > before.shipping_cost
    assert any("inventory-aware" in b for b in after.explanation.binding)
    philadelphia = engine.route(_order("o2", PHILADELPHIA, ("X", "Y")))
    assert _nodes(philadelphia) == {"A"} and philadelphia.opportunity_cost > 0
    assert philadelphia.objective == pytest.approx(philadelphia.total_cost + philadelphia.opportunity_cost)


def test_stale_prices_are_not_used():
    clock = [NOW]
    engine = _engine(MemoryStore.from_records(abc_network(), ROWS), clock=lambda: clock[0], max_age_s=600)
    engine.refresh_prices(FORECAST)
    assert _nodes(engine.route(_order("o1", CHICAGO, ("X",)))) == {"C"}
    clock[0] = NOW + timedelta(seconds=601)
    late = engine.route(_order("o3", CHICAGO, ("X",)))
    assert _nodes(late) == {"A"} and any("no fresh" in b for b in late.explanation.binding)


def test_prices_from_the_orders_routed():
    clock = [NOW]
    engine = _engine(MemoryStore.from_records(abc_network(), ROWS), clock=lambda: clock[0])
    with pytest.raises(PreconditionError, match="too few orders"):
        engine.refresh_prices()
    for k in range(6):
        clock[0] = NOW + timedelta(minutes=10 * k)
        engine.route(_order(f"s{k}", PHILADELPHIA, ("X", "Y"), policy="default", created=clock[0]))
    refresh = engine.refresh_prices()
    assert refresh.prototypes == 6
    # 6 orders in 50 minutes: each stands for 7 days / 50 minutes of orders over the horizon.
    assert refresh.fluid.objective > 100 * 8.759


def test_forecast_file(tmp_path):
    path = tmp_path / "forecast.jsonl"
    rows = [{"expected": 3, "order": {"order_id": "p", "lines": [{"line_id": "1", "sku": "X", "quantity": 1}],
                                      "destination": {"latitude": 39.95, "longitude": -75.17}}}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    forecast = read_forecast(path, 7.0)
    assert forecast.counts.tolist() == [3.0] and forecast.prototypes[0].lines[0].sku == "X"
    engine = _engine(MemoryStore.from_records(abc_network(), ROWS), forecast=path)
    assert engine.refresh_prices().prototypes == 1
    path.write_text(json.dumps({"expected": -1, "order": rows[0]["order"]}) + "\n")
    with pytest.raises(ValidationError, match="line 1, expected"):
        read_forecast(path, 7.0)
    path.write_text(json.dumps({"expected": 1, "order": {**rows[0]["order"], "lines": []}}) + "\n")
    with pytest.raises(ValidationError, match=r"line 1, order\.lines"):
        read_forecast(path, 7.0)


def test_prices_published_by_one_process_route_another(redis_server):
    namespace, url = new_namespace(), client_url(redis_server)
    store = RedisStore(abc_network(), url, namespace=namespace)
    store.load_snapshot([r["node_id"] for r in ROWS], [r["sku"] for r in ROWS],
                        np.array([r["on_hand"] for r in ROWS]))
    _engine(store).refresh_prices(FORECAST)
    script = f"""
from datetime import datetime, UTC
from tests.app.test_opportunity import CHICAGO, _engine, _order
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import abc_network
engine = _engine(RedisStore(abc_network(), {url!r}, namespace={namespace!r}), clock=lambda: datetime.now(UTC))
print(sorted(s.node_id for s in engine.route(_order("far", CHICAGO, ("X",))).shipments))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         check=True)
    assert out.stdout.strip() == "['C']", out.stderr


def test_orders_alike_in_one_zone_merge_into_one_prototype():
    from dom_engine.domain.opportunity import aggregated, zone_of

    near = [Destination(39.6 + d, -75.1 - d) for d in (0.0, 0.1, 0.2)]   # one 0.5-degree cell
    orders = [_order(f"n{k}", where, ("X", "Y")) for k, where in enumerate(near)]
    orders.append(_order("other", near[0], ("X",)))           # other lines: its own prototype
    orders.append(_order("far", CHICAGO, ("X", "Y")))         # another cell
    forecast = Forecast(tuple(orders), np.array([1.0, 1.0, 2.0, 5.0, 3.0]), 7.0)
    merged = aggregated(forecast, "grid:0.5")
    assert sorted(merged.counts.tolist()) == [3.0, 4.0, 5.0]
    three = merged.prototypes[merged.counts.tolist().index(4.0)]
    assert three.destination.latitude == pytest.approx(39.6 + (0.1 + 0.4) / 4)
    assert len(aggregated(forecast, "exact").prototypes) == 5
    assert zone_of(Destination(1.0, 2.0, region="PA"), "region") == "region:PA"
    assert merged.expected_orders == forecast.expected_orders


def test_a_refresh_out_of_time_says_so_and_publishes_nothing():
    engine = _engine(MemoryStore.from_records(abc_network(), ROWS))
    orders = tuple(_order(f"m{k}", Destination(30 + k * 1e-3, -90.0), ("X", "Y")) for k in range(3000))
    many = Forecast(orders, np.ones(3000), 7.0)
    with pytest.raises(PreconditionError, match="time budget"):
        engine.refresh_prices(many, time_budget_s=0.001)
    assert engine.store.current_prices() is None
