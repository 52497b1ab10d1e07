"""RouteReturn / CommitReturn: proto <-> domain (errors name request field paths)."""

from __future__ import annotations

import math

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.domain import Destination, Limits, ValidationError
from dom_engine.domain.returns import (
    Condition,
    Disposition,
    ReturnLine,
    ReturnOptions,
    ReturnPlan,
    ReturnReceipt,
    ReturnRequest,
)

from .converters import _STATUS_TO_PB, MAX_TIME_BUDGET_MS, _request_id

_CONDITIONS = {routing_pb.RETURN_CONDITION_UNSPECIFIED: Condition.NEW,
               routing_pb.RETURN_CONDITION_NEW: Condition.NEW,
               routing_pb.RETURN_CONDITION_OPENED: Condition.OPENED,
               routing_pb.RETURN_CONDITION_DAMAGED: Condition.DAMAGED}
_DISPOSITIONS = {routing_pb.DISPOSITION_RESTOCK: Disposition.RESTOCK,
                 routing_pb.DISPOSITION_REFURBISH: Disposition.REFURBISH,
                 routing_pb.DISPOSITION_LIQUIDATE: Disposition.LIQUIDATE}
_DISPOSITIONS_TO_PB = {v: k for k, v in _DISPOSITIONS.items()}


def _text(value: str, field: str, limits: Limits, required: bool = False) -> str:
    if required and not value:
        raise ValidationError(field, "is required")
    if len(value) > limits.max_id_length:
        raise ValidationError(field, f"longer than {limits.max_id_length} characters")
    return value


def return_call_from_proto(msg: routing_pb.RouteReturnRequest, limits: Limits
                           ) -> tuple[ReturnRequest, float | None, str]:
    """(the return, its time budget or None for the default, request_id)."""
    request_id = _request_id(msg.request_id)
    if len(msg.lines) > limits.max_lines:
        raise ValidationError("lines", f"more than {limits.max_lines} lines")
    lines = []
    for i, ln in enumerate(msg.lines):
        if ln.condition not in _CONDITIONS:
            raise ValidationError(f"lines[{i}].condition", f"unknown condition {ln.condition}")
        if not 1 <= ln.quantity <= limits.max_quantity:
            raise ValidationError(f"lines[{i}].quantity", f"must be within [1, {limits.max_quantity}], "
                                                          f"got {ln.quantity}")
        lines.append(ReturnLine(_text(ln.line_id, f"lines[{i}].line_id", limits, True),
                                _text(ln.sku, f"lines[{i}].sku", limits, True), ln.quantity,
                                _CONDITIONS[ln.condition]))
    if not msg.HasField("origin"):
        raise ValidationError("origin", "is required")
    o = msg.origin
    options = ReturnOptions()
    opt = msg.options
    radius = opt.dropoff_radius_km if opt.HasField("dropoff_radius_km") else options.dropoff_radius_km
    if not (math.isfinite(radius) and 0 <= radius <= 20_000):
        raise ValidationError("options.dropoff_radius_km", f"must be within [0, 20000] km, got {radius!r}")
    if len(opt.excluded_nodes) > limits.max_excluded_nodes:
        raise ValidationError("options.excluded_nodes", f"more than {limits.max_excluded_nodes} nodes")
    options = ReturnOptions(opt.pickup_allowed if opt.HasField("pickup_allowed") else True,
                            opt.dropoff_allowed if opt.HasField("dropoff_allowed") else True, radius,
                            frozenset(opt.excluded_nodes))
    budget = msg.time_budget_ms or None
    if budget is not None and not (math.isfinite(budget) and 0 < budget <= MAX_TIME_BUDGET_MS):
        raise ValidationError("time_budget_ms",
                              f"must be within (0, {MAX_TIME_BUDGET_MS:g}] ms, got {budget!r}")
    request = ReturnRequest(_text(msg.return_id, "return_id", limits, True), tuple(lines),
                            Destination(o.latitude, o.longitude, o.postal_code[:64], o.region[:64]),
                            _text(msg.order_id, "order_id", limits), msg.reason[:500], options)
    return request, budget, request_id


def receipts_from_proto(msg: routing_pb.CommitReturnRequest, limits: Limits
                        ) -> tuple[str, list[ReturnReceipt]]:
    return_id = _text(msg.return_id, "return_id", limits, True)
    if len(msg.received) > limits.max_lines:
        raise ValidationError("received", f"more than {limits.max_lines} receipts")
    out = []
    for i, r in enumerate(msg.received):
        if r.disposition not in _DISPOSITIONS:
            raise ValidationError(f"received[{i}].disposition", "must be restock, refurbish or liquidate")
        out.append(ReturnReceipt(_text(r.line_id, f"received[{i}].line_id", limits, True),
                                 _text(r.node_id, f"received[{i}].node_id", limits, True),
                                 _text(r.sku, f"received[{i}].sku", limits, True), int(r.quantity),
                                 _DISPOSITIONS[r.disposition]))
    return return_id, out


def return_plan_to_proto(plan: ReturnPlan) -> routing_pb.ReturnPlan:
    msg = routing_pb.ReturnPlan(
        return_id=plan.return_id, status=_STATUS_TO_PB[plan.status], shipping_cost=plan.shipping_cost,
        handling_cost=plan.handling_cost, recovery_value=plan.recovery_value, net_cost=plan.net_cost,
        lower_bound=plan.lower_bound, gap=plan.gap, solve_time_ms=plan.solve_time_ms, solver=plan.solver,
        infeasible_reason=plan.infeasible_reason, has_runner_up=plan.runner_up is not None)
    if plan.runner_up is not None:
        msg.runner_up_nodes.extend(plan.runner_up[0])
        msg.runner_up_net_cost = plan.runner_up[1]
    for p in plan.packages:
        msg.packages.append(routing_pb.ReturnPackage(
            node_id=p.node_id, route=p.route, package_cost=p.package_cost, net_cost=p.net_cost,
            transit_days=p.transit_days,
            lines=[routing_pb.ReturnAllocation(line_id=a.line_id, sku=a.sku, quantity=a.quantity,
                                               disposition=_DISPOSITIONS_TO_PB[a.disposition],
                                               shipping=a.shipping, handling=a.handling, recovery=a.recovery,
                                               net=a.net) for a in p.lines]))
    return msg
