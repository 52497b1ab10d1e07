"""Huge values (1 MB SKUs, node ids, order ids) in requests over a real server on loopback: the
error still arrives as INVALID_ARGUMENT naming the field, its text and log lines are bounded, and
the echoed value is cut to a prefix plus its length (not RESOURCE_EXHAUSTED on the client's
metadata limit, and not a megabyte in every log line)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
import pytest

from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import inventory_pb2_grpc as inventory_grpc_pb
from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.domain import ValidationError
from dom_engine.domain.errors import ECHO_PREFIX, MAX_TEXT, shorten, under_field
from dom_engine.service.errors import ERROR_FIELD_KEY, MAX_DETAILS_BYTES, MAX_FIELD_BYTES

MB = 1 << 20
HUGE = "X" * MB
HUGE_SPACED = "A " * (MB // 2)          # no long run without a space: only the overall cap applies
HUGE_WIDE = "\N{GRINNING FACE}" * MB   # 4 MB of UTF-8; percent-encoded on the wire it would be 12 MB
# Longest log message one call may write (the call's own lines, with a cut echo in them).
MAX_LOG_CHARS = 2 * MAX_TEXT


def _order(order_id: str = "o-huge", sku: str = "SKU-A", excluded: str | None = None,
           policy: str = "") -> routing_pb.Order:
    order = routing_pb.Order(
        order_id=order_id,
        lines=[routing_pb.Line(line_id="1", sku=sku, quantity=1),
               routing_pb.Line(line_id="2", sku="SKU-B", quantity=1)],
        destination=routing_pb.Destination(latitude=40.71, longitude=-74.01, postal_code="10007"),
        deliver_by=routing_pb.Date(year=2026, month=3, day=20),
    )
    if excluded is not None:
        order.options.excluded_nodes.append(excluded)
    order.options.policy = policy
    return order


def _delta(node_id: str = "EAST", sku: str = "SKU-A") -> inventory_pb.UpsertInventoryRequest:
    return inventory_pb.UpsertInventoryRequest(deltas=inventory_pb.StockDeltas(
        deltas=[inventory_pb.StockDelta(event_id="ev-huge", node_id=node_id, sku=sku, adjust=1)]))


# (case id, stub name, RPC, request, field the error must name)
CASES: list[tuple[str, str, str, Callable[[], object], str]] = [
    ("route_sku", "routing", "RouteOrder",
     lambda: routing_pb.RouteOrderRequest(order=_order(sku=HUGE)), "order.lines[0].sku"),
    ("route_sku_spaced", "routing", "RouteOrder",
     lambda: routing_pb.RouteOrderRequest(order=_order(sku=HUGE_SPACED)), "order.lines[0].sku"),
    ("route_sku_wide", "routing", "RouteOrder",
     lambda: routing_pb.RouteOrderRequest(order=_order(sku=HUGE_WIDE)), "order.lines[0].sku"),
    ("route_excluded_node", "routing", "RouteOrder",
     lambda: routing_pb.RouteOrderRequest(order=_order(excluded=HUGE)), "order.options.excluded_nodes"),
    ("route_policy", "routing", "RouteOrder",
     lambda: routing_pb.RouteOrderRequest(order=_order(policy=HUGE)), "order.options.policy"),
    ("batch_duplicate_order_id", "routing", "RouteBatch",
     lambda: routing_pb.RouteBatchRequest(orders=[_order(HUGE), _order(HUGE)]), "orders[1].order_id"),
    ("batch_sku", "routing", "RouteBatch",
     lambda: routing_pb.RouteBatchRequest(orders=[_order(sku=HUGE)]), "orders[0].lines[0].sku"),
    ("reject_node", "routing", "RejectShipment",
     lambda: routing_pb.RejectShipmentRequest(order=_order(), node_id=HUGE), "node_id"),
    ("upsert_delta_node", "inventory", "UpsertInventory", lambda: _delta(node_id=HUGE),
     "deltas.deltas[0].node_id"),
]


@pytest.fixture(scope="module")
def stubs(channel: grpc.Channel) -> dict[str, object]:
    """Both services' stubs over the shared test channel."""
    return {"routing": routing_grpc_pb.RoutingServiceStub(channel),
            "inventory": inventory_grpc_pb.InventoryServiceStub(channel)}


@pytest.mark.parametrize(("stub", "rpc", "request_factory", "field"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_huge_value_gets_invalid_argument_with_bounded_text(stubs, caplog, stub, rpc, request_factory,
                                                            field) -> None:
    caplog.set_level(logging.DEBUG, logger="dom_engine")
    with pytest.raises(grpc.RpcError) as info:
        getattr(stubs[stub], rpc)(request_factory(), timeout=30)
    err = info.value
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT, err.details()[:300]
    details = err.details()
    assert details.startswith(f"{field}: ")
    assert len(details.encode()) <= MAX_DETAILS_BYTES
    assert " chars)" in details  # the echo says how long the value was
    metadata_field = dict(err.trailing_metadata() or ()).get(ERROR_FIELD_KEY)
    assert metadata_field == field and len(metadata_field) <= MAX_FIELD_BYTES
    assert caplog.records, "the refusal is logged"
    assert max(len(r.getMessage()) for r in caplog.records) <= MAX_LOG_CHARS


@pytest.mark.parametrize("value", [HUGE, HUGE_SPACED], ids=["run", "spaced"])
def test_validate_order_violation_is_bounded(stubs, value) -> None:
    response = stubs["routing"].ValidateOrder(routing_pb.ValidateOrderRequest(order=_order(sku=value)),
                                              timeout=30)
    assert not response.valid
    (violation,) = response.violations
    assert violation.field == "order.lines[0].sku"
    assert len(violation.description) <= MAX_TEXT
    assert violation.description.startswith("unknown SKU '") and " chars)" in violation.description


def test_shorten_cuts_long_runs_to_a_prefix_and_their_length() -> None:
    text = f"unknown SKU {HUGE!r} at row 3"
    short = shorten(text)
    assert short == f"unknown SKU '{'X' * (ECHO_PREFIX - 1)}... ({MB + 2} chars) at row 3"
    assert shorten(short) == short  # idempotent: re-wrapping an error changes nothing


def test_shorten_caps_the_whole_text_and_leaves_short_text_alone() -> None:
    short = shorten(HUGE_SPACED)
    assert len(short) <= MAX_TEXT and short.endswith(f"... ({MB} chars)")
    assert shorten(short) == short
    plain = "lines[1].quantity: must be a positive integer, got -5"
    assert shorten(plain) == plain
    longest_id = f"unknown order {'o' * 254!r}"  # a 256-character run: ids up to 256 echo whole
    assert shorten(longest_id) == longest_id


def test_domain_error_field_and_message_are_shortened_also_under_a_prefix() -> None:
    with pytest.raises(ValidationError) as info, under_field("order"):
        raise ValidationError(f"lines[{HUGE}]", f"unknown SKU {HUGE!r}")
    err = info.value
    assert err.field.startswith("order.lines[XXX") and err.field.endswith(" chars)")
    assert len(str(err)) < 300 and err.message.endswith(f"... ({MB + 2} chars)")
