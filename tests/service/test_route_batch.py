"""RoutingService.RouteBatch over a real loopback gRPC server on the demo network (100 nodes, 5,000
SKUs): plans and KPIs, reservations holding exactly the plans' units in the in-memory store and in a
real redis-server (a retried batch holds nothing twice), INVALID_ARGUMENT naming the field for bad
batches, and messages beyond gRPC's default 4 MiB ([server] max_message_mb)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.engine import Engine
from dom_engine.domain.batch import BatchSettings
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.io.demo import order_stream
from dom_engine.service.converters import order_to_proto
from dom_engine.service.errors import ERROR_FIELD_KEY
from dom_engine.service.server import build_server, message_options
from dom_engine.testing import demo_engine
from tests.redis_servers import new_namespace

MiB = 1024 * 1024
MAX_ORDERS = 6000


def _engine() -> Engine:
    return demo_engine(batch=BatchSettings(max_orders=MAX_ORDERS))


def _orders(n: int, seed: int = 7) -> list[routing_pb.Order]:
    """`n` demo orders "B-00000", ... promised in 5 days."""
    stream = order_stream(seed, n, created_at=datetime.now(UTC), deliver_in_days=5)
    return [order_to_proto(replace(order, order_id=f"B-{k:05d}")) for k, order in enumerate(stream)]


class Served:
    """An engine behind a started server on a free port, and a stub on a channel to it."""

    def __init__(self, engine: Engine, max_message_mb: int = 64) -> None:
        self.engine = engine
        self.server, port = build_server(engine, "127.0.0.1:0", max_workers=2, max_message_mb=max_message_mb)
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=message_options(64))
        self.stub = routing_grpc_pb.RoutingServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        self.server.stop(None)


@pytest.fixture(scope="module")
def demo() -> Iterator[Served]:
    """A demo engine (batch limit MAX_ORDERS) behind a server shared by the tests that hold nothing."""
    served = Served(_engine())
    yield served
    served.close()


@pytest.fixture
def serve() -> Iterator:
    """Factory: serve(engine, max_message_mb=64) -> Served, stopped after the test."""
    made: list[Served] = []

    def make(engine: Engine, max_message_mb: int = 64) -> Served:
        made.append(Served(engine, max_message_mb))
        return made[-1]

    yield make
    for served in made:
        served.close()


def _check_kpis(resp: routing_pb.RouteBatchResponse, orders: list[routing_pb.Order]) -> None:
    k = resp.kpis
    shipped = sum(line.quantity for p in resp.plans for s in p.shipments for line in s.lines)
    assert k.orders == len(orders) == len(resp.plans)
    assert k.units_ordered == sum(line.quantity for o in orders for line in o.lines)
    assert k.units_shipped == shipped == sum(k.units_by_node.values())
    assert k.shipments == sum(len(p.shipments) for p in resp.plans) == sum(k.shipments_by_node.values())
    assert k.shipments_per_order == pytest.approx(k.shipments / k.orders)
    assert k.fill_rate == pytest.approx(k.units_shipped / k.units_ordered)
    assert k.shipping_cost == pytest.approx(sum(p.shipping_cost for p in resp.plans))
    assert k.total_cost == pytest.approx(k.shipping_cost + k.penalty_cost)
    assert k.orders_complete + k.orders_unallocated <= k.orders
    assert resp.lower_bound <= resp.objective + 1e-6
    assert resp.gap == pytest.approx((resp.objective - resp.lower_bound) / resp.objective, abs=1e-9)


def test_route_batch_on_the_demo(demo):
    orders = _orders(60)
    resp = demo.stub.RouteBatch(routing_pb.RouteBatchRequest(orders=orders, request_id="wave-1",
                                                             time_budget_ms=5000), timeout=60)
    assert resp.status in (routing_pb.BATCH_STATUS_OPTIMAL, routing_pb.BATCH_STATUS_FEASIBLE)
    assert [p.order_id for p in resp.plans] == [o.order_id for o in orders]   # request order
    assert all(p.status == routing_pb.PLAN_STATUS_OPTIMAL and p.shipments for p in resp.plans)
    assert not any(p.reservation_id for p in resp.plans)
    assert resp.request_id == "wave-1" and resp.snapshot_version >= 1 and resp.solve_time_ms > 0
    assert resp.kpis.fill_rate == 1.0 and resp.kpis.orders_complete == 60
    _check_kpis(resp, orders)


def _held(store) -> np.ndarray:
    """Units the in-memory store holds, per (node, SKU)."""
    return store.arrays()[2]


def _plan_units(plans, network, skus) -> np.ndarray:
    col = {sku: j for j, sku in enumerate(skus)}
    units = np.zeros((len(network), len(skus)), dtype=np.int64)
    for p in plans:
        for s in p.shipments:
            for line in s.lines:
                units[network.index_of(s.node_id), col[line.sku]] += line.quantity
    return units


def _cells(allocations) -> dict[tuple[str, str], int]:
    return {(a.node_id, a.sku): a.quantity for a in allocations}


def _plan_cells(plan: routing_pb.Plan) -> dict[tuple[str, str], int]:
    cells: dict[tuple[str, str], int] = {}
    for s in plan.shipments:
        for line in s.lines:
            cells[s.node_id, line.sku] = cells.get((s.node_id, line.sku), 0) + line.quantity
    return cells


def test_reserve_holds_exactly_the_plans_units_and_a_retry_holds_nothing_twice(serve):
    served = serve(_engine())
    store, orders = served.engine.store, _orders(40, seed=11)
    request = routing_pb.RouteBatchRequest(orders=orders, reserve=True, time_budget_ms=5000)
    first = served.stub.RouteBatch(request, timeout=60)
    assert all(p.reservation_id == f"res-{p.order_id}" for p in first.plans if p.shipments)
    held = _held(store)
    assert held.any() and (held == _plan_units(first.plans, served.engine.network, store.skus)).all()
    for p in first.plans:
        assert _cells(store.reservation(p.reservation_id).allocations) == _plan_cells(p)

    again = served.stub.RouteBatch(request, timeout=60)
    assert (_held(store) == held).all()                                        # nothing held twice
    assert [p.reservation_id for p in again.plans] == [p.reservation_id for p in first.plans]
    assert [list(p.shipments) for p in again.plans] == [list(p.shipments) for p in first.plans]
    _check_kpis(again, orders)


def _redis_engine(url: str) -> Engine:
    """The demo engine over a RedisStore loaded with the demo stock."""
    base = _engine()
    skus, on_hand, _, safety = base.store.arrays()
    rows, cols = np.nonzero(on_hand | safety)
    node_ids, sku_ids = np.array(base.network.node_ids, dtype=object), np.array(skus, dtype=object)
    store = RedisStore(base.network, url, namespace=new_namespace("batch"), cache_staleness_s=0.0)
    store.load_snapshot(node_ids[rows], sku_ids[cols], on_hand[rows, cols], safety[rows, cols])
    return replace(base, store=store)


def test_reserve_through_the_redis_store(serve, redis_server):
    served = serve(_redis_engine(redis_server.url))
    store, network, orders = served.engine.store, served.engine.network, _orders(40, seed=13)
    skus = sorted({line.sku for o in orders for line in o.lines})
    before = store.read(skus).atp
    request = routing_pb.RouteBatchRequest(orders=orders, reserve=True, time_budget_ms=5000)
    first = served.stub.RouteBatch(request, timeout=60)
    units = _plan_units(first.plans, network, skus)
    assert units.any() and (before - store.read(skus).atp == units).all()    # exactly the plans' units
    for p in first.plans:
        if p.shipments:
            assert _cells(store.reservation(p.reservation_id).allocations) == _plan_cells(p)

    again = served.stub.RouteBatch(request, timeout=60)
    assert (before - store.read(skus).atp == units).all()                     # nothing held twice
    assert [p.reservation_id for p in again.plans] == [p.reservation_id for p in first.plans]
    assert [list(p.shipments) for p in again.plans] == [list(p.shipments) for p in first.plans]
    store.client.close()


# ----------------------------------------------------------------------------- bad input
def _duplicate(orders):
    orders[3].order_id = orders[1].order_id


def _zero_quantity(orders):
    orders[2].lines[0].quantity = 0


def _unknown_sku(orders):
    orders[4].lines[0].sku = "SKU-NOPE"


def _no_destination(orders):
    orders[0].ClearField("destination")


def _bad_date(orders):
    orders[1].deliver_by.month = 13


def _bad_policy(orders):
    orders[5].options.policy = "nope"


@pytest.mark.parametrize(("mutate", "field"), [
    (_duplicate, "orders[3].order_id"),
    (_zero_quantity, "orders[2].lines[0].quantity"),
    (_unknown_sku, "orders[4].lines[0].sku"),
    (_no_destination, "orders[0].destination"),
    (_bad_date, "orders[1].deliver_by"),
    (_bad_policy, "orders[5].options.policy"),
])
def test_a_bad_order_fails_the_batch_naming_its_field(demo, mutate, field):
    orders = _orders(6)
    mutate(orders)
    with pytest.raises(grpc.RpcError) as info:
        demo.stub.RouteBatch(routing_pb.RouteBatchRequest(orders=orders, reserve=True), timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(f"{field}: ")
    assert (ERROR_FIELD_KEY, field) in tuple(info.value.trailing_metadata())
    assert not _held(demo.engine.store).any()


@pytest.mark.parametrize(("make_request", "field", "words"), [
    (lambda: routing_pb.RouteBatchRequest(), "orders", "at least one order"),
    (lambda: routing_pb.RouteBatchRequest(orders=_orders(MAX_ORDERS + 1, seed=3)), "orders",
     f"{MAX_ORDERS + 1} orders exceed the batch limit of {MAX_ORDERS}"),
    (lambda: routing_pb.RouteBatchRequest(orders=_orders(2), time_budget_ms=-1), "time_budget_ms",
     "must be within"),
    (lambda: routing_pb.RouteBatchRequest(orders=_orders(2), request_id="x" * 129), "request_id",
     "longer than 128"),
])
def test_bad_batches_are_invalid_arguments(demo, make_request, field, words):
    with pytest.raises(grpc.RpcError) as info:
        demo.stub.RouteBatch(make_request(), timeout=30)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(f"{field}: ") and words in info.value.details()
    assert (ERROR_FIELD_KEY, field) in tuple(info.value.trailing_metadata())


# ----------------------------------------------------------------------------- large messages
def test_a_batch_of_5000_orders(demo):
    """A message over 1 MiB each way. The budget is generous so that a slow, shared machine (measured
    2.5x slower some days) still reaches every order: this test is about size, not speed."""
    orders = _orders(5000, seed=17)
    request = routing_pb.RouteBatchRequest(orders=orders, time_budget_ms=60_000)
    resp = demo.stub.RouteBatch(request, timeout=180)
    assert len(resp.plans) == 5000 and resp.kpis.orders == 5000
    assert all(p.status == routing_pb.PLAN_STATUS_OPTIMAL for p in resp.plans)
    assert [p.order_id for p in resp.plans[:3]] == [o.order_id for o in orders[:3]]
    assert resp.ByteSize() > MiB
    _check_kpis(resp, orders)


def _wide_orders() -> list[routing_pb.Order]:
    """1,000 orders of 200 lines (over 4 MiB in all); the very last line has no quantity."""
    where = routing_pb.Destination(latitude=40.7, longitude=-74.0)
    lines = [routing_pb.Line(line_id=f"line-{j:03d}", sku=f"SKU-{j + 1:05d}", quantity=1) for j in range(200)]
    orders = [routing_pb.Order(order_id=f"W-{k:04d}", destination=where, lines=lines) for k in range(1000)]
    orders[-1].lines[-1].quantity = 0
    return orders


def test_requests_beyond_4_mib_are_received_and_the_limit_is_configurable(demo, serve):
    request = routing_pb.RouteBatchRequest(orders=_wide_orders())
    assert request.ByteSize() > 4 * MiB
    with pytest.raises(grpc.RpcError) as parsed:   # received and parsed: the bad line deep inside is named
        demo.stub.RouteBatch(request, timeout=60)
    assert parsed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert parsed.value.details().startswith("orders[999].lines[199].quantity: ")

    small = serve(_engine(), max_message_mb=1)
    with pytest.raises(grpc.RpcError) as refused:
        small.stub.RouteBatch(request, timeout=60)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
