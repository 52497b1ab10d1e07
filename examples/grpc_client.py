#!/usr/bin/env python3
"""A small dom.v1.RoutingService client: send an order, print the plan as JSON.

    dom serve &                                   # the bundled demo on 127.0.0.1:50051
    python examples/grpc_client.py examples/order.json --address 127.0.0.1:50051
    python examples/grpc_client.py examples/order.json --validate

The order file is the proto-JSON of a RouteOrderRequest, the same body grpcurl takes with `-d @`:
proto-JSON parsers (protobuf's json_format, grpcurl, grpc-gateway) accept both the field names of
protos/dom/v1/routing.proto (order_id, as in examples/order.json) and their lowerCamelCase JSON names
(orderId, as in examples/order-proto.json). The native order files `dom route` reads
(examples/order-simple.json: a bare order, deliver_in_days) are accepted too: they are converted
with dom_engine's own reader. Exit codes: 0 answered, 1 the server answered with an error (status,
details and the offending field go to stderr), 2 the file cannot be read as an order.

The same with grpcurl (the server has reflection, so no .proto files are needed):

    grpcurl -plaintext 127.0.0.1:50051 list
    grpcurl -plaintext 127.0.0.1:50051 describe dom.v1.RoutingService
    grpcurl -plaintext -d @ 127.0.0.1:50051 dom.v1.RoutingService/RouteOrder < examples/order.json
    grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grpc
from google.protobuf import json_format

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb


def read_request(path: Path) -> routing_pb.RouteOrderRequest:
    """The file as a RouteOrderRequest: proto-JSON, else dom_engine's native order form.
    ValueError (naming the problem) when it is neither."""
    text = path.read_text()
    try:
        return json_format.Parse(text, routing_pb.RouteOrderRequest())
    except json_format.ParseError as proto_error:
        from dom_engine.domain import DomainError
        from dom_engine.io.order_json import order_request_from_dict
        from dom_engine.service.converters import order_to_proto

        try:
            native = order_request_from_dict(json.loads(text))
        except (json.JSONDecodeError, DomainError):
            raise ValueError(f"neither a proto-JSON RouteOrderRequest ({proto_error}) nor a native "
                             "order file") from None
        request = routing_pb.RouteOrderRequest(order=order_to_proto(native.order), reserve=native.reserve)
        if native.time_budget_ms is not None:
            request.time_budget_ms = native.time_budget_ms
        return request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("order_file", type=Path,
                        help="proto-JSON RouteOrderRequest, e.g. examples/order.json")
    parser.add_argument("--address", default="127.0.0.1:50051", help="server HOST:PORT")
    parser.add_argument("--reserve", action="store_true", help="also reserve the planned stock")
    parser.add_argument("--time-budget-ms", type=float, help="solver time budget (overrides the file)")
    parser.add_argument("--timeout", type=float, default=10.0, help="call deadline in seconds")
    parser.add_argument("--validate", action="store_true", help="only validate (ValidateOrder)")
    args = parser.parse_args(argv)

    try:
        request = read_request(args.order_file)
    except (OSError, ValueError) as err:
        print(f"{args.order_file}: {err}", file=sys.stderr)
        return 2
    if args.reserve:
        request.reserve = True
    if args.time_budget_ms is not None:
        request.time_budget_ms = args.time_budget_ms

    with grpc.insecure_channel(args.address) as channel:
        stub = routing_grpc_pb.RoutingServiceStub(channel)
        try:
            if args.validate:
                response = stub.ValidateOrder(
                    routing_pb.ValidateOrderRequest(order=request.order, request_id=request.request_id),
                    timeout=args.timeout,
                )
                result: routing_pb.ValidateOrderResponse | routing_pb.Plan = response
            else:
                result = stub.RouteOrder(request, timeout=args.timeout).plan
        except grpc.RpcError as err:
            field = dict(err.trailing_metadata() or ()).get("dom-error-field")
            print(f"{err.code().name}: {err.details()}", file=sys.stderr)
            if field:
                print(f"field: {field}", file=sys.stderr)
            return 1
    print(json_format.MessageToJson(result, preserving_proto_field_name=True, indent=2,
                                   always_print_fields_with_no_presence=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
