"""The stock-independent part of many orders' problems, priced at once: what build_problem
computes for one order before it looks at stock (prices, delivery offsets, usable services per
node, items, penalties), as arrays over a chunk of orders and the (order, node) pairs that may
ship, so a compiled router (stream_kernel.py) can take the orders one at a time on live stock.

Every value is computed by the same functions and the same element-by-element arithmetic as
build_problem (network.pricing._priced, problem._items, problem.unfilled_penalties), so a chunked
order gets the bits its own build_problem would: the stream router's decisions equal
Engine.route's. Orders outside what the kernel models (kits, a SKU on two items, more than
MAX_FAST_LINES lines) are marked `exact` and routed by solve_order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..domain import Network, Order, PolicyProfile, RateCard
from ..network.pricing import price_destinations
from .problem import _items, _mode_penalty, unfilled_penalties

# Lines of an order the chunk arrays hold; longer orders take the exact path (a rare 200-line
# order would otherwise widen the whole chunk's (orders x nodes x services x lines) arrays).
MAX_FAST_LINES = 8


@dataclass
class OrderChunk:
    """Per-order arrays of a chunk of B orders (L lines, I items, padded) and per-pair arrays of the
    (order, node) pairs that may ship (S services): pairs of order b are first_pair[b] ..
    first_pair[b + 1] - 1, in node order."""

    exact: np.ndarray          # (B,) bool: route with solve_order, not the kernel
    item_line: np.ndarray      # (B, I) first line of each item (its unit costs)
    item_col: np.ndarray       # (B, I) the item's SKU column in the stock arrays
    item_qty: np.ndarray       # (B, I) int64 units (Q)
    item_penalty: np.ndarray   # (B, I) objective per unfilled unit (P)
    n_items: np.ndarray        # (B,)
    line_col: np.ndarray       # (B, L) SKU column per line (-1 padding)
    penalty_once: np.ndarray   # (B,) objective once if anything is unfilled (P0)
    allow_backorder: np.ndarray  # (B,) bool
    max_shipments: np.ndarray  # (B,)
    split_credit: np.ndarray   # (B,)
    max_sets: np.ndarray       # (B,) sets per level the search may evaluate before it gives up
    penalty_money_unit: np.ndarray   # (B,) money per unfilled unit
    penalty_money_order: np.ndarray  # (B,) money once if anything is unfilled
    first_pair: np.ndarray     # (B + 1,)
    pair_node: np.ndarray      # (P,) network node index
    pair_buffer: np.ndarray    # (P,) int64 stock the order's policy keeps at the node
    fixed: np.ndarray          # (P, S) objective per shipment
    unit_obj: np.ndarray       # (P, S, L) objective per unit
    usable: np.ndarray         # (P, S) bool: exists and on time (the kernel drops dominated ones)
    money_fixed: np.ndarray    # (P, S) money per shipment
    money_unit: np.ndarray     # (P, S, L) money per unit
    co2e_unit: np.ndarray      # (P, S, L) kg CO2e per unit
    distance_km: np.ndarray    # (P,)
    delivery_offset: np.ndarray  # (P, S) days from the order date to delivery


def price_chunk(orders: Sequence[Order], policies: Sequence[PolicyProfile], nows: Sequence[datetime],
                distances: np.ndarray, network: Network, rate_card: RateCard,
                sku_col: dict[str, int], atp: tuple[np.ndarray, np.ndarray], max_sets: int) -> OrderChunk:
    """The chunk of `orders`, each routed under its policy at its `now`, `distances` (B, N: km from
    its destination to every node, as problem.build_problem gets them); `sku_col` maps SKUs to stock
    columns (every SKU of the orders is in it); `max_sets` is search.fast_search's limit.

    Only nodes that may ship are priced: allowed, and holding some of the order's SKUs beyond its
    buffer in `atp` (on hand, safety stock: (N, K) each) now. Within a chunk stock only falls and
    no node opens, so no other node can become a candidate before the chunk ends."""
    b_n = len(orders)
    width = max((len(o.lines) for o in orders if len(o.lines) <= MAX_FAST_LINES), default=1)
    weights = [p.effective_weights() for p in policies]
    unit_w = np.full((b_n, width), rate_card.default_unit_weight_kg)
    line_col = np.full((b_n, width), -1, dtype=np.int64)
    exact = np.zeros(b_n, dtype=bool)
    for b, order in enumerate(orders):
        if len(order.lines) > width:
            exact[b] = True
            continue
        for j, line in enumerate(order.lines):
            if line.unit_weight_kg is not None:
                unit_w[b, j] = line.unit_weight_kg
            line_col[b, j] = sku_col[line.sku]
    buffer = _buffers(policies, network)
    may_ship = _may_ship(orders, policies, network, line_col, buffer, atp) & ~exact[:, None]
    pair_b, pair_node = np.nonzero(may_ship)
    first_pair = np.searchsorted(pair_b, np.arange(b_n + 1))
    dist = np.asarray(distances)[pair_b, pair_node][:, None]
    # Each pair is a destination priced at one node: arrays (P, 1, ...).
    prices = price_destinations(rate_card, network, pair_node[:, None], dist, unit_w[pair_b])
    cw = np.array([w.cost_weight for w in weights])[pair_b, None, None]
    split = np.array([w.split_penalty for w in weights])
    day_w = np.array([w.delivery_day_weight for w in weights])[pair_b, None, None]
    co2e_price = np.array([w.co2e_price for w in weights])[pair_b, None, None, None]
    hours = np.array([n.hour + n.minute / 60 + n.second / 3600 for n in nows])
    # network.calendar.ship_day_offsets, for every pair's order hour at once
    ship_off = ((hours[pair_b] >= network.cutoff_hours[pair_node]).astype(np.int64)
                + network.processing_days[pair_node])[:, None]
    delivery = ship_off[:, :, None] + prices.transit_days                       # (P, 1, S)
    no_promise = np.iinfo(np.int64).max
    days_left = np.array([no_promise if o.deliver_by is None else (o.deliver_by - n.date()).days
                          for o, n in zip(orders, nows, strict=True)])
    usable = prices.available & (delivery <= days_left[pair_b, None, None])
    money_fixed, money_unit = prices.fixed, prices.per_unit
    fixed = cw * money_fixed + split[pair_b, None, None] + day_w * delivery
    unit_obj = cw[..., None] * money_unit + co2e_price * prices.co2e_unit
    items = _chunk_items(orders, policies, weights, nows, distances, network, unit_w, line_col, exact,
                         max_sets)
    return OrderChunk(
        exact=exact, line_col=line_col, first_pair=first_pair, pair_node=pair_node,
        pair_buffer=buffer[pair_b, pair_node], fixed=fixed[:, 0], unit_obj=unit_obj[:, 0],
        usable=usable[:, 0],
        money_fixed=money_fixed[:, 0], money_unit=money_unit[:, 0], co2e_unit=prices.co2e_unit[:, 0],
        distance_km=prices.distance_km[:, 0], delivery_offset=delivery[:, 0], split_credit=split, **items)


def _may_ship(orders: Sequence[Order], policies: Sequence[PolicyProfile], network: Network,
              line_col: np.ndarray, buffer: np.ndarray, atp: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(B, N): allowed for the order and holding some of its lines' SKUs beyond the buffer."""
    on_hand, safety = atp
    cols = line_col.clip(0)
    have = (on_hand[:, cols] - safety[:, cols]).clip(0).transpose(1, 0, 2) - buffer[:, :, None]  # (B, N, L)
    return _allowed(orders, policies, network) & ((have > 0) & (line_col >= 0)[:, None, :]).any(axis=2)


def _chunk_items(orders: Sequence[Order], policies: Sequence[PolicyProfile], weights: list,
                 nows: Sequence[datetime], distances: np.ndarray, network: Network,
                 unit_w: np.ndarray, line_col: np.ndarray, exact: np.ndarray, max_sets: int
                 ) -> dict[str, np.ndarray]:
    """Items, quantities and penalties per order (problem._items and _item_arrays for orders
    without kits or shared SKUs; the others are marked exact)."""
    b_n, width = line_col.shape
    item_rows: list[list[int]] = []      # per order: (first line, column, units) per item, flat
    per_order_rows = []                  # per order: b, n_items, P per item, P0, backorder, cap, sets, money
    weights_list, cols_list = unit_w.tolist(), line_col.tolist()
    for b, order in enumerate(orders):
        if exact[b]:
            continue
        lines = order.lines
        n_lines = len(lines)
        items, is_kit, shared = _items(lines, weights_list[b][:n_lines], cols_list[b][:n_lines])
        if shared or is_kit.any():
            exact[b] = True
            continue
        policy = policies[b]
        per_order, per_unit = unfilled_penalties(order, policy, network, distances[b])
        cw = weights[b].cost_weight
        worst = _mode_penalty(order, policy, nows[b])
        row = []
        for members in items:
            row += [members[0], cols_list[b][members[0]], sum(lines[j].quantity for j in members)]
        item_rows.append(row)
        options = order.options
        per_order_rows.append((
            b, len(items), cw * per_unit + worst if worst else cw * per_unit,
            cw * per_order + worst if worst else cw * per_order, options.allow_backorder,
            1 if options.ship_complete else (options.max_shipments or policy.max_shipments),
            max(100, max_sets * 10 // max(10, len(items))), per_unit, per_order))
    out: dict[str, np.ndarray] = {
        "item_line": np.zeros((b_n, width), dtype=np.int64),
        "item_col": np.zeros((b_n, width), dtype=np.int64),
        "item_qty": np.zeros((b_n, width), dtype=np.int64), "item_penalty": np.zeros((b_n, width)),
    }
    if not per_order_rows:
        return out | {name: np.zeros(b_n, dtype=t) for name, t in _PER_ORDER if name != "unit_penalty"}
    columns = list(zip(*per_order_rows, strict=True))
    rows = np.array(columns[0], dtype=np.int64)
    for (name, dtype), values in zip(_PER_ORDER, columns[1:], strict=True):
        out[name] = np.zeros(b_n, dtype=dtype)
        out[name][rows] = values
    for b, n_items, row in zip(rows.tolist(), columns[1], item_rows, strict=True):
        triples = np.array(row, dtype=np.int64).reshape(n_items, 3)
        out["item_line"][b, :n_items], out["item_col"][b, :n_items], out["item_qty"][b, :n_items] = triples.T
    # An item's penalty per unit is its first line's (the order's per-unit penalty, as _item_arrays).
    out["item_penalty"][:] = np.where(np.arange(width) < out["n_items"][:, None],
                                      out.pop("unit_penalty")[:, None], 0.0)
    return out


# The per-order arrays _chunk_items fills, in the order of its rows (after the order's index).
_PER_ORDER = (("n_items", np.int64), ("unit_penalty", np.float64), ("penalty_once", np.float64),
              ("allow_backorder", np.bool_), ("max_shipments", np.int64), ("max_sets", np.int64),
              ("penalty_money_unit", np.float64), ("penalty_money_order", np.float64))


def _allowed(orders: Sequence[Order], policies: Sequence[PolicyProfile], network: Network) -> np.ndarray:
    """problem._candidate_nodes' filters that need no stock: enabled, not excluded by the order,
    of a kind the policy allows for the order's channel."""
    allowed = np.repeat(network.enabled[None, :], len(orders), axis=0)
    for b, (order, policy) in enumerate(zip(orders, policies, strict=True)):
        for node_id in order.options.excluded_nodes:
            allowed[b, network.index_of(node_id)] = False
        kinds = policy.channel_node_kinds.get(order.channel)
        if kinds is not None:
            allowed[b] &= np.isin(network.kinds, list(kinds))
    return allowed


def _buffers(policies: Sequence[PolicyProfile], network: Network) -> np.ndarray:
    """Units each policy keeps at each node (min_stock_buffer by node kind)."""
    by_policy: dict[int, np.ndarray] = {}
    rows = []
    for policy in policies:
        row = by_policy.get(id(policy))
        if row is None:
            row = np.zeros(len(network), dtype=np.int64)
            for kind, buffer in policy.min_stock_buffer.items():
                row[network.kinds == kind] = buffer
            by_policy[id(policy)] = row
        rows.append(row)
    return np.array(rows).reshape(len(policies), len(network))
