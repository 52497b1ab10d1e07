"""KPIs of a replay, from its per-order outcomes: totals and per-order means for the whole run and
per day. Every KPI is a number where larger or smaller is plainly better (see BETTER)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..domain import Network
from .replay import Outcome, Run

# KPI -> +1 when more is better, -1 when less is better (used to colour deltas in reports).
BETTER = {
    "orders": 0, "total_cost": -1, "cost_per_order": -1, "shipping_cost": -1, "penalty_cost": -1,
    "shipments_per_order": -1, "split_rate": -1, "fill_rate": 1, "units_unfilled": -1,
    "on_time_rate": 1, "mean_distance_km": -1, "mean_delivery_days": -1, "co2e_kg": -1,
    "invalid_orders": -1, "stockouts": -1, "capped_node_utilisation": 0,
    "hindsight_cost": -1, "regret": -1, "regret_pct": -1,
}


def kpis(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """The run's KPIs (empty runs give zeros, never NaN, except where nothing shipped at all)."""
    n = len(outcomes)
    shipping = [o for o in outcomes if o.shipments]
    ordered = sum(o.units_ordered for o in outcomes)
    shipped = sum(o.units_shipped for o in outcomes)
    shipments = sum(o.shipments for o in outcomes)
    total = sum(o.total_cost for o in outcomes)
    days = [o.delivery_days for o in shipping if not math.isnan(o.delivery_days)]
    return {
        "orders": float(n),
        "total_cost": total,
        "cost_per_order": total / n if n else 0.0,
        "shipping_cost": sum(o.shipping_cost for o in outcomes),
        "penalty_cost": sum(o.penalty_cost for o in outcomes),
        "shipments_per_order": shipments / len(shipping) if shipping else 0.0,
        "split_rate": sum(o.shipments > 1 for o in shipping) / len(shipping) if shipping else 0.0,
        "fill_rate": shipped / ordered if ordered else 0.0,
        "units_unfilled": float(ordered - shipped),
        "on_time_rate": sum(o.on_time for o in outcomes) / n if n else 0.0,
        "mean_distance_km": sum(o.distance_km for o in shipping) / shipments if shipments else 0.0,
        "mean_delivery_days": sum(days) / len(days) if days else 0.0,
        "co2e_kg": sum(o.co2e_kg for o in outcomes),
        "invalid_orders": float(sum(o.status == "INVALID" for o in outcomes)),
    }


def kpis_by_day(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """KPIs per arrival day (ISO date -> KPIs), in date order."""
    days: dict[str, list[Outcome]] = {}
    for o in outcomes:
        days.setdefault(o.day, []).append(o)
    return {day: kpis(days[day]) for day in sorted(days)}


def run_kpis(run: Run, network: Network) -> dict[str, float]:
    """The outcomes' KPIs plus what needs the run's stock and the network: how many (node, SKU)
    ran out, and how full the capped nodes ran (shipments / daily capacity, mean over the capped
    nodes and the days of the run)."""
    out = kpis(run.outcomes)
    out["stockouts"] = float(len(run.stockouts))
    caps = {n.node_id: n.daily_shipment_capacity for n in network.nodes if n.daily_shipment_capacity}
    days = sorted({o.day for o in run.outcomes})
    used: dict[tuple[str, str], int] = {}
    for o in run.outcomes:
        for node in o.nodes.split(";") if o.nodes else ():
            if node in caps:
                used[(node, o.day)] = used.get((node, o.day), 0) + 1
    cells = len(caps) * len(days)
    out["capped_node_utilisation"] = (sum(n / caps[node] for (node, _), n in used.items()) / cells
                                      if cells else 0.0)
    return out


def regret_kpis(run: dict[str, float], hindsight: dict[str, float]) -> dict[str, float]:
    """The run's regret against the clairvoyant yardstick (the same world and stream routed per
    day by the batch allocator from each day's starting stock): how much more the run cost."""
    cost = hindsight["total_cost"]
    regret = run["total_cost"] - cost
    return {"hindsight_cost": cost, "regret": regret, "regret_pct": 100.0 * regret / cost if cost else 0.0}
