"""Turn an order, a stock view, the network, rates and a policy into a small numeric problem.

Decision units are *items*: lines not in a kit are items of `quantity` units, lines of one SKU
and unit weight merged into one item (they are interchangeable: a 200-line order of one SKU is one
item of their total, not 200 items sharing stock); each kit (lines sharing a ship_group) is one
item of quantity 1 that a node can ship only complete.
Options are (node, carrier service) pairs that survive the hard filters (enabled, not excluded,
channel, capacity, stock, promise date) and are not dominated by another service of the same node.
Everything the solvers need is an array:

    Q[i]      units of item i            A[o, i]  units of item i option o can ship
    f[o]      objective per shipment     C[o, i]  objective per unit of item i from option o
    P[i]      penalty per unfilled unit  P0       penalty once if anything is unfilled
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ..domain import Line, Network, Order, PolicyProfile, RateCard
from ..domain.rates import DISTANCE_UNITS
from ..domain.stock import StockView
from ..network.calendar import ship_day_offsets
from ..network.geo import haversine_km
from ..network.pricing import ServicePrices, price

# Days a shipment may take, for pricing unfilled units in the "fastest" mode when an order has no
# promise date (with one, every usable shipment arrives by deliver_by).
MODE_HORIZON_DAYS = 30


@dataclass
class Problem:
    order: Order
    items: list[tuple[int, ...]]       # line indices per item
    is_kit: np.ndarray                 # (I,) bool
    Q: np.ndarray                      # (I,) int64
    A: np.ndarray                      # (O, I) int64
    C: np.ndarray                      # (O, I) float64
    f: np.ndarray                      # (O,) float64, includes the split penalty
    split_credit: float                # subtracted once when a plan has any shipment
    P: np.ndarray                      # (I,) float64
    P0: float
    allow_backorder: bool
    max_shipments: int
    opt_node: np.ndarray               # (O,) network node index
    opt_service: np.ndarray            # (O,) rate card service index
    opt_price_row: np.ndarray          # (O,) row into `prices`
    ship_offset: np.ndarray            # (O,) days from `now` until the shipment leaves
    delivery_offset: np.ndarray        # (O,) days from `now` until delivery
    prices: ServicePrices              # of the priced nodes (rows = opt_price_row)
    line_sku_col: np.ndarray           # (L,) column of each line's SKU in the stock view
    atp: np.ndarray                    # (N, K) stock after policy buffers
    shared_skus: bool                  # some SKU feeds more than one item: needs the general model
    penalty_money_per_unit: np.ndarray  # (L,) money, for reporting
    penalty_money_per_order: float
    cost_weight: float
    now: datetime
    stats: dict[str, int] = field(default_factory=dict)
    infeasible_reason: str = ""
    opportunity: np.ndarray | None = None   # (N, K) money per unit added to C (inventory-aware routing)

    @property
    def n_options(self) -> int:
        return len(self.f)

    @property
    def n_items(self) -> int:
        return len(self.Q)

    def empty_plan_objective(self) -> float:
        """Objective of shipping nothing (everything backordered); inf when backorder is not allowed."""
        if not self.allow_backorder:
            return np.inf
        return float(self.P0 + (self.P * self.Q).sum())


def build_problem(
    order: Order,
    stock: StockView,
    network: Network,
    rate_card: RateCard,
    policy: PolicyProfile,
    now: datetime,
    distance_km: np.ndarray | None = None,
    opportunity: np.ndarray | None = None,
) -> Problem:
    """The numeric problem of one order. `distance_km`: destination to every node, when the caller
    has it (a batch computes all at once). `opportunity` (nodes x the view's SKUs, money per unit)
    is added to each unit's cost at its node: what the unit is worth to later orders."""
    weights = policy.effective_weights()
    lines, n_lines = order.lines, len(order.lines)
    sku_col = {sku: j for j, sku in enumerate(stock.skus)}
    line_sku_col = np.array([sku_col[line.sku] for line in lines], dtype=np.int64)
    qty = np.array([line.quantity for line in lines], dtype=np.int64)
    default_w = rate_card.default_unit_weight_kg
    unit_w = np.array([default_w if ln.unit_weight_kg is None else ln.unit_weight_kg for ln in lines])

    items, is_kit, shared = _items(lines, unit_w, line_sku_col)

    # Stock after the policy's per-kind buffers.
    atp = stock.atp.astype(np.int64, copy=True)
    if policy.min_stock_buffer:
        kinds = network.kinds
        for kind, buffer in policy.min_stock_buffer.items():
            atp[kinds == kind] -= buffer
        np.clip(atp, 0, None, out=atp)

    stats: dict[str, int] = {"nodes": len(network)}
    node_idx, line_stock = _candidate_nodes(order, stock, atp, network, policy, line_sku_col, stats)

    dest = order.destination
    dist_all = distance_km if distance_km is not None else haversine_km(
        dest.latitude, dest.longitude, network.latitudes, network.longitudes)
    per_order, per_unit = unfilled_penalties(order, policy, network, dist_all)
    pen_unit_money = np.full(n_lines, per_unit)

    prices = price(rate_card, network, node_idx, dest.latitude, dest.longitude, unit_w, dist_all)
    ship_off = ship_day_offsets(now, network.cutoff_hours[node_idx], network.processing_days[node_idx])
    delivery_off = ship_off[:, None] + prices.transit_days                # (n, S)
    usable = _usable(order, now, prices.available, delivery_off, stats)

    cw = weights.cost_weight
    fixed = cw * prices.fixed + weights.split_penalty + weights.delivery_day_weight * delivery_off
    unit_obj = cw * prices.per_unit + weights.co2e_price * prices.co2e_unit  # (n, S, L)
    usable &= ~_dominated(fixed, unit_obj, usable)
    rows, svcs = np.nonzero(usable)

    # Item arrays over the surviving options.
    opt_stock = line_stock[node_idx[rows]]                                # (O, L)
    line_unit = unit_obj[rows, svcs]                                      # (O, L)
    if opportunity is not None:    # the same at every service of a node: dominance unchanged
        line_unit = line_unit + cw * opportunity[node_idx[rows]][:, line_sku_col]
    A, C, Q, P = _item_arrays(items, is_kit, opt_stock, line_unit, qty, pen_unit_money, cw)
    keep = A.any(axis=1)
    rows, svcs, A, C = rows[keep], svcs[keep], A[keep], C[keep]
    per_order_obj = cw * per_order
    worst = _mode_penalty(order, policy, now)
    if worst:
        P += worst
        per_order_obj += worst

    max_ship = 1 if order.options.ship_complete else (order.options.max_shipments or policy.max_shipments)
    problem = Problem(
        order=order, items=items, is_kit=is_kit, Q=Q, A=A, C=C, f=fixed[rows, svcs],
        split_credit=weights.split_penalty, P=P, P0=per_order_obj,
        allow_backorder=order.options.allow_backorder, max_shipments=max_ship,
        opt_node=node_idx[rows], opt_service=svcs, opt_price_row=rows,
        ship_offset=ship_off[rows], delivery_offset=delivery_off[rows, svcs], prices=prices,
        line_sku_col=line_sku_col, atp=atp, shared_skus=shared,
        penalty_money_per_unit=pen_unit_money, penalty_money_per_order=per_order, cost_weight=cw,
        now=now, stats=stats, opportunity=opportunity,
    )
    stats["options"] = problem.n_options
    if not problem.allow_backorder:
        problem.infeasible_reason = _shortage_reason(problem)
    return problem


def _usable(order: Order, now: datetime, available: np.ndarray, delivery_off: np.ndarray,
            stats: dict[str, int]) -> np.ndarray:
    """(node, service) pairs that exist and deliver by the promise date (counted in `stats`)."""
    usable = available.copy()
    if order.deliver_by is not None:
        days_left = (order.deliver_by - now.date()).days
        on_time = delivery_off <= days_left
        stats["too_slow"] = int((usable & ~on_time).sum())
        usable &= on_time
    stats["no_service"] = int((~usable.any(axis=1)).sum())
    return usable


def _mode_penalty(order: Order, policy: PolicyProfile, now: datetime) -> float:
    """What a mode (fewest shipments, fastest) adds to a missing unit: more than its dearest
    shipment, so the order is filled first and the mode decides among full plans (0 without one)."""
    extra_ship, extra_day = policy.mode_extras()
    if not (extra_ship or extra_day):
        return 0.0
    horizon = MODE_HORIZON_DAYS if order.deliver_by is None else (order.deliver_by - now.date()).days
    return extra_ship + extra_day * horizon


def unfilled_penalties(order: Order, policy: PolicyProfile, network: Network, dist_all: np.ndarray
                       ) -> tuple[float, float]:
    """Money charged for leaving the order (per order) and a unit (per unit) unfilled: the policy's,
    or the order's overrides; the per-distance part uses the farthest enabled node."""
    pen = policy.penalties
    override = order.options.penalty
    per_order = pen.per_order if override.per_order is None else override.per_order
    per_unit = pen.per_unit if override.per_unit is None else override.per_unit
    if pen.per_unit_per_max_distance and override.per_unit is None:
        far_km = dist_all[network.enabled].max(initial=0.0)
        per_unit += pen.per_unit_per_max_distance * far_km / DISTANCE_UNITS[pen.distance_unit]
    return per_order, per_unit


def _dominated(fixed: np.ndarray, unit: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """(..., n, S) mask of services beaten at the same node by another usable service that is no
    dearer per shipment and per unit of every line (ties keep the lower service index). Leading
    axes are independent orders (a stream router's chunk; lines padded with zero unit cost)."""
    s = fixed.shape[-1]
    # [..., a, b]: service b is no dearer than a per shipment and per unit of every line.
    no_worse = (usable[..., None, :] & (fixed[..., None, :] <= fixed[..., :, None])
                & (unit[..., None, :, :] <= unit[..., :, None, :]).all(axis=-1))
    strictly = ((fixed[..., None, :] < fixed[..., :, None])
                | (unit[..., None, :, :] < unit[..., :, None, :]).any(axis=-1))
    later = np.arange(s)[None, :] > np.arange(s)[:, None]       # b > a: a tie goes to the lower index
    beaten = no_worse & (~later | strictly) & ~np.eye(s, dtype=bool)
    return beaten.any(axis=-1) & usable


def _shortage_reason(p: Problem) -> str:
    """Why a no-backorder order cannot be filled even with every eligible option, or ''."""
    lines = p.order.lines
    total = p.A.sum(axis=0) if p.n_options else np.zeros(p.n_items, dtype=np.int64)
    for i, members in enumerate(p.items):
        if p.is_kit[i] and total[i] < 1:
            ids = ", ".join(lines[j].line_id for j in members)
            group = lines[members[0]].ship_group
            return f"kit {group!r} (lines {ids}): no eligible node can ship it complete"
        if not p.is_kit[i] and total[i] < p.Q[i]:
            line = lines[members[0]]
            where = f"line {line.line_id!r}" if len(members) == 1 else \
                "lines " + ", ".join(repr(lines[j].line_id) for j in members)
            return (f"{where} (SKU {line.sku}): {int(total[i])} of {int(p.Q[i])} units "
                    f"available at eligible nodes")
    too_few = _shipments_reason(p)
    if too_few:
        return too_few
    if p.shared_skus:
        # Lines sharing a SKU draw on the same units: compare the SKU's total demand with its stock.
        nodes = np.unique(p.opt_node)
        for col in np.unique(p.line_sku_col):
            on_lines = [j for j in range(len(lines)) if p.line_sku_col[j] == col]
            demand = sum(lines[j].quantity for j in on_lines)
            have = int(p.atp[nodes, col].sum())
            if have < demand:
                ids = ", ".join(lines[j].line_id for j in on_lines)
                return (f"SKU {lines[on_lines[0]].sku} (lines {ids}): {have} of {demand} units "
                        f"available at eligible nodes")
    return ""


def node_supply(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(node indices with stock for the order, units of each item each can give: its best service,
    at most the item's quantity)."""
    held = np.zeros((int(p.opt_node.max(initial=-1)) + 1, p.n_items), dtype=np.int64)
    np.maximum.at(held, p.opt_node, np.minimum(p.A, p.Q[None, :]))
    nodes = np.flatnonzero(held.any(axis=1))
    return nodes, held[nodes]


def _shipments_reason(p: Problem) -> str:
    """Why max_shipments nodes cannot fill the order, or ''. Two relaxations of "some M nodes
    cover every item": each item alone from its M best nodes, and all units together from the M
    nodes that hold the most of the order (a node gives an item at most what it has and what the
    item needs). Either falling short proves the order infeasible without a search."""
    m = p.max_shipments
    if m >= p.n_options or not p.n_options:
        return ""
    _, held = node_supply(p)
    if len(held) <= m:
        return ""
    best_m = -np.partition(-held, m - 1, axis=0)[:m].sum(axis=0)        # per item, its M best nodes
    short = np.flatnonzero(best_m < p.Q)
    lines = p.order.lines
    if len(short):
        i = int(short[0])
        line = lines[p.items[i][0]]
        what = f"kit {line.ship_group!r}" if p.is_kit[i] else f"line {line.line_id!r} (SKU {line.sku})"
        return (f"{what}: the {m} eligible nodes with the most of it hold {int(best_m[i])} of "
                f"{int(p.Q[i])} units, and the order may ship at most {m} shipment(s) (max_shipments)")
    totals = held.sum(axis=1)
    most = int(-np.partition(-totals, m - 1)[:m].sum())
    if most < int(p.Q.sum()):
        return (f"no {m} eligible nodes hold the order's {int(p.Q.sum())} units between them (at most "
                f"{most}), and the order may ship at most {m} shipment(s) (max_shipments)")
    return ""


def _items(lines: Sequence[Line], unit_w: np.ndarray, line_sku_col: np.ndarray
           ) -> tuple[list[tuple[int, ...]], np.ndarray, bool]:
    """Kits become one all-or-nothing item; other lines are items, one per (SKU, unit weight), its
    first line standing for the SKU. (items as line indices, is_kit, whether a SKU feeds several
    items: two kits, a kit and a line, or lines of different weights)."""
    groups: dict[str, list[int]] = {}
    alike: dict[tuple[str, float], list[int]] = {}
    for i, line in enumerate(lines):
        if line.ship_group:
            groups.setdefault(line.ship_group, []).append(i)
        else:
            alike.setdefault((line.sku, float(unit_w[i])), []).append(i)
    items: list[tuple[int, ...]] = [tuple(ix) for ix in alike.values()]
    kit_items = [tuple(ix) for ix in groups.values()]
    items.extend(kit_items)
    is_kit = np.array([False] * (len(items) - len(kit_items)) + [True] * len(kit_items))
    feeds = [int(line_sku_col[j]) for i, m in enumerate(items) for j in (m if is_kit[i] else m[:1])]
    return items, is_kit, len(set(feeds)) < len(feeds)


def _candidate_nodes(order: Order, stock: StockView, atp: np.ndarray, network: Network, policy: PolicyProfile,
                     line_sku_col: np.ndarray, stats: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Nodes that may ship (hard filters, each counted in `stats` for the explanation) and hold
    some of the order's SKUs; (their indices, every node's stock per line)."""
    allowed = network.enabled.copy()
    stats["disabled"] = int((~allowed).sum())
    if order.options.excluded_nodes:
        excluded = np.zeros(len(network), dtype=bool)
        excluded[[network.index_of(n) for n in order.options.excluded_nodes]] = True
        stats["excluded"] = int((allowed & excluded).sum())
        allowed &= ~excluded
    kinds_allowed = policy.channel_node_kinds.get(order.channel)
    if kinds_allowed is not None:
        ok_kind = np.isin(network.kinds, list(kinds_allowed))
        stats["channel"] = int((allowed & ~ok_kind).sum())
        allowed &= ok_kind
    if stock.capacity_left is not None:
        has_cap = stock.capacity_left > 0
        stats["capacity"] = int((allowed & ~has_cap).sum())
        allowed &= has_cap
    line_stock = atp[:, line_sku_col]                                   # (N, L)
    has_stock = (line_stock > 0).any(axis=1)
    stats["no_stock"] = int((allowed & ~has_stock).sum())
    node_idx = np.flatnonzero(allowed & has_stock)
    return node_idx, line_stock


def _item_arrays(items: list[tuple[int, ...]], is_kit: np.ndarray, opt_stock: np.ndarray,
                 line_unit: np.ndarray, qty: np.ndarray, pen_unit: np.ndarray, cw: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per option x item: units available (A) and unit cost (C); per item: quantity (Q) and the
    penalty per unit left unfilled (P: `pen_unit` money per line, times the cost weight `cw`).
    A kit is one unit, available where every line is. Loops over items (few), never over nodes."""
    n_items = len(items)
    A = np.zeros((len(opt_stock), n_items), dtype=np.int64)
    C = np.zeros((len(opt_stock), n_items))
    Q = np.zeros(n_items, dtype=np.int64)
    P = np.zeros(n_items)
    for i, members in enumerate(items):
        m = list(members)
        if is_kit[i]:
            Q[i] = 1
            A[:, i] = (opt_stock[:, m] >= qty[m]).all(axis=1)
            C[:, i] = line_unit[:, m] @ qty[m]
            P[i] = cw * float(pen_unit[m] @ qty[m])
        else:
            Q[i] = qty[m].sum()
            A[:, i] = np.minimum(opt_stock[:, m[0]], Q[i])
            C[:, i] = line_unit[:, m[0]]
            P[i] = cw * pen_unit[m[0]]
    return A, C, Q, P
