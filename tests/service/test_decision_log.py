"""The decision log over a real loopback server: every answer and reservation change is an event,
GetPlan returns the plan as decided, ListEvents pages through the log; bad requests name the
field; with the Redis store the events are entries of a real Redis Stream; a shadow policy logs its
own plan beside the live one without holding stock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace

import grpc
import pytest
import redis

from dom_engine._proto.dom.v1 import events_pb2 as events_pb
from dom_engine._proto.dom.v1 import events_pb2_grpc as events_grpc_pb
from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import inventory_pb2_grpc as inventory_grpc_pb
from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.inventory.redis_events import RedisEventLog
from dom_engine.io.order_json import order_from_dict
from dom_engine.service.converters import order_from_proto
from dom_engine.service.errors import ERROR_FIELD_KEY
from dom_engine.service.server import build_server
from tests.redis_servers import new_namespace


class Live:
    def __init__(self, engine, channel) -> None:
        self.engine = engine
        self.routing = routing_grpc_pb.RoutingServiceStub(channel)
        self.inventory = inventory_grpc_pb.InventoryServiceStub(channel)
        self.log = events_grpc_pb.DecisionLogStub(channel)

    def events(self, order_id: str, *kinds: str) -> list[events_pb.Event]:
        self.engine.decisions.drain(5.0)
        request = events_pb.ListEventsRequest(order_id=order_id, kinds=list(kinds), limit=1000)
        return list(self.log.ListEvents(request, timeout=10).events)


def _serve(engine) -> Iterator[Live]:
    server, port = build_server(engine, "127.0.0.1:0", max_workers=2)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield Live(engine, ch)
    server.stop(None)


@pytest.fixture
def live(make_engine) -> Iterator[Live]:
    yield from _serve(make_engine())


def test_route_commit_release_are_logged_and_get_plan_returns_the_decision(live, valid_request):
    request = valid_request("dl-1", reserve=True)
    plan = live.routing.RouteOrder(request, timeout=10).plan
    assert plan.reservation_id
    live.inventory.CommitReservation(inventory_pb.ReservationRequest(reservation_id=plan.reservation_id),
                                     timeout=10)
    other = live.routing.RouteOrder(valid_request("dl-2", reserve=True), timeout=10).plan
    live.inventory.ReleaseReservation(inventory_pb.ReservationRequest(reservation_id=other.reservation_id),
                                      timeout=10)

    kinds = [e.kind for e in live.events("dl-1")]
    assert kinds == ["route", "held", "committed"]
    assert [e.kind for e in live.events("dl-2")] == ["route", "held", "released"]

    decided = live.log.GetPlan(events_pb.GetPlanRequest(order_id="dl-1"), timeout=10)
    assert decided.kind == "route" and decided.request_id == "req-dl-1"
    assert decided.status == "OPTIMAL" and decided.policy == "default"
    assert decided.reservation_id == plan.reservation_id
    assert decided.total_cost == pytest.approx(plan.total_cost)
    assert list(decided.nodes) == list(dict.fromkeys(s.node_id for s in plan.shipments))
    detail = json.loads(decided.detail_json)
    assert [s["node_id"] for s in detail["plan"]["shipments"]] == [s.node_id for s in plan.shipments]
    # the order as routed reads back as the same order (so an exported log can be replayed)
    assert order_from_dict(detail["order"]) == order_from_proto(request.order, now=live.engine.clock())
    held = live.events("dl-1", "held")[0]
    allocations = json.loads(held.detail_json)["allocations"]
    assert sorted((a["node_id"], a["sku"], a["quantity"]) for a in allocations) \
        == sorted((s.node_id, ln.sku, ln.quantity) for s in plan.shipments for ln in s.lines)


def test_reject_and_batch_decisions_are_logged(live, valid_request):
    request = valid_request("dl-rj", reserve=True)
    live.routing.RouteOrder(request, timeout=10)
    reject = routing_pb.RejectShipmentRequest(order=request.order, node_id="EAST", reason="damaged")
    live.routing.RejectShipment(reject, timeout=10)
    events = live.events("dl-rj")
    assert [e.kind for e in events] == ["route", "held", "reject", "extended"]
    detail = json.loads(events[2].detail_json)
    assert detail["rejected_node"] == "EAST" and detail["reason"] == "damaged"
    assert "EAST" not in events[3].nodes
    assert live.log.GetPlan(events_pb.GetPlanRequest(order_id="dl-rj"), timeout=10).kind == "reject"

    orders = [valid_request(f"dl-b{k}").order for k in range(3)]
    live.routing.RouteBatch(routing_pb.RouteBatchRequest(orders=orders, request_id="wave-1"), timeout=30)
    batch = live.events("", "batch")
    assert [e.order_id for e in batch] == ["dl-b0", "dl-b1", "dl-b2"]
    assert {e.request_id for e in batch} == {"wave-1"}


def test_list_events_pages_in_log_order(live, valid_request):
    for k in range(5):
        live.routing.RouteOrder(valid_request(f"dl-p{k}"), timeout=10)
    live.engine.decisions.drain(5.0)
    seen, after = [], ""
    while True:
        page = live.log.ListEvents(events_pb.ListEventsRequest(after_id=after, limit=2, kinds=["route"]),
                                   timeout=10)
        seen += [e.order_id for e in page.events]
        if not page.events:
            assert page.next_after_id == after
            break
        after = page.next_after_id
    assert seen == [f"dl-p{k}" for k in range(5)]


@pytest.mark.parametrize("request_, field", [
    (events_pb.ListEventsRequest(limit=5000), "limit"),
    (events_pb.ListEventsRequest(limit=-1), "limit"),
    (events_pb.ListEventsRequest(kinds=["routed"]), "kinds"),
    (events_pb.ListEventsRequest(after_id="yesterday"), "after_id"),
    (events_pb.ListEventsRequest(after_id="1-2-3"), "after_id"),
    (events_pb.ListEventsRequest(after_id=f"{2**64}-0"), "after_id"),
    (events_pb.ListEventsRequest(after_id="-5"), "after_id"),
    (events_pb.ListEventsRequest(order_id="x" * 129), "order_id"),
])
def test_bad_list_requests_name_the_field(live, request_, field):
    with pytest.raises(grpc.RpcError) as err:
        live.log.ListEvents(request_, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.value.trailing_metadata())[ERROR_FIELD_KEY] == field


def test_get_plan_of_an_unknown_order_is_not_found_and_an_empty_id_invalid(live):
    with pytest.raises(grpc.RpcError) as err:
        live.log.GetPlan(events_pb.GetPlanRequest(order_id="never-routed"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        live.log.GetPlan(events_pb.GetPlanRequest(order_id=""), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_shadow_policy_logs_its_plan_and_holds_nothing(make_engine, valid_request):
    engine = make_engine()
    engine = replace(engine, shadow_policy="fewest")
    for live in _serve(engine):
        before = engine.store.read(["SKU-A", "SKU-B"]).atp.copy()
        live.routing.RouteOrder(valid_request("dl-sh"), timeout=10)
        events = live.events("dl-sh")
        assert [e.kind for e in events] == ["route", "shadow"]
        shadow = events[1]
        assert shadow.policy == "fewest" and not shadow.reservation_id and shadow.status == "OPTIMAL"
        assert json.loads(shadow.detail_json)["order"]["order_id"] == "dl-sh"
        assert (engine.store.read(["SKU-A", "SKU-B"]).atp == before).all()
        # GetPlan answers the live decision, never the shadow one
        assert live.log.GetPlan(events_pb.GetPlanRequest(order_id="dl-sh"), timeout=10).kind == "route"


# ----------------------------------------------------------------------------- Redis Streams
@pytest.fixture
def redis_live(make_engine, redis_server) -> Iterator[tuple[Live, RedisEventLog, redis.Redis]]:
    namespace = new_namespace("ev")
    log = RedisEventLog(redis_server.url, namespace, max_events=1000)
    engine = replace(make_engine(), events=log)
    client = redis.Redis.from_url(redis_server.url)
    for live in _serve(engine):
        yield live, log, client
    log.close()


def test_events_are_entries_of_a_redis_stream(redis_live, valid_request):
    live, log, client = redis_live
    plan = live.routing.RouteOrder(valid_request("rs-1", reserve=True), timeout=10).plan
    assert live.engine.decisions.drain(5.0)
    entries = client.xrange(log.stream)
    assert [e[1][b"kind"] for e in entries] == [b"route", b"held"]
    assert entries[0][1][b"order_id"] == b"rs-1"
    decided = live.log.GetPlan(events_pb.GetPlanRequest(order_id="rs-1"), timeout=10)
    assert decided.event_id == entries[0][0].decode()
    assert decided.reservation_id == plan.reservation_id


def test_redis_stream_is_capped(redis_server):
    log = RedisEventLog(redis_server.url, new_namespace("cap"), max_events=100, writer=False)
    from dom_engine.domain.events import Event
    from tests.service.conftest import NOW

    for k in range(30):
        log.write([Event("route", f"o-{k * 20 + j}", NOW) for j in range(20)])
    length = redis.Redis.from_url(redis_server.url).xlen(log.stream)
    assert 100 <= length < 600      # MAXLEN ~ trims whole macro nodes: about the cap, never all 600


def test_events_wait_out_a_redis_outage(redis_server, make_engine, valid_request):
    """Redis down: routing answers (the memory store holds the stock) and its events wait in the
    buffer; Redis back: they are written, in order."""
    from tests.redis_servers import RedisServer

    own = RedisServer().start()
    log = RedisEventLog(own.url, new_namespace("out"))
    try:
        engine = replace(make_engine(), events=log)
        for live in _serve(engine):
            own.stop()
            for k in range(3):
                live.routing.RouteOrder(valid_request(f"out-{k}"), timeout=10)
            assert not live.engine.decisions.drain(0.5)
            own.start(fresh=False)
            assert live.engine.decisions.drain(15.0)
            assert [e.order_id for e in log.read(kinds=["route"])] == ["out-0", "out-1", "out-2"]
    finally:
        log.close()
        own.close()


def test_bad_after_ids_are_refused_before_redis_sees_them(redis_live):
    live, _, _ = redis_live
    for bad in (f"{2**64}-0", "0-" + "9" * 25, "12:30"):
        with pytest.raises(grpc.RpcError) as err:
            live.log.ListEvents(events_pb.ListEventsRequest(after_id=bad), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    biggest = f"{2**64 - 1}-{2**64 - 1}"
    assert list(live.log.ListEvents(events_pb.ListEventsRequest(after_id=biggest), timeout=10).events) == []


def test_log_reads_survive_time(redis_live):
    """after_id of the stream's own form pages (the memory log hands out the same form)."""
    live, log, _ = redis_live
    assert live.log.ListEvents(events_pb.ListEventsRequest(after_id=f"{int(time.time() * 1000) + 60_000}-0"),
                               timeout=10).events == []


def test_events_on_a_redis_cluster(redis_cluster):
    """The log works against a Redis Cluster too (stream and per-order keys in different slots)."""
    from dom_engine.domain.events import Event
    from tests.redis_servers import client_url
    from tests.service.conftest import NOW

    log = RedisEventLog(client_url(redis_cluster), new_namespace("cl"))
    try:
        for k in range(5):
            log.append(Event("route", f"c-{k}", NOW, status="OPTIMAL"))
        assert log.flush(10.0)
        assert [e.order_id for e in log.read()] == [f"c-{k}" for k in range(5)]
        latest = log.latest_decision("c-3")
        assert latest is not None and latest.order_id == "c-3"
        assert log.read(after_id=log.read()[2].event_id)[0].order_id == "c-3"
    finally:
        log.close()
