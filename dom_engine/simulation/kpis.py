"""KPIs of a replay, from its per-order outcomes: totals and per-order means for the whole run
and per day, channel and node, accumulated as the outcomes stream past (RunTally), so a run of
millions of orders never holds them all. Every KPI is a number where larger or smaller is
plainly better (see BETTER)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..domain import Network
from .replay import Outcome, Run

# The KPIs tables and reports show, in this order (those a run has: regret only with hindsight).
SHOWN = ("cost_with_unserved", "total_cost", "cost_per_order", "shipments_per_order", "split_rate",
         "fill_rate", "unplanned_orders", "on_time_rate", "mean_distance_km", "mean_delivery_days", "co2e_kg",
         "rejected_shipments", "stockouts", "capped_node_utilisation", "hindsight_cost", "regret",
         "regret_pct", "cost_with_returns", "return_net_cost", "return_cost_per_unit",
         "return_net_cost_per_unit", "units_returned", "units_restocked", "mean_days_to_restock",
         "dropoff_share", "returns_unrouted")

# KPI -> +1 when more is better, -1 when less is better (used to colour deltas in reports).
BETTER = {
    "orders": 0, "total_cost": -1, "cost_per_order": -1, "shipping_cost": -1, "penalty_cost": -1,
    "shipments_per_order": -1, "split_rate": -1, "fill_rate": 1, "units_unfilled": -1,
    "on_time_rate": 1, "mean_distance_km": -1, "mean_delivery_days": -1, "co2e_kg": -1,
    "invalid_orders": -1, "stockouts": -1, "capped_node_utilisation": 0,
    "unplanned_orders": -1, "unserved_penalty": -1, "cost_with_unserved": -1, "rejected_shipments": -1,
    "hindsight_cost": -1, "regret": -1, "regret_pct": -1,
    "returns": 0, "units_returned": 0, "returns_unrouted": -1, "return_shipping_cost": -1,
    "return_handling_cost": -1, "return_recovery_value": 1, "return_net_cost": -1, "return_cost_per_unit": -1,
    "return_net_cost_per_unit": -1, "units_restocked": 1, "mean_days_to_restock": -1, "dropoff_share": 0,
    "cost_with_returns": -1, "return_shortage_credit": 0,
}


class KpiSums:
    """The sums behind kpis() for one group of outcomes, added one by one (a run's outcomes may
    stream past in batches and never be held at once)."""

    __slots__ = ("n", "shipping", "ordered", "shipped", "shipments", "total", "unserved", "days", "days_n",
                 "shipping_cost", "penalty_cost", "split", "on_time", "distance", "co2e", "invalid",
                 "unplanned", "rejections")

    def __init__(self) -> None:
        # Sums start at int 0 as sum() does, so a float total comes out bit for bit the same.
        self.n = self.shipping = self.ordered = self.shipped = self.shipments = self.days_n = 0
        self.split = self.on_time = self.invalid = self.unplanned = self.rejections = 0
        self.total: float = 0
        self.unserved: float = 0
        self.days: float = 0
        self.shipping_cost: float = 0
        self.penalty_cost: float = 0
        self.distance: float = 0
        self.co2e: float = 0

    def add(self, o: Outcome) -> None:
        self.n += 1
        self.ordered += o.units_ordered
        self.shipped += o.units_shipped
        self.shipments += o.shipments
        self.total += o.total_cost
        self.unserved += o.unserved_penalty
        self.shipping_cost += o.shipping_cost
        self.penalty_cost += o.penalty_cost
        self.on_time += o.on_time
        self.co2e += o.co2e_kg
        self.invalid += o.status == "INVALID"
        self.unplanned += o.status in ("INFEASIBLE", "NO_PLAN_FOUND")
        self.rejections += o.rejections
        if o.shipments:
            self.shipping += 1
            self.split += o.shipments > 1
            self.distance += o.distance_km
            if not math.isnan(o.delivery_days):
                self.days += o.delivery_days
                self.days_n += 1

    def values(self) -> dict[str, float]:
        """The KPIs (empty groups give zeros, never NaN)."""
        n, shipping, shipments = self.n, self.shipping, self.shipments
        total = float(self.total)
        return {
            "orders": float(n),
            "total_cost": total,
            "cost_per_order": total / n if n else 0.0,
            "shipping_cost": float(self.shipping_cost),
            "penalty_cost": float(self.penalty_cost),
            "shipments_per_order": shipments / shipping if shipping else 0.0,
            "split_rate": self.split / shipping if shipping else 0.0,
            "fill_rate": self.shipped / self.ordered if self.ordered else 0.0,
            "units_unfilled": float(self.ordered - self.shipped),
            "on_time_rate": self.on_time / n if n else 0.0,
            "mean_distance_km": self.distance / shipments if shipments else 0.0,
            "mean_delivery_days": self.days / self.days_n if self.days_n else 0.0,
            "co2e_kg": float(self.co2e),
            "invalid_orders": float(self.invalid),
            # routed but without a plan (no stock and no backorders, or no time): their plans cost
            # nothing, so cost_with_unserved adds what their policy prices a lost order at
            "unplanned_orders": float(self.unplanned),
            "unserved_penalty": float(self.unserved),
            "cost_with_unserved": total + self.unserved,
            "rejected_shipments": float(self.rejections),
        }


class RunTally:
    """Everything the KPIs of a run need, accumulated as its outcomes stream past: the sums for the
    whole run, per day and per channel, shipments per (node, day) and the distribution of
    shipments per order (0, 1, 2, 3, 4+)."""

    def __init__(self) -> None:
        self.run = KpiSums()
        self.day: dict[str, KpiSums] = {}
        self.channel: dict[str, KpiSums] = {}
        self.node_day: dict[tuple[str, str], int] = {}
        self.shipment_counts = [0] * 5

    def add(self, outcomes: Iterable[Outcome]) -> RunTally:
        for o in outcomes:
            self.run.add(o)
            day = self.day.get(o.day)
            if day is None:
                day = self.day[o.day] = KpiSums()
            day.add(o)
            channel = channel_key(o.channel)
            group = self.channel.get(channel)
            if group is None:
                group = self.channel[channel] = KpiSums()
            group.add(o)
            self.shipment_counts[min(o.shipments, 4)] += 1
            if o.nodes:
                for node in o.nodes.split(";"):
                    self.node_day[(node, o.day)] = self.node_day.get((node, o.day), 0) + 1
        return self

    def kpis(self) -> dict[str, float]:
        return self.run.values()

    def by_day(self) -> dict[str, dict[str, float]]:
        """KPIs per arrival day (ISO date -> KPIs), in date order."""
        return {day: self.day[day].values() for day in sorted(self.day)}

    def by_channel(self) -> dict[str, dict[str, float]]:
        """KPIs per sales channel ("" is shown as "(none)")."""
        return {channel: self.channel[channel].values() for channel in sorted(self.channel)}

    def by_node(self, network: Network) -> dict[str, dict[str, float]]:
        """Per node that shipped: shipments, shipments per day of the run, the share of all
        shipments and, for capped nodes, mean utilisation (shipments / daily capacity; NaN when
        uncapped)."""
        days = max(1, len(self.day))
        caps = capacities(network)
        total = max(1, sum(self.node_day.values()))
        per_node: dict[str, int] = {}
        for (node, _), n in self.node_day.items():
            per_node[node] = per_node.get(node, 0) + n
        return {node: {"shipments": float(n), "shipments_per_day": n / days, "share_of_shipments": n / total,
                       "utilisation": n / days / caps[node] if node in caps else float("nan")}
                for node, n in sorted(per_node.items())}

    def run_kpis(self, stockouts: int, network: Network) -> dict[str, float]:
        """The KPIs plus what needs the run's stock and the network: how many (node, SKU) ran
        out, and how full the capped nodes ran (shipments / daily capacity, mean over the capped
        nodes and the days of the run)."""
        out = self.kpis()
        out["stockouts"] = float(stockouts)
        caps = capacities(network)
        cells = len(caps) * len(self.day)
        out["capped_node_utilisation"] = (sum(n / caps[node] for (node, _), n in self.node_day.items()
                                              if node in caps) / cells if cells else 0.0)
        return out


def channel_key(channel: str) -> str:
    """A sales channel as the by-channel tables name it ("" is "(none)")."""
    return channel or "(none)"


def kpis(outcomes: Iterable[Outcome]) -> dict[str, float]:
    """The KPIs of some outcomes (empty gives zeros, never NaN)."""
    sums = KpiSums()
    for o in outcomes:
        sums.add(o)
    return sums.values()


def kpis_by_day(outcomes: Iterable[Outcome]) -> dict[str, dict[str, float]]:
    return RunTally().add(outcomes).by_day()


def kpis_by_channel(outcomes: Iterable[Outcome]) -> dict[str, dict[str, float]]:
    return RunTally().add(outcomes).by_channel()


def kpis_by_node(outcomes: Iterable[Outcome], network: Network) -> dict[str, dict[str, float]]:
    return RunTally().add(outcomes).by_node(network)


def run_kpis(run: Run, network: Network) -> dict[str, float]:
    return RunTally().add(run.outcomes).run_kpis(len(run.stockouts), network)


def capacities(network: Network) -> dict[str, int]:
    """Shipments per day of the nodes that have a cap."""
    return {n.node_id: n.daily_shipment_capacity for n in network.nodes if n.daily_shipment_capacity}


def node_day_shipments(outcomes: Iterable[Outcome]) -> dict[tuple[str, str], int]:
    """Shipments per (node, day)."""
    return RunTally().add(outcomes).node_day


def regret_kpis(run: dict[str, float], hindsight: dict[str, float]) -> dict[str, float]:
    """The run's regret against the clairvoyant yardstick (the same world and stream routed per
    day by the batch allocator from each day's starting stock): how much more the run cost."""
    cost = hindsight["total_cost"]
    regret = run["total_cost"] - cost
    return {"hindsight_cost": cost, "regret": regret, "regret_pct": 100.0 * regret / cost if cost else 0.0}
