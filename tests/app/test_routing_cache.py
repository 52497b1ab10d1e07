"""Plans made while Redis is down come from the degraded cache, and every one of them says so
(`stock_from_cache`): optimal, infeasible (presolve or search) and batch plans alike."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from dom_engine.app.engine import Engine
from dom_engine.domain import (
    Destination,
    Line,
    Network,
    Node,
    NodeKind,
    Order,
    OrderOptions,
    PlanStatus,
    PolicyProfile,
    us_network_rate_card,
)
from dom_engine.inventory.redis_store import RedisStore

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NETWORK = Network((
    Node("A", NodeKind.WAREHOUSE, 40.0, -76.0, handling_per_shipment=1.0),
    Node("B", NodeKind.WAREHOUSE, 40.0, -90.0, handling_per_shipment=1.0),
))
SKUS = ["X", "Y"]


def _order(order_id: str, qty: int, **options) -> Order:
    return Order(order_id, (Line("L1", "X", qty),), Destination(40.0, -75.0),
                 options=OrderOptions(**options), created_at=NOW)


@pytest.fixture
def down_engine(private_redis):
    """An engine on a RedisStore whose cache holds X and Y, then Redis killed (the cache serves
    reads up to degraded_staleness_s)."""
    server = private_redis()
    ticks = [0.0]
    store = RedisStore(NETWORK, server.url, namespace="cache8", cache_staleness_s=1.0,
                       degraded_staleness_s=60.0, monotonic=lambda: ticks[0], clock=lambda: NOW)
    store.load_snapshot(["A", "A", "B", "B"], SKUS * 2, np.array([3, 3, 2, 2]))
    store.read(SKUS)
    store.read(["X"])
    engine = Engine(NETWORK, us_network_rate_card(), store, policies={"default": PolicyProfile()},
                    clock=lambda: NOW)
    server.stop()
    ticks[0] += 5  # past the cache bound: only the outage lets the cache answer
    yield engine
    store.client.close()


def test_every_plan_from_the_degraded_cache_says_so(down_engine):
    feasible = down_engine.route(_order("F", 2))
    assert feasible.status.has_plan and feasible.stock_from_cache
    # 6 units wanted, 5 on hand, no backorder: the presolve proves it infeasible
    infeasible = down_engine.route(_order("I", 6))
    assert infeasible.status is PlanStatus.INFEASIBLE
    assert infeasible.stock_from_cache
    # 4 units in one shipment: no node has them
    single = down_engine.route(_order("S", 4, ship_complete=True))
    assert not single.shipments and single.stock_from_cache


def test_every_batch_plan_from_the_degraded_cache_says_so(down_engine):
    result = down_engine.route_batch([_order("B1", 2), _order("B2", 6), _order("B3", 4, ship_complete=True)])
    assert [p.status.has_plan for p in result.plans] == [True, False, False]
    assert all(p.stock_from_cache for p in result.plans)
