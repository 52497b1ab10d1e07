"""Turn a Solution into the domain Plan: shipments with dates and a money breakdown."""

from __future__ import annotations

import numpy as np

from ..domain import (
    Alternative,
    BackorderedLine,
    CostBreakdown,
    Explanation,
    Network,
    Plan,
    PlanStatus,
    RateCard,
    Shipment,
    ShipmentLine,
)
from ..domain.stock import StockView
from ..network.calendar import offset_date
from .problem import Problem
from .solution import Solution


def line_allocation(p: Problem, x: np.ndarray, unfilled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Units per order line of each option's item allocation (rows of `x`) and of the unfilled
    units. Kits expand to their lines; the units of merged lines (one SKU) fill the lines in
    order, the shipments in their order first, so every line gets exactly its quantity."""
    rows = np.vstack([np.asarray(x, dtype=np.int64).reshape(-1, p.n_items),
                      np.asarray(unfilled, dtype=np.int64)[None, :]])
    qty = np.array([line.quantity for line in p.order.lines], dtype=np.int64)
    out = np.zeros((len(rows), len(qty)), dtype=np.int64)
    for i, members in enumerate(p.items):
        m = list(members)
        col = rows[:, i]
        if p.is_kit[i]:
            out[:, m] = (col > 0)[:, None] * qty[m][None, :]
        elif len(m) == 1:
            out[:, m[0]] = col
        else:  # row r takes the units [hi_r - col_r, hi_r) of the lines laid end to end
            hi_r, hi_l = np.cumsum(col), np.cumsum(qty[m])
            lo = np.maximum((hi_r - col)[:, None], (hi_l - qty[m])[None, :])
            out[:, m] = np.clip(np.minimum(hi_r[:, None], hi_l[None, :]) - lo, 0, None)
    return out[:-1], out[-1]


def build_plan(
    p: Problem,
    sol: Solution,
    network: Network,
    rate_card: RateCard,
    stock: StockView,
    elapsed_ms: float,
    explanation: Explanation,
) -> Plan:
    lines = p.order.lines
    today = p.now.date()
    shipments: list[Shipment] = []
    money = 0.0
    co2e_total = 0.0
    opportunity = 0.0
    shipped, short_units = line_allocation(p, sol.x, sol.unfilled)
    for k, o in enumerate(sol.options.tolist()):
        units = shipped[k]
        if not units.any():
            continue
        r, s = int(p.opt_price_row[o]), int(p.opt_service[o])
        pr = p.prices
        cost = CostBreakdown(
            package=float(pr.package[r, s]),
            units=float(pr.unit[r, s] @ units),
            handling=float(pr.handling_shipment[r, 0] + pr.handling_unit[r, 0, 0] * units.sum()),
            distance=float(pr.package_distance[r, s] + pr.unit_distance[r, s] @ units),
            co2e_kg=float(pr.co2e_unit[r, s] @ units),
        )
        money += cost.total
        co2e_total += cost.co2e_kg
        if p.opportunity is not None:
            opportunity += float(p.opportunity[int(p.opt_node[o]), p.line_sku_col] @ units)
        shipments.append(Shipment(
            node_id=network.nodes[int(p.opt_node[o])].node_id,
            service=rate_card.services[s].name,
            lines=tuple(ShipmentLine(lines[j].line_id, lines[j].sku, int(units[j]))
                        for j in np.flatnonzero(units)),
            ship_date=offset_date(today, p.ship_offset[o]),
            delivery_date=offset_date(today, p.delivery_offset[o]),
            distance_km=float(pr.distance_km[r]),
            cost=cost,
        ))
    backordered = tuple(BackorderedLine(lines[j].line_id, lines[j].sku, int(short_units[j]))
                        for j in np.flatnonzero(short_units))
    penalty = 0.0
    if backordered:
        penalty = p.penalty_money_per_order + float(p.penalty_money_per_unit @ short_units)
    status = PlanStatus.OPTIMAL if sol.proven_optimal else PlanStatus.FEASIBLE
    return Plan(
        order_id=p.order.order_id,
        status=status,
        shipments=tuple(shipments),
        backordered=backordered,
        total_cost=money + penalty,
        shipping_cost=money,
        penalty_cost=penalty,
        objective=float(sol.objective),
        lower_bound=float(sol.lower_bound),
        solve_time_ms=elapsed_ms,
        solver=sol.solver,
        snapshot_version=stock.version,
        staleness_s=stock.staleness_s,
        stock_from_cache=stock.degraded,
        currency=network.currency,
        co2e_kg=co2e_total,
        opportunity_cost=opportunity,
        explanation=explanation,
    )


def infeasible_plan(p: Problem, stock: StockView, reason: str, elapsed_ms: float, solver: str,
                    explanation: Explanation, status: PlanStatus = PlanStatus.INFEASIBLE) -> Plan:
    """A plan without shipments: proven INFEASIBLE, or NO_PLAN_FOUND when the budget ran out."""
    return Plan(
        order_id=p.order.order_id,
        status=status,
        snapshot_version=stock.version,
        staleness_s=stock.staleness_s,
        stock_from_cache=stock.degraded,  # an infeasibility proven on cached stock is as provisional
        solve_time_ms=elapsed_ms,
        solver=solver,
        infeasible_reason=reason,
        explanation=explanation,
    )


def alternative_of(sol: Solution, network: Network) -> Alternative | None:
    if sol.alternative is None or not np.isfinite(sol.objective):
        return None
    nodes, value = sol.alternative
    return Alternative(tuple(network.nodes[n].node_id for n in nodes), float(value),
                       float(value - sol.objective), sol.alternative_exact)
