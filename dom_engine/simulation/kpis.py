"""KPIs of a replay, from its per-order outcomes: totals and per-order means for the whole run and
per day. Every KPI is a number where larger or smaller is plainly better (see BETTER)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ..domain import Network
from .replay import Outcome, Run

# The KPIs tables and reports show, in this order (those a run has: regret only with hindsight).
SHOWN = ("cost_with_unserved", "total_cost", "cost_per_order", "shipments_per_order", "split_rate",
         "fill_rate", "unplanned_orders", "on_time_rate", "mean_distance_km", "mean_delivery_days", "co2e_kg",
         "rejected_shipments", "stockouts", "capped_node_utilisation", "hindsight_cost", "regret",
         "regret_pct")

# KPI -> +1 when more is better, -1 when less is better (used to colour deltas in reports).
BETTER = {
    "orders": 0, "total_cost": -1, "cost_per_order": -1, "shipping_cost": -1, "penalty_cost": -1,
    "shipments_per_order": -1, "split_rate": -1, "fill_rate": 1, "units_unfilled": -1,
    "on_time_rate": 1, "mean_distance_km": -1, "mean_delivery_days": -1, "co2e_kg": -1,
    "invalid_orders": -1, "stockouts": -1, "capped_node_utilisation": 0,
    "unplanned_orders": -1, "unserved_penalty": -1, "cost_with_unserved": -1, "rejected_shipments": -1,
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
    unserved = sum(o.unserved_penalty for o in outcomes)
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
        # routed but without a plan (no stock and no backorders, or no time): their plans cost
        # nothing, so cost_with_unserved adds what their policy prices a lost order at
        "unplanned_orders": float(sum(o.status in ("INFEASIBLE", "NO_PLAN_FOUND") for o in outcomes)),
        "unserved_penalty": unserved,
        "cost_with_unserved": total + unserved,
        "rejected_shipments": float(sum(o.rejections for o in outcomes)),
    }


def kpis_by_day(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """KPIs per arrival day (ISO date -> KPIs), in date order."""
    return _kpis_by(outcomes, lambda o: o.day)


def _kpis_by(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(key(o), []).append(o)
    return {name: kpis(groups[name]) for name in sorted(groups)}


def run_kpis(run: Run, network: Network) -> dict[str, float]:
    """The outcomes' KPIs plus what needs the run's stock and the network: how many (node, SKU)
    ran out, and how full the capped nodes ran (shipments / daily capacity, mean over the capped
    nodes and the days of the run)."""
    out = kpis(run.outcomes)
    out["stockouts"] = float(len(run.stockouts))
    caps = capacities(network)
    days = sorted({o.day for o in run.outcomes})
    used = node_day_shipments(run.outcomes)
    cells = len(caps) * len(days)
    out["capped_node_utilisation"] = (sum(n / caps[node] for (node, _), n in used.items() if node in caps)
                                      / cells if cells else 0.0)
    return out


def capacities(network: Network) -> dict[str, int]:
    """Shipments per day of the nodes that have a cap."""
    return {n.node_id: n.daily_shipment_capacity for n in network.nodes if n.daily_shipment_capacity}


def node_day_shipments(outcomes: Sequence[Outcome]) -> dict[tuple[str, str], int]:
    """Shipments per (node, day)."""
    used: dict[tuple[str, str], int] = {}
    for o in outcomes:
        for node in o.nodes.split(";") if o.nodes else ():
            used[(node, o.day)] = used.get((node, o.day), 0) + 1
    return used


def kpis_by_channel(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """KPIs per sales channel ("" is shown as "(none)")."""
    return _kpis_by(outcomes, lambda o: o.channel or "(none)")


def kpis_by_node(outcomes: Sequence[Outcome], network: Network) -> dict[str, dict[str, float]]:
    """Per node that shipped: shipments, shipments per day of the run, the share of all shipments
    and, for capped nodes, mean utilisation (shipments / daily capacity; NaN when uncapped)."""
    used = node_day_shipments(outcomes)
    days = max(1, len({o.day for o in outcomes}))
    caps = capacities(network)
    total = max(1, sum(used.values()))
    per_node: dict[str, int] = {}
    for (node, _), n in used.items():
        per_node[node] = per_node.get(node, 0) + n
    return {node: {"shipments": float(n), "shipments_per_day": n / days, "share_of_shipments": n / total,
                   "utilisation": n / days / caps[node] if node in caps else float("nan")}
            for node, n in sorted(per_node.items())}


def regret_kpis(run: dict[str, float], hindsight: dict[str, float]) -> dict[str, float]:
    """The run's regret against the clairvoyant yardstick (the same world and stream routed per
    day by the batch allocator from each day's starting stock): how much more the run cost."""
    cost = hindsight["total_cost"]
    regret = run["total_cost"] - cost
    return {"hindsight_cost": cost, "regret": regret, "regret_pct": 100.0 * regret / cost if cost else 0.0}
