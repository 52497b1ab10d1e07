"""DecisionLog service: GetPlan and ListEvents over the engine's decision log (app/decisions.py).
Errors (ValidationError, NotFoundError, StoreUnavailable) are mapped by the error interceptor."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import grpc

from dom_engine._proto.dom.v1 import events_pb2 as events_pb
from dom_engine._proto.dom.v1 import events_pb2_grpc as events_grpc_pb
from dom_engine.domain import NotFoundError
from dom_engine.domain.events import Event

if TYPE_CHECKING:
    from dom_engine.app.engine import Engine

DECISION_LOG_SERVICE_NAME = events_pb.DESCRIPTOR.services_by_name["DecisionLog"].full_name


def event_to_proto(event: Event) -> events_pb.Event:
    msg = events_pb.Event(event_id=event.event_id, kind=event.kind, order_id=event.order_id,
                          request_id=event.request_id, status=event.status,
                          reservation_id=event.reservation_id, total_cost=event.total_cost,
                          nodes=list(event.nodes), policy=event.policy, elapsed_ms=event.elapsed_ms,
                          detail_json=json.dumps(event.detail, separators=(",", ":"), default=str))
    msg.at.FromDatetime(event.at)
    return msg


class DecisionLogServicer(events_grpc_pb.DecisionLogServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def GetPlan(  # noqa: N802 (gRPC method name)
        self, request: events_pb.GetPlanRequest, context: grpc.ServicerContext
    ) -> events_pb.Event:
        try:
            event = self.engine.decisions.get_plan(request.order_id)
        except NotFoundError as exc:   # a lookup by id that found nothing, not a bad argument
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return event_to_proto(event)

    def ListEvents(  # noqa: N802 (gRPC method name)
        self, request: events_pb.ListEventsRequest, context: grpc.ServicerContext
    ) -> events_pb.ListEventsResponse:
        events = self.engine.decisions.list(after_id=request.after_id, order_id=request.order_id,
                                            kinds=list(request.kinds), limit=request.limit)
        return events_pb.ListEventsResponse(events=[event_to_proto(e) for e in events],
                                            next_after_id=events[-1].event_id if events else request.after_id)
