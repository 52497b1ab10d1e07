"""Deadlines and cancellation over a real gRPC server on loopback (issue 9 item 3): when the
client gives up, the server's engine sees the call's stop cancelled and ends its work, instead
of computing on for the whole budget."""

from __future__ import annotations

import threading

import grpc
import pytest

from benchmarks.batch_data import BATCH_NOW, wave
from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.engine import Engine
from dom_engine.domain.stop import Stopped
from dom_engine.inventory.memory import MemoryStore
from dom_engine.service.converters import order_to_proto
from dom_engine.service.server import build_server

N_ORDERS = 2_000


class RecordingEngine(Engine):
    """The real Engine, recording how each route_batch call ended (the stop it was given, whether
    it was cancelled, what it returned or raised)."""

    def route_batch(self, orders, **kwargs):
        record = {"stop": kwargs.get("stop")}
        self.calls.append(record)
        self.started.set()
        try:
            record["result"] = super().route_batch(orders, **kwargs)
            return record["result"]
        except Exception as exc:
            record["raised"] = exc
            raise
        finally:
            record["done"].set()


@pytest.fixture(scope="module")
def wave_server():
    """A server over the fixed-seed 2,000-order wave's network and stock; yields (stub, engine)."""
    w = wave(N_ORDERS)
    store = MemoryStore.from_arrays(w.network, w.stock.skus, w.stock.atp, clock=lambda: BATCH_NOW)
    engine = RecordingEngine(w.network, w.rate_card, store, policies={"default": w.policies[0]},
                             clock=lambda: BATCH_NOW)
    engine.calls, engine.started = [], threading.Event()
    engine.warm_up()   # as `dom serve` does: a cold first call would spend the test's deadline loading
    server, port = build_server(engine, "127.0.0.1:0", max_workers=2)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield routing_grpc_pb.RoutingServiceStub(channel), engine, w
    server.stop(None)


def _request(w, budget_ms: float | None) -> routing_pb.RouteBatchRequest:
    return routing_pb.RouteBatchRequest(orders=[order_to_proto(o) for o in w.orders], request_id="dl",
                                        time_budget_ms=budget_ms)


def _run(engine, call):
    done = threading.Event()
    before = len(engine.calls)

    class Calls(list):
        def append(self, record):
            record["done"] = done
            super().append(record)

    engine.calls = Calls(engine.calls)
    outcome = call()
    assert done.wait(120), "the server's engine never finished"
    return outcome, engine.calls[before]


def test_expired_deadline_stops_the_server_work(wave_server):
    """A 10 s budget, a 1 s deadline: the server's batch ends at its share of the deadline
    (Stopped, or plans cut short), long before its 10 s budget. The client gets either those
    plans in time (FEASIBLE, one per order: the answer's conversion is kept inside the deadline)
    or DEADLINE_EXCEEDED on a machine too loaded to send them in time."""
    stub, engine, w = wave_server
    request = _request(w, 10_000.0)

    def call():
        try:
            return stub.RouteBatch(request, timeout=1.0)   # parsing 2,000 orders: ~70 ms
        except grpc.RpcError as err:
            return err.code()

    outcome, record = _run(engine, call)
    if isinstance(outcome, grpc.StatusCode):
        assert outcome is grpc.StatusCode.DEADLINE_EXCEEDED
    else:
        assert outcome.status == routing_pb.BATCH_STATUS_FEASIBLE
        assert len(outcome.plans) == N_ORDERS and outcome.lower_bound <= outcome.objective + 1e-9
    assert record["stop"] is not None
    if "raised" in record:
        assert isinstance(record["raised"], Stopped)
    else:
        assert record["result"].stats["stopped"] == 1.0


def test_cancelled_call_stops_the_server_work(wave_server):
    """The client cancels a call with a 10 s budget and no deadline: the server's stop is
    cancelled and the batch ends without using its budget."""
    stub, engine, w = wave_server
    request = _request(w, 10_000.0)

    def call():
        engine.started.clear()
        future = stub.RouteBatch.future(request)
        # Cancel once the engine works (parsing on a slow machine may take longer than any
        # fixed delay; a call cancelled while parsing never reaches the engine).
        assert engine.started.wait(60)
        future.cancel()
        with pytest.raises(grpc.FutureCancelledError):
            future.result(timeout=60)
        return None

    _, record = _run(engine, call)
    assert record["stop"].cancelled
    if "raised" in record:
        assert isinstance(record["raised"], Stopped)
    else:
        assert record["result"].stats["stopped"] == 1.0


def test_budget_answers_feasible_with_a_plan_for_every_order(wave_server):
    """time_budget_ms 100 on 2,000 orders: building them all alone takes longer (~0.3 ms each),
    so the batch answers with plans for the orders it reached, NO_PLAN_FOUND for the rest, a valid
    bound, and says it stopped."""
    stub, engine, w = wave_server
    reply, record = _run(engine, lambda: stub.RouteBatch(_request(w, 100.0), timeout=60))
    assert len(reply.plans) == N_ORDERS
    assert reply.status == routing_pb.BATCH_STATUS_FEASIBLE
    assert reply.lower_bound <= reply.objective + 1e-9
    result = record["result"]
    assert result.stats["stopped"] == 1.0 and result.stats["unreached"] > 0
    assert {p.order_id for p in result.plans} == {o.order_id for o in w.orders}
    assert all(not p.shipments for p in result.plans[-int(result.stats["unreached"]):])
