"""RoutingService: parse -> engine -> convert. No error handling here beyond what the RPC means;
exceptions are mapped to statuses by `service.errors.ErrorMappingInterceptor`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import grpc

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.domain import NotFoundError, ValidationError

from .converters import (
    batch_call_from_proto,
    batch_result_to_proto,
    plan_to_proto,
    reject_call_from_proto,
    route_call_from_proto,
    under_field,
    validate_call_from_proto,
)

if TYPE_CHECKING:
    from dom_engine.engine import Engine

log = logging.getLogger("dom_engine.service")

SERVICE_NAME = routing_pb.DESCRIPTOR.services_by_name["RoutingService"].full_name
# Share of the call's remaining deadline the solver may use; the rest covers conversion and transport.
DEADLINE_SHARE = 0.8


def fit_budget(budget_ms: float, time_remaining_s: float | None) -> float:
    """The solver budget for a call: the requested (or default) budget, shortened to fit the
    client's deadline so the answer arrives before the client gives up. Never below 1 ms."""
    if time_remaining_s is None:
        return budget_ms
    return max(1.0, min(budget_ms, DEADLINE_SHARE * time_remaining_s * 1000.0))


class RoutingServicer(routing_grpc_pb.RoutingServiceServicer):
    """Serves dom.v1.RoutingService over one Engine (thread-safe: calls run on a thread pool)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def RouteOrder(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.RouteOrderRequest, context: grpc.ServicerContext
    ) -> routing_pb.RouteOrderResponse:
        call = route_call_from_proto(request, now=self.engine.clock())
        requested = self.engine.limits.time_budget_ms if call.time_budget_ms is None else call.time_budget_ms
        budget = fit_budget(requested, context.time_remaining())
        with under_field("order"):
            plan = self.engine.route(call.order, reserve=call.reserve, time_budget_ms=budget)
        log.debug("RouteOrder request_id=%s order_id=%s status=%s", call.request_id, plan.order_id,
                  plan.status.name)
        return routing_pb.RouteOrderResponse(plan=plan_to_proto(plan), request_id=call.request_id)

    def RejectShipment(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.RejectShipmentRequest, context: grpc.ServicerContext
    ) -> routing_pb.RouteOrderResponse:
        call = reject_call_from_proto(request, now=self.engine.clock())
        requested = self.engine.limits.time_budget_ms if call.time_budget_ms is None else call.time_budget_ms
        with under_field("order"):
            self.engine.validate(call.order)
        log.info("RejectShipment order_id=%s node_id=%s reason=%r", call.order.order_id,
                 request.node_id[:200], request.reason[:200])
        plan = self.engine.reject(call.order, request.node_id,
                                  time_budget_ms=fit_budget(requested, context.time_remaining()))
        return routing_pb.RouteOrderResponse(plan=plan_to_proto(plan), request_id=call.request_id)

    def RouteBatch(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.RouteBatchRequest, context: grpc.ServicerContext
    ) -> routing_pb.RouteBatchResponse:
        call = batch_call_from_proto(request, now=self.engine.clock())
        requested = self.engine.batch.time_budget_ms if call.time_budget_ms is None else call.time_budget_ms
        result = self.engine.route_batch(call.orders, reserve=call.reserve,
                                         time_budget_ms=fit_budget(requested, context.time_remaining()))
        log.info("RouteBatch request_id=%s orders=%d reserve=%s status=%s gap=%.4f in %.0f ms",
                 call.request_id, len(call.orders), call.reserve, result.status.name, result.gap,
                 result.solve_time_ms)
        return batch_result_to_proto(result, call.request_id)

    def ValidateOrder(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.ValidateOrderRequest, context: grpc.ServicerContext
    ) -> routing_pb.ValidateOrderResponse:
        # An invalid order is this RPC's answer, not its failure; only input errors are caught.
        request_id = request.request_id[:128]
        try:
            order, request_id = validate_call_from_proto(request, now=self.engine.clock())
            with under_field("order"):
                self.engine.validate(order)
        except (ValidationError, NotFoundError) as err:
            return routing_pb.ValidateOrderResponse(
                valid=False,
                violations=[routing_pb.FieldViolation(field=err.field, description=err.message)],
                request_id=request_id,
            )
        return routing_pb.ValidateOrderResponse(valid=True, request_id=request_id)
