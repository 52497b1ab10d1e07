"""Hostile requests, generated from the proto descriptors: every unary RPC of RoutingService and
InventoryService gets well-typed messages whose fields take edge values (int64 extremes, NaN and
infinities, empty / control-character / over-long / unicode strings, dates out of range, Timestamps
past year 9999, repeated fields empty or duplicated, ids that exist). Whatever comes in, the server
answers a result or a client-side status — never INTERNAL or UNKNOWN — and keeps serving.

Generating from descriptors means a field added to the protos is fuzzed without touching this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.service.server import build_server

from .conftest import NODES, SKUS

FD = st.sampled_from  # shorthand
INTS = FD([0, 1, -1, 2, 3, 7, 2**31 - 1, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63)])
INT32S = FD([0, 1, -1, 2, 3, 12, 31, 2026, 2**31 - 1, -(2**31)])
DOUBLES = FD([0.0, -0.0, 1.0, -1.0, 0.5, 40.7, -74.0, 91.0, -181.0, 1e308, -1e308, 5e-324,
              float("nan"), float("inf"), float("-inf"), 1e-9, 100.0, 30000.0])
IDS = [n.node_id for n in NODES] + list(SKUS) + ["res-X1", "default", "fewest", "ground"]
STRINGS = st.one_of(
    FD(IDS),
    FD(["", " ", "\x00", "a\nb", "é", "😀" * 3, "X" * 300, "res-", "SKU-A;EAST", "%s%n{}"]),
    st.text(max_size=12),
)
# Id fields mostly get ids that exist, so the checks behind the first one are reached.
NAMED = {
    "node_id": FD([n.node_id for n in NODES]),
    "excluded_nodes": FD([n.node_id for n in NODES]),
    "sku": FD(list(SKUS)),
    "event_id": st.uuids().map(str),
    "order_id": FD(["FZ-1", "FZ-2", "FZ-3"]),
    "reservation_id": FD(["res-FZ-1", "res-FZ-2", "res-FZ-3"]),
}
# Timestamps: seconds past what datetime can hold, negative nanos, etc.
TIMESTAMP_SECONDS = FD([0, 1, -1, 1_772_000_000, 253_402_300_800, -62_135_596_801, 2**63 - 1, -(2**63)])
NANOS = FD([0, 1, 999_999_999, -1, 10**9, 2**31 - 1])
MAX_DEPTH = 4


def _value(field, depth: int) -> st.SearchStrategy:
    """A strategy for one value of `field` (a protobuf FieldDescriptor)."""
    fd = field
    if fd.type == fd.TYPE_MESSAGE:
        return messages(fd.message_type, depth + 1)
    if fd.type == fd.TYPE_ENUM:
        return FD([v.number for v in fd.enum_type.values] + [99])
    if fd.type == fd.TYPE_BOOL:
        return st.booleans()
    if fd.type in (fd.TYPE_DOUBLE, fd.TYPE_FLOAT):
        return DOUBLES if fd.type == fd.TYPE_DOUBLE else FD([0.0, 1.0, -1.0, float("nan"), float("inf")])
    if fd.type == fd.TYPE_STRING:
        return st.one_of(NAMED[fd.name], STRINGS) if fd.name in NAMED else STRINGS
    if fd.type in (fd.TYPE_INT32, fd.TYPE_SINT32, fd.TYPE_SFIXED32):
        return INT32S
    if fd.type in (fd.TYPE_INT64, fd.TYPE_SINT64, fd.TYPE_SFIXED64):
        return INTS
    if fd.type in (fd.TYPE_UINT32, fd.TYPE_FIXED32):
        return FD([0, 1, 2**32 - 1])
    if fd.type in (fd.TYPE_UINT64, fd.TYPE_FIXED64):
        return FD([0, 1, 2**64 - 1])
    if fd.type == fd.TYPE_BYTES:
        return st.binary(max_size=8)
    raise AssertionError(f"unhandled field type {fd.type} of {fd.full_name}")


@st.composite
def _message(draw, descriptor, depth: int, share: float = 0.5):
    cls = _CLASSES[descriptor.full_name]
    msg = cls()
    if descriptor.full_name == "google.protobuf.Timestamp":
        msg.seconds, msg.nanos = draw(TIMESTAMP_SECONDS), draw(NANOS)
        return msg
    for field in descriptor.fields:
        # Leave many fields at their defaults so the valid paths are reached too.
        if depth >= MAX_DEPTH or draw(st.floats(0, 1)) >= share:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            continue
        if field.is_repeated:
            values = draw(st.lists(_value(field, depth), max_size=3))
            container = getattr(msg, field.name)
            if field.type == field.TYPE_MESSAGE:
                for v in values:
                    container.add().CopyFrom(v)
            else:
                container.extend(values)
        elif field.type == field.TYPE_MESSAGE:
            getattr(msg, field.name).CopyFrom(draw(_value(field, depth)))
        else:
            setattr(msg, field.name, draw(_value(field, depth)))
    return msg


def messages(descriptor, depth: int = 0) -> st.SearchStrategy:
    """Messages of `descriptor` with edge values in a random subset of fields, recursively."""
    return _message(descriptor, depth)


def _order(order_id: str) -> routing_pb.Order:
    return routing_pb.Order(order_id=order_id,
                            destination=routing_pb.Destination(latitude=40.7, longitude=-74.0),
                            lines=[routing_pb.Line(line_id="L1", sku="SKU-A", quantity=2),
                                   routing_pb.Line(line_id="L2", sku="SKU-B", quantity=1)])


# A valid request per RPC: half the examples are one of these with a few fields overwritten or
# appended (MergeFrom), so the checks deep inside the handlers are reached, not only the first.
TEMPLATES = {
    "RouteOrder": routing_pb.RouteOrderRequest(order=_order("FZ-1")),
    "ValidateOrder": routing_pb.ValidateOrderRequest(order=_order("FZ-2")),
    "RejectShipment": routing_pb.RejectShipmentRequest(order=_order("FZ-1"), node_id="EAST"),
    "RouteBatch": routing_pb.RouteBatchRequest(orders=[_order("FZ-3"), _order("FZ-4")]),
    "UpsertInventory": inventory_pb.UpsertInventoryRequest(deltas=inventory_pb.StockDeltas(deltas=[
        inventory_pb.StockDelta(event_id="e1", node_id="EAST", sku="SKU-A", adjust=1)])),
    "GetReservation": inventory_pb.ReservationRequest(reservation_id="res-FZ-1"),
    "CommitReservation": inventory_pb.ReservationRequest(reservation_id="res-FZ-1"),
    "ReleaseReservation": inventory_pb.ReservationRequest(reservation_id="res-FZ-1"),
    "RouteReturn": routing_pb.RouteReturnRequest(
        return_id="FZ-R", origin=routing_pb.Destination(latitude=40.7, longitude=-74.0),
        lines=[routing_pb.ReturnLine(line_id="1", sku="SKU-A", quantity=1,
                                     condition=routing_pb.RETURN_CONDITION_OPENED)]),
    "CommitReturn": routing_pb.CommitReturnRequest(return_id="FZ-R", received=[routing_pb.ReturnReceipt(
        line_id="1", node_id="EAST", sku="SKU-A", quantity=1, disposition=routing_pb.DISPOSITION_RESTOCK)]),
}


def _slots(msg) -> list[tuple[object, object]]:
    """(message, field) for every field of `msg` and of the messages set inside it: the places a
    one-field mutation can hit."""
    out = []
    for field in msg.DESCRIPTOR.fields:
        out.append((msg, field))
        if field.type != field.TYPE_MESSAGE or (field.message_type.GetOptions().map_entry):
            continue
        if field.is_repeated:
            for item in getattr(msg, field.name):
                out.extend(_slots(item))
        elif msg.HasField(field.name):
            out.extend(_slots(getattr(msg, field.name)))
    return out


@st.composite
def _mutated(draw, template):
    """The valid template with one to three of its fields (at any depth) set to edge values."""
    msg = type(template)()
    msg.CopyFrom(template)
    if msg.DESCRIPTOR.name == "UpsertInventoryRequest":   # a fresh event, or it is deduplicated
        msg.deltas.deltas[0].event_id = str(draw(st.uuids()))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(msg)
        target, field = slots[draw(st.integers(0, len(slots) - 1))]
        value = draw(_value(field, 1) if not field.is_repeated else st.lists(_value(field, 1), max_size=2))
        if field.is_repeated:
            target.ClearField(field.name)
            container = getattr(target, field.name)
            for v in value:
                container.add().CopyFrom(v) if field.type == field.TYPE_MESSAGE else container.append(v)
        elif field.type == field.TYPE_MESSAGE:
            getattr(target, field.name).CopyFrom(value)
        else:
            setattr(target, field.name, value)
    return msg


def requests(method) -> st.SearchStrategy:
    """Fully random requests of `method`, and its valid template with a few fields changed."""
    return st.one_of(messages(method.input_type), _mutated(TEMPLATES[method.name]))


def _classes() -> dict[str, type]:
    from google.protobuf import message_factory, timestamp_pb2

    out = {"google.protobuf.Timestamp": timestamp_pb2.Timestamp}
    for module in (routing_pb, inventory_pb):
        for name in module.DESCRIPTOR.message_types_by_name:
            _collect(module.DESCRIPTOR.message_types_by_name[name], out, message_factory)
    return out


def _collect(descriptor, out: dict, factory) -> None:
    out[descriptor.full_name] = factory.GetMessageClass(descriptor)
    for nested in descriptor.nested_types:
        _collect(nested, out, factory)


_CLASSES = _classes()
RPCS = [(service, method)
        for module, service_name in ((routing_pb, "RoutingService"), (inventory_pb, "InventoryService"))
        for service in [module.DESCRIPTOR.services_by_name[service_name]]
        for method in service.methods]


@pytest.fixture(scope="module", params=["memory", "redis"])
def fuzz_channel(request: pytest.FixtureRequest, make_engine) -> Iterator[grpc.Channel]:
    """Its own server and engine (fuzzed reservations and stock changes stay out of other tests),
    on the memory store and on RedisStore over a real redis-server (its Lua scripts and key
    encoding are other code paths)."""
    engine, store = make_engine(), None
    if request.param == "redis":
        from dom_engine.inventory.redis_store import RedisStore
        from tests.redis_servers import client_url, new_namespace

        store = RedisStore(engine.network, client_url(request.getfixturevalue("redis_server")),
                           namespace=new_namespace("fuzz"), cache_staleness_s=0.0, clock=engine.clock)
        skus, on_hand, _, safety = engine.store.arrays()
        rows, cols = np.nonzero(on_hand)
        node_ids, sku_ids = np.array(engine.network.node_ids, dtype=object), np.array(skus, dtype=object)
        store.load_snapshot(node_ids[rows], sku_ids[cols], on_hand[rows, cols], safety[rows, cols])
        engine = replace(engine, store=store)
    server, port = build_server(engine, "127.0.0.1:0", max_workers=4)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch
    server.stop(None)
    if store is not None:
        store.client.close()


CLIENT_SIDE = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
               grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED,
               grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.DEADLINE_EXCEEDED}


@pytest.mark.parametrize("service, method", RPCS, ids=[m.name for _, m in RPCS])
def test_fuzzed_requests_never_get_internal(fuzz_channel, service, method):
    call = fuzz_channel.unary_unary(f"/{service.full_name}/{method.name}",
                                    request_serializer=lambda m: m.SerializeToString(),
                                    response_deserializer=_CLASSES[method.output_type.full_name].FromString)
    seen: dict[str, int] = {}

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(requests(method))
    def one(request):
        try:
            answer = call(request, timeout=30)
            outcome = ("OK" if method.name != "ValidateOrder"  # whose answer says valid or not
                       else "valid" if answer.valid else "invalid")
            seen[outcome] = seen.get(outcome, 0) + 1
        except grpc.RpcError as err:
            assert err.code() in CLIENT_SIDE, (err.code(), err.details(), request)
            seen[err.code().name] = seen.get(err.code().name, 0) + 1

    one()
    # The generator reaches past the first check: some requests are answered, some refused.
    assert len(seen) >= 2, seen
