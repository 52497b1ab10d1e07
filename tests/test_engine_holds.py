"""The plan a reserve request answers is the plan of what the store holds: a duplicate that finds
the order held by another request answers that request's units, never its own fresh plan."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest
from redis_servers import client_url, new_namespace

from dom_engine.demo import demo_engine
from dom_engine.domain import Destination, Line, Network, Node, NodeKind, Order, PolicyProfile, us_network_rate_card
from dom_engine.engine import Engine, plan_allocations
from dom_engine.inventory.base import Allocation
from dom_engine.inventory.redis_store import RedisStore

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def units(allocations) -> Counter:
    """(node, SKU) -> units, however the allocations are split or ordered."""
    out: Counter = Counter()
    for a in allocations:
        out[(a.node_id, a.sku)] += a.quantity
    return out


def _miss_once(monkeypatch, store) -> None:
    """The order's look-up misses once, as when a duplicate's look-up ran just before the other
    request's hold landed."""
    real = store.reservation_for_order
    calls = {"n": 0}

    def lookup(order_id):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(order_id)

    monkeypatch.setattr(store, "reservation_for_order", lookup)


def test_a_reserve_that_finds_the_order_held_answers_the_held_plan(monkeypatch):
    engine = demo_engine(clock=lambda: NOW)
    held = engine.store.reserve("Y", [Allocation("OAK4", "SKU-00001", 1)])
    _miss_once(monkeypatch, engine.store)
    order = Order("Y", (Line("L1", "SKU-00001", 1),), Destination(41.4, -75.7), created_at=NOW)
    fresh = engine.route(order)  # what a fresh plan would be: not OAK4 (far from Pennsylvania)
    assert [s.node_id for s in fresh.shipments] != ["OAK4"]

    plan = engine.route(order, reserve=True)
    assert plan.reservation_id == held.reservation_id
    assert units(plan_allocations(plan)) == units(held.allocations)
    assert [s.node_id for s in plan.shipments] == ["OAK4"]


# ----------------------------------------------------------------------- on real Redis
NET = Network((
    Node("A", NodeKind.WAREHOUSE, 40.0, -76.0, handling_per_shipment=1.0),   # near the customer
    Node("B", NodeKind.WAREHOUSE, 40.0, -90.0, handling_per_shipment=1.0),
))


@pytest.mark.parametrize("backend", ["redis", "cluster"])
def test_concurrent_duplicates_all_answer_the_held_plan(backend, request):
    """Four servers (engines with their own RedisStore) get the same RouteOrder(reserve) at once.
    Every look-up misses (forced: all run before any hold), then they route one after the other:
    the first holds A's only unit, the others plan B on fresh stock and find the order held. Every
    answer must ship what the reservation holds."""
    target = request.getfixturevalue("redis_server" if backend == "redis" else "redis_cluster")
    url, namespace = client_url(target), new_namespace()
    n = 4
    stores = [RedisStore(NET, url, namespace=namespace, cache_staleness_s=0.0, clock=lambda: NOW)
              for _ in range(n)]
    stores[0].load_snapshot(["A", "B"], ["X", "X"], np.array([1, 10]))
    engines = [Engine(NET, us_network_rate_card(), s, policies={"default": PolicyProfile()}, clock=lambda: NOW)
               for s in stores]
    looked_up, turn = threading.Barrier(n), threading.Lock()
    for store in stores:
        real = store.reservation_for_order

        def lookup(order_id, real=real):
            found = real(order_id)
            looked_up.wait()
            turn.acquire()  # released when this request has answered
            return found

        store.reservation_for_order = lookup
    order = Order("DUP", (Line("L1", "X", 1),), Destination(40.0, -75.0), created_at=NOW)

    def send(engine):
        try:
            return engine.route(order, reserve=True)
        finally:
            turn.release()

    with ThreadPoolExecutor(n) as pool:
        plans = list(pool.map(send, engines))
    held = stores[0].reservation("res-DUP")
    assert units(held.allocations) == {("A", "X"): 1}
    for plan in plans:
        assert plan.reservation_id == held.reservation_id
        assert units(plan_allocations(plan)) == units(held.allocations)
    assert stores[0].read(["X"]).atp[:, 0].tolist() == [0, 10]  # nothing else held
    for store in stores:
        store.client.close()
