"""Error mapping, end to end: a scripted engine raises each kind of exception inside a real server,
and the client sees the mapped status; the server survives all of them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.decisions import Decisions
from dom_engine.domain import ConfigError, Limits, NotFoundError, Order, Plan, PlanStatus, ValidationError
from dom_engine.inventory.base import ReservationConflict
from dom_engine.inventory.event_log import MemoryEventLog
from dom_engine.service.errors import ERROR_FIELD_KEY, ErrorMappingInterceptor
from dom_engine.service.server import build_server


class ScriptedEngine:
    """Stands in for Engine: records what it was asked and raises `error` when it is set."""

    limits = Limits(time_budget_ms=42.0)

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.budgets: list[float | None] = []
        self.default_policy = "default"
        self.decisions = Decisions(MemoryEventLog(), self.clock)

    def clock(self) -> datetime:
        return datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def validate(self, order: Order) -> None:
        if self.error is not None:
            raise self.error

    def route(self, order: Order, *, reserve: bool = False, time_budget_ms: float | None = None,
              stop=None) -> Plan:
        # The servicer passes the budget inside the call's stop (counted from the call's start).
        self.budgets.append(time_budget_ms if stop is None else min(time_budget_ms, stop.remaining_ms()))
        if self.error is not None:
            raise self.error
        return Plan(order.order_id, PlanStatus.INFEASIBLE, infeasible_reason="scripted")


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[ScriptedEngine, routing_grpc_pb.RoutingServiceStub, grpc.Channel]]:
    """A server over a ScriptedEngine on a free loopback port, with a stub and channel to it."""
    engine = ScriptedEngine()
    server, port = build_server(engine)  # type: ignore[arg-type]  # duck-typed Engine
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield engine, routing_grpc_pb.RoutingServiceStub(channel), channel
    server.stop(None)


@pytest.fixture
def engine_stub(scripted):
    engine, stub, _ = scripted
    engine.error = None
    engine.budgets.clear()
    yield engine, stub
    engine.error = None


def route_error(engine_stub, error: BaseException, valid_request) -> grpc.RpcError:
    engine, stub = engine_stub
    engine.error = error
    with pytest.raises(grpc.RpcError) as info:
        stub.RouteOrder(valid_request(), timeout=10)
    return info.value


def metadata_field(err: grpc.RpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get(ERROR_FIELD_KEY)


def test_engine_validation_error_is_invalid_argument_under_order(engine_stub, valid_request) -> None:
    err = route_error(engine_stub, ValidationError("lines[0].quantity", "too many"), valid_request)
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "order.lines[0].quantity: too many"
    assert metadata_field(err) == "order.lines[0].quantity"


def test_not_found_inside_a_request_is_invalid_argument(engine_stub, valid_request) -> None:
    err = route_error(engine_stub, NotFoundError("lines[1].sku", "unknown SKU 'X'"), valid_request)
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert metadata_field(err) == "order.lines[1].sku"


def test_reservation_conflict_is_aborted(engine_stub, valid_request) -> None:
    err = route_error(engine_stub, ReservationConflict("node 'EAST' SKU 'SKU-A': wants 3, ATP is 1"),
                      valid_request)
    assert err.code() is grpc.StatusCode.ABORTED
    assert "wants 3, ATP is 1" in err.details()
    assert metadata_field(err) is None


def test_config_error_is_failed_precondition(engine_stub, valid_request) -> None:
    err = route_error(engine_stub, ConfigError("rate_card.services", "no service reaches"), valid_request)
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == "rate_card.services: no service reaches"  # server config: no "order." prefix


def test_unexpected_error_is_internal_logged_and_not_leaked(engine_stub, valid_request, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="dom_engine.service")
    err = route_error(engine_stub, RuntimeError("secret internals"), valid_request)
    assert err.code() is grpc.StatusCode.INTERNAL
    assert "secret" not in err.details()
    records = [r for r in caplog.records if r.exc_info and "RouteOrder" in r.getMessage()]
    assert len(records) == 1
    error_id = records[0].getMessage().split("error id ")[1].rstrip(")")
    assert error_id in err.details()
    assert isinstance(records[0].exc_info[1], RuntimeError)


def test_unexpected_error_in_validate_order_is_internal(engine_stub, valid_request) -> None:
    engine, stub = engine_stub
    engine.error = ZeroDivisionError("boom")
    with pytest.raises(grpc.RpcError) as info:
        stub.ValidateOrder(routing_pb.ValidateOrderRequest(order=valid_request().order), timeout=10)
    assert info.value.code() is grpc.StatusCode.INTERNAL


def test_server_survives_every_kind_of_error(scripted, engine_stub, valid_request) -> None:
    engine, stub = engine_stub
    for error in (RuntimeError("x"), KeyError("y"), ReservationConflict("z"), ConfigError("a", "b"),
                  ValidationError("c", "d"), MemoryError()):
        route_error(engine_stub, error, valid_request)
    engine.error = None
    assert stub.RouteOrder(valid_request(), timeout=10).plan.infeasible_reason == "scripted"
    health = health_pb2_grpc.HealthStub(scripted[2]).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_time_budget_defaults_and_is_shortened_to_the_deadline(engine_stub, valid_request) -> None:
    engine, stub = engine_stub
    stub.RouteOrder(valid_request())                                   # no deadline, no budget
    stub.RouteOrder(valid_request(time_budget_ms=300.0))               # no deadline
    stub.RouteOrder(valid_request(time_budget_ms=60_000.0), timeout=2)  # deadline wins
    default, requested, fitted = engine.budgets
    assert 0.0 < default <= 42.0            # the remaining part of the 42 ms default
    assert 42.0 < requested <= 300.0
    # Shorter than the 2 s deadline itself (the exact share depends on when the server reads it).
    assert fitted is not None and 1.0 <= fitted < 2000


def test_a_handler_that_aborts_keeps_its_own_status() -> None:
    """The interceptor must not turn a deliberate context.abort() into INTERNAL."""

    def deny(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "no")

    handler = grpc.method_handlers_generic_handler("t.T", {"Deny": grpc.unary_unary_rpc_method_handler(deny)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), handlers=[handler],
                         interceptors=[ErrorMappingInterceptor()], options=[("grpc.so_reuseport", 0)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel, pytest.raises(grpc.RpcError) as info:
            channel.unary_unary("/t.T/Deny")(b"", timeout=10)
        assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert info.value.details() == "no"
    finally:
        server.stop(None)
