"""Request bodies that do not parse as the request message, over a real server on loopback.

grpcio's own deserializer answers such a body INTERNAL and never finishes the stream; after
`grpc.max_concurrent_streams` of them the HTTP/2 connection refuses every new stream, and since a
process's channels to one target share that connection, the whole client process is cut off.
Each test sends one more bad body than the server allows streams on one connection, then checks
that every call got INVALID_ARGUMENT naming the request type and that a NEW channel of this process
(the first one still open, so the connection is shared) still gets a Health check answered.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.service.server import SERVER_OPTIONS, build_server

BAD_BODY = b"\xff\xff\xff"  # field number 0 / truncated varint: never a valid message
# One call more than the server lets pile up on one connection: enough to wedge it if bad calls
# were never finished.
CALLS = dict(SERVER_OPTIONS)["grpc.max_concurrent_streams"] + 1


def _unary_methods() -> list[tuple[str, str]]:
    """(full method path, request type) of every RPC of both services and of health Check."""
    services = [routing_pb.DESCRIPTOR.services_by_name["RoutingService"],
                inventory_pb.DESCRIPTOR.services_by_name["InventoryService"]]
    methods = [(f"/{s.full_name}/{m.name}", m.input_type.full_name) for s in services for m in s.methods]
    check = health_pb2.DESCRIPTOR.services_by_name["Health"].methods_by_name["Check"]
    methods.append((f"/{health.SERVICE_NAME}/Check", check.input_type.full_name))
    return methods


UNARY_METHODS = _unary_methods()


@pytest.fixture
def target(make_engine) -> Iterator[str]:
    """A fresh server on a free loopback port for each test (a wedged connection stays with it)."""
    server, port = build_server(make_engine(), "127.0.0.1:0", max_workers=4)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def _raw(channel: grpc.Channel, method: str, kind: str = "unary_unary"):
    return getattr(channel, kind)(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)


def _health_on_new_channel(target: str) -> int:
    with grpc.insecure_channel(target) as fresh:
        return health_pb2_grpc.HealthStub(fresh).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def test_every_unary_rpc_of_both_services_is_covered() -> None:
    names = {m for m, _ in UNARY_METHODS}
    assert "/dom.v1.RoutingService/RouteOrder" in names
    assert "/dom.v1.InventoryService/UpsertInventory" in names
    assert len(names) == 6 + 4 + 1  # 6 routing RPCs (returns included), 4 inventory RPCs, health Check


@pytest.mark.parametrize(("method", "request_type"), UNARY_METHODS, ids=[m for m, _ in UNARY_METHODS])
def test_malformed_body_is_invalid_argument_and_connection_stays_usable(target, method, request_type) -> None:
    with grpc.insecure_channel(target) as channel:
        call = _raw(channel, method)
        outcomes = []
        for _ in range(CALLS):
            with pytest.raises(grpc.RpcError) as info:
                call(BAD_BODY, timeout=10)
            outcomes.append((info.value.code(), info.value.details()))
        # The first channel stays open, so the new one shares its connection.
        assert _health_on_new_channel(target) == health_pb2.HealthCheckResponse.SERVING
        assert {code for code, _ in outcomes} == {grpc.StatusCode.INVALID_ARGUMENT}
        assert all(request_type in details for _, details in outcomes), outcomes[0]
        # And the same channel still serves a body that parses (all fields default) of the same RPC:
        # answered, or refused by validation, but not as unparseable and not UNAVAILABLE.
        try:
            call(b"", timeout=10)
        except grpc.RpcError as err:
            assert err.code() is grpc.StatusCode.INVALID_ARGUMENT, err
            assert "does not parse" not in err.details()


def test_invalid_utf8_in_a_string_field_is_invalid_argument(target) -> None:
    # RouteOrderRequest{order: Order{order_id: b"\xff"}}: well-formed wire format, but proto3
    # strings must be UTF-8, so it does not parse either.
    body = b"\x0a\x03\x0a\x01\xff"
    with grpc.insecure_channel(target) as channel:
        with pytest.raises(grpc.RpcError) as info:
            _raw(channel, "/dom.v1.RoutingService/RouteOrder")(body, timeout=10)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "request body (5 bytes) does not parse as dom.v1.RouteOrderRequest"


def test_malformed_health_watch_is_invalid_argument_and_connection_stays_usable(target) -> None:
    with grpc.insecure_channel(target) as channel:
        watch = _raw(channel, f"/{health.SERVICE_NAME}/Watch", "unary_stream")
        codes: set[tuple[grpc.StatusCode, str]] = set()
        for _ in range(CALLS):
            with pytest.raises(grpc.RpcError) as info:
                list(watch(BAD_BODY, timeout=10))
            codes.add((info.value.code(), info.value.details()))
        assert _health_on_new_channel(target) == health_pb2.HealthCheckResponse.SERVING
        assert {code for code, _ in codes} == {grpc.StatusCode.INVALID_ARGUMENT}
        assert all("grpc.health.v1.HealthCheckRequest" in details for _, details in codes)


def test_malformed_reflection_message_is_invalid_argument_and_connection_stays_usable(target) -> None:
    method = f"/{reflection.SERVICE_NAME}/ServerReflectionInfo"
    good = reflection_pb2.ServerReflectionRequest(list_services="").SerializeToString()
    with grpc.insecure_channel(target) as channel:
        info_call = _raw(channel, method, "stream_stream")
        codes: set[tuple[grpc.StatusCode, str]] = set()
        for _ in range(CALLS):
            # A good request answered, then a bad one ends the stream.
            responses = info_call(iter([good, BAD_BODY]), timeout=10)
            assert reflection_pb2.ServerReflectionResponse.FromString(next(responses)).HasField(
                "list_services_response")
            with pytest.raises(grpc.RpcError) as info:
                list(responses)
            codes.add((info.value.code(), info.value.details()))
        assert _health_on_new_channel(target) == health_pb2.HealthCheckResponse.SERVING
        assert {code for code, _ in codes} == {grpc.StatusCode.INVALID_ARGUMENT}
        assert all("grpc.reflection.v1alpha.ServerReflectionRequest" in details for _, details in codes)


def test_well_formed_health_watch_still_streams(target) -> None:
    """The streaming handlers now get raw bytes parsed by the interceptor: a good Watch still works."""
    with grpc.insecure_channel(target) as channel:
        responses = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=10)
        assert next(responses).status == health_pb2.HealthCheckResponse.SERVING
        responses.cancel()
