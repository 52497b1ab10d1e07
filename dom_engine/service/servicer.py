"""RoutingService: parse -> engine -> convert. No error handling here beyond what the RPC means;
exceptions are mapped to statuses by `service.errors.ErrorMappingInterceptor`."""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

import grpc

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.domain import NotFoundError, ValidationError
from dom_engine.domain.stop import Deadline, Stopped

from .converters import (
    batch_call_from_proto,
    batch_result_to_proto,
    plan_to_proto,
    reject_call_from_proto,
    route_call_from_proto,
    under_field,
    validate_call_from_proto,
)
from .return_converters import receipts_from_proto, return_call_from_proto, return_plan_to_proto

if TYPE_CHECKING:
    from dom_engine.app.engine import Engine

log = logging.getLogger("dom_engine.service")
calls_log = logging.getLogger("dom_engine.calls")    # [server] log_calls (app/log_format.py)

SERVICE_NAME = routing_pb.DESCRIPTOR.services_by_name["RoutingService"].full_name
# Share of the call's remaining deadline the solver may use; the rest covers conversion and transport.
DEADLINE_SHARE = 0.8
# Converting one plan of a batch to its wire form (measured ~27 µs on the 2,000-order wave).
ANSWER_SECONDS_PER_PLAN = 30e-6


def call_stop(context: grpc.ServicerContext) -> Deadline:
    """The call's stopping criterion, made when the handler starts (so parsing counts): the share
    of the client's deadline left for the engine, and cancelled the moment the RPC ends early
    (the client cancelled, its deadline passed, the connection dropped)."""
    remaining = context.time_remaining()
    stop = Deadline.after_ms(None if remaining is None else DEADLINE_SHARE * remaining * 1000.0)
    context.add_callback(stop.cancel)   # runs when the RPC terminates, also after we answer
    if not context.is_active():
        stop.cancel()
    return stop


def with_budget(stop: Deadline, budget_ms: float) -> Deadline:
    """`stop` shortened to the requested budget counted from the call's start (parsing counts)."""
    return stop.until(stop.started + budget_ms / 1000.0)


def answer_stopped(context: grpc.ServicerContext, exc: Stopped) -> None:
    """End a call that could not be answered in time (context.abort raises)."""
    if exc.cancelled:
        context.abort(grpc.StatusCode.CANCELLED, f"the call ended before an answer: {exc}")
    context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"no answer within the time allowed: {exc}")


class RoutingServicer(routing_grpc_pb.RoutingServiceServicer):
    """Serves dom.v1.RoutingService over one Engine (thread-safe: calls run on a thread pool)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def RouteOrder(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.RouteOrderRequest, context: grpc.ServicerContext
    ) -> routing_pb.RouteOrderResponse:
        stop = call_stop(context)
        call = route_call_from_proto(request, now=self.engine.clock())
        requested = self.engine.limits.time_budget_ms if call.time_budget_ms is None else call.time_budget_ms
        try:
            with under_field("order"):
                plan = self.engine.route(call.order, reserve=call.reserve, time_budget_ms=math.inf,
                                         stop=with_budget(stop, requested))
        except Stopped as exc:
            answer_stopped(context, exc)
        self._record("route", call.order, plan, call.request_id, stop)
        log.debug("RouteOrder request_id=%s order_id=%s status=%s", call.request_id, plan.order_id,
                  plan.status.name)
        return routing_pb.RouteOrderResponse(plan=plan_to_proto(plan), request_id=call.request_id)

    def RejectShipment(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.RejectShipmentRequest, context: grpc.ServicerContext
    ) -> routing_pb.RouteOrderResponse:
        stop = call_stop(context)
        call = reject_call_from_proto(request, now=self.engine.clock())
        requested = self.engine.limits.time_budget_ms if call.time_budget_ms is None else call.time_budget_ms
        log.info("RejectShipment order_id=%s node_id=%s reason=%r", call.order.order_id,
                 request.node_id[:200], request.reason[:200])
        try:
            plan = self.engine.reject(call.order, request.node_id, time_budget_ms=math.inf,
                                      stop=with_budget(stop, requested))
        except Stopped as exc:
            answer_stopped(context, exc)
        self._record("reject", call.order, plan, call.request_id, stop,
                     note={"rejected_node": request.node_id[:128], "reason": request.reason[:200]})
        return routing_pb.RouteOrderResponse(plan=plan_to_proto(plan), request_id=call.request_id)

    def RouteBatch(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.RouteBatchRequest, context: grpc.ServicerContext
    ) -> routing_pb.RouteBatchResponse:
        stop = call_stop(context)
        try:
            call = batch_call_from_proto(request, now=self.engine.clock(), stop=stop)
            requested = (self.engine.batch.time_budget_ms if call.time_budget_ms is None
                         else call.time_budget_ms)
            # The answer's plans are converted after the engine returns (~30 µs each): keep that
            # time out of the engine's share, or a deadline that fits the solve is still missed.
            engine_stop = with_budget(stop, requested)
            engine_stop = engine_stop.until(engine_stop.end - len(call.orders) * ANSWER_SECONDS_PER_PLAN)
            result = self.engine.route_batch(call.orders, reserve=call.reserve, time_budget_ms=math.inf,
                                             stop=engine_stop)
        except Stopped as exc:
            answer_stopped(context, exc)
        log.info("RouteBatch request_id=%s orders=%d reserve=%s status=%s gap=%.4f in %.0f ms",
                 call.request_id, len(call.orders), call.reserve, result.status.name, result.gap,
                 result.solve_time_ms, extra={"method": "RouteBatch", "request_id": call.request_id,
                                              "orders": len(call.orders), "status": result.status.name,
                                              "elapsed_ms": round(result.solve_time_ms, 3)})
        for order, plan in zip(call.orders, result.plans, strict=True):
            self._record("batch", order, plan, call.request_id, stop)
        if stop.cancelled:   # the client is gone: converting thousands of plans helps no one
            answer_stopped(context, Stopped("the call ended before its answer was sent", cancelled=True))
        return batch_result_to_proto(result, call.request_id)

    def _record(self, kind: str, order, plan, request_id: str, stop: Deadline,
                note: dict | None = None) -> None:
        """The answer into the decision log (kind "route", "reject" or "batch") and, when call
        logging is on ([server] log_calls), one line with the call's fields."""
        policy = order.options.policy or self.engine.default_policy
        elapsed_ms = (time.perf_counter() - stop.started) * 1000.0
        self.engine.decisions.planned(kind, order, plan, policy=policy, request_id=request_id,
                                      elapsed_ms=elapsed_ms, note=note)
        if kind != "batch" and calls_log.isEnabledFor(logging.INFO):
            calls_log.info("%s order_id=%s status=%s cost=%.2f in %.1f ms request_id=%s", kind,
                           order.order_id, plan.status.name, plan.total_cost, elapsed_ms, request_id,
                           extra={"method": kind, "order_id": order.order_id, "status": plan.status.name,
                                  "request_id": request_id, "elapsed_ms": round(elapsed_ms, 3),
                                  "reservation_id": plan.reservation_id or None})

    def RouteReturn(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.RouteReturnRequest, context: grpc.ServicerContext
    ) -> routing_pb.RouteReturnResponse:
        stop = call_stop(context)
        call, budget, request_id = return_call_from_proto(request, self.engine.limits)
        requested = self.engine.limits.time_budget_ms if budget is None else budget
        plan = self.engine.route_return(call, stop=with_budget(stop, requested))
        if stop.cancelled:   # the caller is gone: nothing to answer
            answer_stopped(context, Stopped("the call ended before an answer", cancelled=True))
        return routing_pb.RouteReturnResponse(plan=return_plan_to_proto(plan), request_id=request_id)

    def CommitReturn(  # noqa: N802 (gRPC method name)
        self, request: routing_pb.CommitReturnRequest, context: grpc.ServicerContext
    ) -> routing_pb.CommitReturnResponse:
        return_id, received = receipts_from_proto(request, self.engine.limits)
        applied, units = self.engine.commit_return(return_id, received)
        log.info("CommitReturn return_id=%s receipts=%d applied=%d units=%d", return_id, len(received),
                 applied, units)
        return routing_pb.CommitReturnResponse(units_restocked=units, receipts_applied=applied,
                                               request_id=request.request_id[:128])

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
