"""A ReturnPlan as text (`dom route-return`) and as a JSON-ready dict (`--json`)."""

from __future__ import annotations

import json
from typing import Any

from ..domain.returns import ReturnPlan


def return_plan_to_dict(plan: ReturnPlan) -> dict[str, Any]:
    return {
        "return_id": plan.return_id, "status": plan.status.name, "net_cost": plan.net_cost,
        "shipping_cost": plan.shipping_cost, "handling_cost": plan.handling_cost,
        "recovery_value": plan.recovery_value, "lower_bound": plan.lower_bound, "gap": plan.gap,
        "solve_time_ms": plan.solve_time_ms, "solver": plan.solver,
        "packages": [{"node_id": p.node_id, "route": p.route, "package_cost": p.package_cost,
                      "net_cost": p.net_cost, "transit_days": p.transit_days,
                      "lines": [{"line_id": a.line_id, "sku": a.sku, "quantity": a.quantity,
                                 "disposition": a.disposition.value, "shipping": a.shipping,
                                 "handling": a.handling, "recovery": a.recovery, "net": a.net}
                                for a in p.lines]} for p in plan.packages],
        "runner_up": None if plan.runner_up is None else {"nodes": list(plan.runner_up[0]),
                                                          "net_cost": plan.runner_up[1]},
        "infeasible_reason": plan.infeasible_reason,
    }


def return_plan_to_json(plan: ReturnPlan) -> str:
    return json.dumps(return_plan_to_dict(plan), indent=2)


def format_return_plan(plan: ReturnPlan) -> str:
    out = [f"Return {plan.return_id}: {plan.status.name}   solver {plan.solver}   "
           f"{plan.solve_time_ms:.1f} ms"]
    if not plan.packages:
        return "\n".join(out + [f"No plan: {plan.infeasible_reason}"])
    out.append(f"Packages ({len(plan.packages)}):")
    for p in plan.packages:
        out.append(f"  {p.node_id:<14} {p.route:<10} package {p.package_cost:8.2f}   net {p.net_cost:9.2f}   "
                   f"{p.transit_days} day(s) on the way")
        for a in p.lines:
            out.append(f"     {a.line_id} {a.sku} x{a.quantity}  {a.disposition.value:<9} "
                       f"shipping {a.shipping:7.2f}  handling {a.handling:6.2f}  recovery {a.recovery:7.2f}")
    out.append(f"Net cost {plan.net_cost:,.2f} = shipping {plan.shipping_cost:,.2f} + handling "
               f"{plan.handling_cost:,.2f} - recovery {plan.recovery_value:,.2f}   "
               f"lower bound {plan.lower_bound:,.2f}   gap {plan.gap:.2%}")
    if plan.runner_up is not None:
        nodes, net = plan.runner_up
        out.append(f"Next best: {', '.join(nodes) or 'nowhere'} (net {net:,.2f}, "
                   f"+{net - plan.net_cost:,.2f})")
    return "\n".join(out)
