"""Engine reservations: the plan a reserve request answers is the plan of what the store holds (a
duplicate that finds the order held by another request answers that request's units, never its
own fresh plan), and a hold keeps the stock buffer its plan was made with, so two servers planning
on cached stock cannot both spend it."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest

from dom_engine.app.engine import Engine
from dom_engine.app.routing import plan_allocations
from dom_engine.domain import (
    Destination,
    Line,
    Network,
    Node,
    NodeKind,
    Order,
    PolicyProfile,
    us_network_rate_card,
)
from dom_engine.inventory.base import Allocation
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.io.demo import demo_network, demo_policies, demo_rate_card
from dom_engine.testing import demo_engine
from tests.redis_servers import client_url, new_namespace

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
    Every first stock read sees A's unit free (forced: all read before any hold), then they go on
    one after the other: the first holds A's only unit, the others plan A too on what they read and
    find the order held when they reserve. Every answer must ship what the reservation holds."""
    target = request.getfixturevalue("redis_server" if backend == "redis" else "redis_cluster")
    url, namespace = client_url(target), new_namespace()
    n = 4
    stores = [RedisStore(NET, url, namespace=namespace, cache_staleness_s=0.0, clock=lambda: NOW)
              for _ in range(n)]
    stores[0].load_snapshot(["A", "B"], ["X", "X"], np.array([1, 10]))
    policies = {"default": PolicyProfile()}
    engines = [Engine(NET, us_network_rate_card(), s, policies=policies, clock=lambda: NOW) for s in stores]
    all_read, turn = threading.Barrier(n), threading.Lock()
    for store in stores:
        real, first = store.read, [True]

        def read(skus, real=real, first=first):
            found = real(skus)
            if first.pop() if first else False:     # the request's first read only
                all_read.wait()
                turn.acquire()  # released when this request has answered
            return found

        store.read = read
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


# ----------------------------------------------------------------------- stock buffers (item 5)
class CachedReads:
    """A store seen through a read cache that does not expire (as a server's 1 s cache within its
    second): reads repeat the first answer per SKU list until a hold on them, the rest delegates."""

    def __init__(self, store) -> None:
        self._store, self._reads = store, {}

    def read(self, skus):
        return self._reads.setdefault(tuple(skus), self._store.read(skus))

    def reserve(self, order_id, allocations, ttl_s=None):
        self._reads.clear()  # as RedisStore: a hold (or its conflict) invalidates what it touched
        return self._store.reserve(order_id, allocations, ttl_s)

    def __getattr__(self, name):
        return getattr(self._store, name)


def _chicago_order(order_id: str) -> Order:
    return Order(order_id, (Line("L1", "SKU-00777", 1),), Destination(41.88, -87.63), created_at=NOW)


def _two_servers(backend: str, request) -> tuple[Engine, Engine, list]:
    """Engines A and B ("servers") over one store holding only ST-CHICAGO,SKU-00777,2,0, B's
    reads cached "within the second"; and the stores to close."""
    network = demo_network()
    if backend == "memory":
        shared = MemoryStore.from_columns(network, ["ST-CHICAGO"], ["SKU-00777"], [2], clock=lambda: NOW)
        store_a, store_b = shared, CachedReads(shared)
    else:
        target = request.getfixturevalue("redis_server" if backend == "redis" else "redis_cluster")
        url, namespace = client_url(target), new_namespace("buffer")
        ticks = [0.0]  # B's cache never ages here: everything happens "within the second"
        store_a, store_b = (RedisStore(network, url, namespace=namespace, clock=lambda: NOW,
                                       monotonic=lambda: ticks[0]) for _ in range(2))
        store_a.load_snapshot(["ST-CHICAGO"], ["SKU-00777"], np.array([2]))
    a, b = (Engine(network, demo_rate_card(), s, policies=demo_policies(), clock=lambda: NOW)
            for s in (store_a, store_b))
    return a, b, [s for s in (store_a, store_b) if isinstance(s, RedisStore)]


def _chicago_atp(engine: Engine) -> int:
    return int(engine.store.read(["SKU-00777"]).atp[engine.network.index_of("ST-CHICAGO"), 0])


@pytest.mark.parametrize("backend", ["memory", "redis", "cluster"])
def test_two_servers_planning_on_a_cached_read_cannot_both_spend_the_buffer(backend, request):
    """The store ST-CHICAGO has 2 units of SKU-00777 and the demo policy keeps 1 at stores. Server
    B quotes first (its cache now says 2), A reserves X1 (1 unit), B reserves X2 within the second:
    B's hold must be refused (the buffer) and B re-plans on fresh stock, which has nothing to give."""
    a, b, close = _two_servers(backend, request)
    quote = b.route(_chicago_order("Q"))
    assert [s.node_id for s in quote.shipments] == ["ST-CHICAGO"]

    x1 = a.route(_chicago_order("X1"), reserve=True)
    assert [s.node_id for s in x1.shipments] == ["ST-CHICAGO"] and x1.reservation_id
    x2 = b.route(_chicago_order("X2"), reserve=True)
    assert not x2.shipments and not x2.reservation_id
    assert a.store.reservation_for_order("X2") is None
    assert _chicago_atp(a) == 1  # the buffer stands
    for s in close:
        s.client.close()


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_batch_planned_on_a_cached_read_keeps_the_buffer(backend, request):
    """As above, with B reserving a batch (one reserve_many): the hold is refused, the order
    re-routed alone on fresh stock, and nothing spends the buffer."""
    a, b, close = _two_servers(backend, request)
    b.route(_chicago_order("Q"))
    assert a.route(_chicago_order("X1"), reserve=True).reservation_id
    result = b.route_batch([_chicago_order("X2")], reserve=True)
    assert not result.plans[0].shipments and not result.plans[0].reservation_id
    assert result.stats["rerouted"] == 1
    assert _chicago_atp(a) == 1
    for s in close:
        s.client.close()


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_retry_of_an_order_holding_the_last_units_answers_its_hold(backend, request):
    """The order holds the only units: its retry reads stock without them (nothing left to plan)
    and must still answer the held plan, not INFEASIBLE, and hold nothing more."""
    if backend == "memory":
        store = MemoryStore.from_arrays(NET, ["X"], np.array([[1], [0]]), clock=lambda: NOW)
    else:
        target = request.getfixturevalue("redis_server")
        store = RedisStore(NET, client_url(target), namespace=new_namespace(), cache_staleness_s=0.0,
                           clock=lambda: NOW)
        store.load_snapshot(["A", "B"], ["X", "X"], np.array([1, 0]))
    engine = Engine(NET, us_network_rate_card(), store, policies={"default": PolicyProfile()},
                    clock=lambda: NOW)
    order = Order("LAST", (Line("L1", "X", 1),), Destination(40.0, -75.0), created_at=NOW)
    first = engine.route(order, reserve=True)
    again = engine.route(order, reserve=True)
    assert first.reservation_id and again.reservation_id == first.reservation_id
    assert [s.node_id for s in again.shipments] == ["A"] and again.status.has_plan
    assert store.read(["X"]).atp[:, 0].tolist() == [0, 0]
