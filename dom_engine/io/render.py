"""Plans and batch summaries out: the CLI's JSON and text formats."""

from __future__ import annotations

import json
import math
from typing import Any

from ..domain import Plan, PlanStatus
from ..domain.batch import BatchResult


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """A JSON-ready dict of the plan (native snake_case names; dates ISO; gap included)."""
    ex = plan.explanation
    return {
        "order_id": plan.order_id,
        "status": plan.status.value,
        "shipments": [
            {
                "node_id": s.node_id, "service": s.service,
                "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity} for ln in s.lines],
                "ship_date": s.ship_date.isoformat(), "delivery_date": s.delivery_date.isoformat(),
                "distance_km": round(s.distance_km, 3), "units": s.units,
                "cost": {"package": s.cost.package, "units": s.cost.units, "handling": s.cost.handling,
                         "distance": s.cost.distance, "total": s.cost.total, "co2e_kg": s.cost.co2e_kg},
            }
            for s in plan.shipments
        ],
        "backordered": [
            {"line_id": b.line_id, "sku": b.sku, "quantity": b.quantity} for b in plan.backordered
        ],
        "total_cost": plan.total_cost, "shipping_cost": plan.shipping_cost, "penalty_cost": plan.penalty_cost,
        "currency": plan.currency, "objective": plan.objective, "lower_bound": plan.lower_bound,
        "gap": plan.gap, "solve_time_ms": plan.solve_time_ms, "solver": plan.solver,
        "snapshot_version": plan.snapshot_version, "staleness_s": plan.staleness_s,
        "stock_from_cache": plan.stock_from_cache, "co2e_kg": plan.co2e_kg,
        "opportunity_cost": plan.opportunity_cost,
        "infeasible_reason": plan.infeasible_reason, "reservation_id": plan.reservation_id,
        "explanation": {
            "summary": ex.summary, "binding": list(ex.binding),
            "candidates_considered": ex.candidates_considered, "candidates_pruned": ex.candidates_pruned,
            "alternative": None if ex.alternative is None else {
                "node_ids": list(ex.alternative.node_ids), "objective": ex.alternative.objective,
                "extra_objective": ex.alternative.extra_objective, "exact": ex.alternative.exact},
        },
    }


def plan_to_json(plan: Plan, indent: int | None = 2) -> str:
    return json.dumps(tidy(plan_to_dict(plan)), indent=indent)


def tidy(value: Any) -> Any:
    """`value` with every float rounded to 9 decimals: sums of money print as 10.02, not as
    10.020000000000001 (nothing the engine computes is meaningful below a billionth)."""
    if isinstance(value, float):
        return round(value, 9) if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(v) for v in value]
    return value


def format_plan(plan: Plan) -> str:
    """A readable multi-line report: header, one row per shipment with its lines, totals, why."""
    cur = plan.currency
    out = [f"Order {plan.order_id}: {plan.status.value}   solver {plan.solver or '-'}   "
           f"{plan.solve_time_ms:.1f} ms   snapshot v{plan.snapshot_version}"
           + (f" (<= {plan.staleness_s:.1f} s old)" if plan.staleness_s else "")
           + ("   STOCK FROM CACHE: inventory store unreachable" if plan.stock_from_cache else "")]
    if not plan.status.has_plan:
        label = "infeasible" if plan.status is PlanStatus.INFEASIBLE else "no plan found"
        out.append(f"  {label}: {plan.infeasible_reason or 'no plan satisfies the constraints'}")
    if plan.shipments:
        head = ("#", "node", "service", "ship", "deliver", "km", "units", "package", "units$", "handling",
                "distance", "total")
        rows = [head]
        for k, s in enumerate(plan.shipments, 1):
            c = s.cost
            rows.append((str(k), s.node_id, s.service, s.ship_date.isoformat(), s.delivery_date.isoformat(),
                         f"{s.distance_km:,.0f}", str(s.units), f"{c.package:.2f}", f"{c.units:.2f}",
                         f"{c.handling:.2f}", f"{c.distance:.2f}", f"{c.total:.2f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        numeric = set(range(5, len(head))) | {0}
        out.append(f"\nShipments ({len(plan.shipments)}), money in {cur}:")
        for r_i, row in enumerate(rows):
            cells = [cell.rjust(w) if i in numeric else cell.ljust(w)
                     for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
            out.append("  " + "  ".join(cells).rstrip())
            if r_i:
                s = plan.shipments[r_i - 1]
                out.append("  " + " " * widths[0] + "  lines: "
                           + ", ".join(f"{ln.line_id} {ln.sku} x{ln.quantity}" for ln in s.lines))
    if plan.backordered:
        short = ", ".join(f"{b.line_id} {b.sku} x{b.quantity}" for b in plan.backordered)
        out.append(f"\nBackordered: {short}")
    out.append("")
    out.append(f"Units: {plan.units_shipped} shipped, {plan.units_backordered} backordered")
    out.append(f"Cost:  shipping {plan.shipping_cost:,.2f} + penalties {plan.penalty_cost:,.2f} "
               f"= total {plan.total_cost:,.2f} {cur}   CO2e {plan.co2e_kg:,.2f} kg")
    if plan.opportunity_cost:
        out.append(f"Opportunity cost of the units (in the objective, not the total): "
                   f"{plan.opportunity_cost:,.2f} {cur}")
    out.append(f"Objective {plan.objective:,.4f}   lower bound {plan.lower_bound:,.4f}   gap {plan.gap:.2%}")
    if abs(plan.objective - plan.total_cost) > 1e-6 * max(1.0, abs(plan.total_cost)):  # not money: say so
        out.append("       (objective: what the policy minimises, not money: cost x cost_weight + split,\n"
                   "        delivery-day and CO2e terms, + a fastest / fewest_shipments mode's ranking "
                   "terms)")
    ex = plan.explanation
    if ex.summary:
        out.append(f"Why:   {ex.summary}")
    for item in ex.binding:
        out.append(f"       - {item}")
    if ex.alternative is not None:
        out.append(f"Next best: {', '.join(ex.alternative.node_ids) or '-'} "
                   f"(+{ex.alternative.extra_objective:,.2f} objective"
                   f"{'' if ex.alternative.exact else ', best found, not proven'})")
    if ex.candidates_considered:
        out.append(f"Candidates: {ex.candidates_considered} considered, {ex.candidates_pruned} pruned")
    if plan.reservation_id:
        out.append(f"Reservation: {plan.reservation_id}")
    return "\n".join(out)


# ===================================================================== batches out
def batch_to_dict(result: BatchResult, include_plans: bool = True) -> dict[str, Any]:
    """A JSON-ready dict of a batch: status, objective, bound, gap, KPIs (and the plans)."""
    k = result.kpis
    out: dict[str, Any] = {
        "status": result.status.value, "objective": result.objective, "lower_bound": result.lower_bound,
        "gap": result.gap, "solve_time_ms": result.solve_time_ms, "snapshot_version": result.snapshot_version,
        "kpis": {"orders": k.orders, "orders_complete": k.orders_complete,
                 "orders_unallocated": k.orders_unallocated, "units_ordered": k.units_ordered,
                 "units_shipped": k.units_shipped, "shipments": k.shipments,
                 "shipments_per_order": k.shipments_per_order, "fill_rate": k.fill_rate,
                 "shipping_cost": k.shipping_cost, "penalty_cost": k.penalty_cost, "total_cost": k.total_cost,
                 "units_by_node": dict(k.units_by_node), "shipments_by_node": dict(k.shipments_by_node)},
        "plan_statuses": _status_counts(result.plans),
        "reserved_orders": sum(1 for p in result.plans if p.reservation_id),
    }
    if include_plans:
        out["plans"] = [plan_to_dict(p) for p in result.plans]
    return out


def format_batch(result: BatchResult, currency: str = "USD") -> str:
    """A readable summary of a batch: status, objective and bound, KPIs, the busiest nodes."""
    k = result.kpis
    statuses = ", ".join(f"{n} {s}" for s, n in _status_counts(result.plans).items())
    out = [f"Batch of {k.orders} orders: {result.status.value}   {result.solve_time_ms:,.0f} ms   "
           f"snapshot v{result.snapshot_version}",
           f"Objective {result.objective:,.4f}   lower bound {result.lower_bound:,.4f}   "
           f"gap {result.gap:.2%}",
           f"Plans:     {statuses}",
           f"Orders:    {k.orders_complete} complete, {k.orders - k.orders_complete - k.orders_unallocated} "
           f"partly filled, {k.orders_unallocated} unallocated",
           f"Units:     {k.units_shipped:,} of {k.units_ordered:,} shipped (fill rate {k.fill_rate:.1%})",
           f"Shipments: {k.shipments:,} ({k.shipments_per_order:.2f} per order)",
           f"Cost:      shipping {k.shipping_cost:,.2f} + penalties {k.penalty_cost:,.2f} "
           f"= total {k.total_cost:,.2f} {currency}"]
    busiest = sorted(k.units_by_node.items(), key=lambda item: (-item[1], item[0]))
    if busiest:
        shown = ", ".join(f"{node} {units} units / {k.shipments_by_node.get(node, 0)} shipments"
                          for node, units in busiest[:5])
        more = f" (+{len(busiest) - 5} more nodes)" if len(busiest) > 5 else ""
        out.append(f"By node:   {shown}{more}")
    reserved = sum(1 for p in result.plans if p.reservation_id)
    if reserved:
        out.append(f"Reserved:  {reserved} orders (reservation id res-<order_id>)")
    return "\n".join(out)


def _status_counts(plans) -> dict[str, int]:
    counts: dict[str, int] = {}
    for plan in plans:
        counts[plan.status.value] = counts.get(plan.status.value, 0) + 1
    return counts
