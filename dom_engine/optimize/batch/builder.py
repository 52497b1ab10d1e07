"""Every order's Problem of a wave, built at once: build_problem's work as array operations over
all (order, candidate node) pairs of the wave, then one cheap assembly per order.

build_problem costs ~0.5 ms per order on this machine, nearly all of it the overhead of some
thirty small numpy calls (5 s for a 10k wave, half of a 10 s budget). Here each of those calls
runs once per chunk of orders. Every value comes from the same functions with the same
element-by-element arithmetic (network.pricing.price_destinations, problem._dominated,
problem._items, problem.unfilled_penalties, problem._shortage_reason), so each Problem equals
the one build_problem makes of the same order on the same stock, bit for bit
(tests/optimize/test_batch_builder.py). Orders with kits or with a SKU on several items are left
to build_problem (None in the result): their item arrays are not plain line columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np

from ...domain import Network, Order, PolicyProfile, RateCard
from ...domain.stock import StockView
from ...network.calendar import ship_day_offsets
from ...network.pricing import ServicePrices, price_destinations
from ..order_chunk import _allowed, _buffers
from ..problem import Problem, _dominated, _items, _mode_penalty, _shortage_reason, unfilled_penalties

# Lines an order may have to be built here: the wave's arrays are as wide as its longest order,
# so a rare 200-line order goes to build_problem instead of widening every pair's arrays.
MAX_LINES = 16


def build_problems(orders: Sequence[Order], policies: Sequence[PolicyProfile], stock: StockView,
                   network: Network, rate_card: RateCard, now: datetime, distances: np.ndarray,
                   ) -> list[Problem | None]:
    """The Problem of each order on `stock` (its SKU columns index the view's `skus`), or None
    for an order build_problem must build (kits, shared SKUs, more than MAX_LINES lines).
    `distances` (B, N): km from each order's destination to every node."""
    sku_col = {sku: j for j, sku in enumerate(stock.skus)}
    out: list[Problem | None] = [None] * len(orders)
    simple, line_col, unit_w, qty, items = [], [], [], [], []
    default_w = rate_card.default_unit_weight_kg
    for b, order in enumerate(orders):
        if len(order.lines) > MAX_LINES:
            continue
        cols = np.array([sku_col[line.sku] for line in order.lines], dtype=np.int64)
        weights = np.array([default_w if ln.unit_weight_kg is None else ln.unit_weight_kg
                            for ln in order.lines])
        its, is_kit, shared = _items(order.lines, weights, cols)
        if shared or is_kit.any():
            continue
        simple.append(b)
        line_col.append(cols)
        unit_w.append(weights)
        qty.append(np.array([line.quantity for line in order.lines], dtype=np.int64))
        items.append(its)
    if simple:
        wave = _Wave(simple, line_col, unit_w, qty, default_w)
        pick = np.array(simple)
        built = _assemble(wave, items, [orders[b] for b in simple], [policies[b] for b in simple], stock,
                          network, rate_card, now, distances[pick])
        for b, problem in zip(simple, built, strict=True):
            out[b] = problem
    return out


class _Wave:
    """The simple orders' lines as padded (B, L) arrays."""

    def __init__(self, simple: list[int], line_col: list[np.ndarray], unit_w: list[np.ndarray],
                 qty: list[np.ndarray], default_w: float) -> None:
        self.n_lines = np.array([len(c) for c in line_col], dtype=np.int64)
        width = int(self.n_lines.max())
        self.line_col = np.zeros((len(simple), width), dtype=np.int64)
        self.unit_w = np.full((len(simple), width), default_w)
        self.qty = np.zeros((len(simple), width), dtype=np.int64)
        self.real = np.arange(width)[None, :] < self.n_lines[:, None]     # (B, L) real lines
        for b, (cols, w, q) in enumerate(zip(line_col, unit_w, qty, strict=True)):
            self.line_col[b, :len(cols)], self.unit_w[b, :len(cols)], self.qty[b, :len(cols)] = cols, w, q


def _assemble(wave: _Wave, items: list, orders: list[Order], policies: list[PolicyProfile], stock: StockView,
              network: Network, rate_card: RateCard, now: datetime, distances: np.ndarray) -> list[Problem]:
    """build_problem for the wave's simple orders (see the module docstring)."""
    b_n = len(orders)
    buffer = _buffers(policies, network)                                       # (B, N)
    has_buffer = np.array([bool(p.min_stock_buffer) for p in policies])
    # Stock per (order, node, line) after the policy's buffers (clipped only under a buffer, as
    # build_problem does).
    raw = stock.atp.astype(np.int64)[:, wave.line_col].transpose(1, 0, 2)     # (B, N, L)
    line_stock = np.where(has_buffer[:, None, None], np.clip(raw - buffer[:, :, None], 0, None), raw)
    allowed = _allowed(orders, policies, network)
    has_cap = np.ones(len(network), dtype=bool)
    if stock.capacity_left is not None:
        has_cap = np.asarray(stock.capacity_left) > 0
    has_stock = np.asarray(((line_stock > 0) & wave.real[:, None, :]).any(axis=2))
    pair_b, pair_node = np.nonzero(allowed & has_cap[None, :] & has_stock)
    first = np.searchsorted(pair_b, np.arange(b_n + 1))

    prices = price_destinations(rate_card, network, pair_node[:, None], distances[pair_b, pair_node][:, None],
                                wave.unit_w[pair_b])
    weights = [p.effective_weights() for p in policies]
    cw = np.array([w.cost_weight for w in weights])[pair_b, None]
    ship_off = ship_day_offsets(now, network.cutoff_hours[pair_node], network.processing_days[pair_node])
    delivery = ship_off[:, None] + prices.transit_days[:, 0]                 # (P, S)
    no_promise = np.iinfo(np.int64).max
    days_left = np.array([no_promise if o.deliver_by is None else (o.deliver_by - now.date()).days
                          for o in orders])[pair_b, None]
    available = prices.available[:, 0]
    on_time = delivery <= days_left
    usable = available & on_time
    fixed = (cw * prices.fixed[:, 0] + np.array([w.split_penalty for w in weights])[pair_b, None]
             + np.array([w.delivery_day_weight for w in weights])[pair_b, None] * delivery)
    unit_obj = (cw[..., None] * prices.per_unit[:, 0]
                + np.array([w.co2e_price for w in weights])[pair_b, None, None] * prices.co2e_unit[:, 0])
    # Padded lines cost nothing to any service: they cannot make one dominate another.
    masked = np.where(wave.real[pair_b][:, None, :], unit_obj, 0.0)
    survives = usable & ~_dominated(fixed, masked, usable)
    counts = _filter_counts(orders, policies, network, stock, allowed, has_cap, has_stock, available,
                            usable, pair_b, b_n)
    options = _Options(items, wave, survives, pair_b, pair_node, line_stock, unit_obj, fixed, ship_off,
                       delivery)
    by_policy: dict[int, np.ndarray] = {}

    def buffered(policy: PolicyProfile) -> np.ndarray:
        """The stock after `policy`'s buffers, as build_problem computes it, made once per policy."""
        atp = by_policy.get(id(policy))
        if atp is None:
            atp = by_policy[id(policy)] = stock.atp.astype(np.int64)
            if policy.min_stock_buffer:
                for kind, buffer in policy.min_stock_buffer.items():
                    atp[network.kinds == kind] -= buffer
                np.clip(atp, 0, None, out=atp)
        return atp

    return [_problem(b, items[b], orders[b], policies[b], weights[b], wave, first, options, prices, buffered,
                     network, now, distances[b], counts[b])
            for b in range(b_n)]


class _Options:
    """The surviving (pair, service) options of the whole chunk, in (order, node, service) order,
    with their item arrays (padded to the most items; options with nothing to ship stay in, each
    order drops them): option o of order b is row first[b] <= o < first[b + 1]."""

    def __init__(self, items: list, wave: _Wave, survives: np.ndarray, pair_b: np.ndarray,
                 pair_node: np.ndarray, line_stock: np.ndarray, unit_obj: np.ndarray, fixed: np.ndarray,
                 ship_off: np.ndarray, delivery: np.ndarray) -> None:
        b_n = len(items)
        self.n_items = np.array([len(its) for its in items], dtype=np.int64)
        width = int(self.n_items.max())
        first_line = np.zeros((b_n, width), dtype=np.int64)
        qty = np.zeros((b_n, width), dtype=np.int64)
        for b, its in enumerate(items):
            first_line[b, :len(its)] = [m[0] for m in its]
            qty[b, :len(its)] = [int(wave.qty[b, list(m)].sum()) for m in its]
        self.qty = qty
        self.pair, self.service = np.nonzero(survives)
        ob = pair_b[self.pair]
        self.first = np.searchsorted(ob, np.arange(b_n + 1))
        lines = first_line[ob]                                                   # (O, I)
        self.A = np.minimum(line_stock[ob[:, None], pair_node[self.pair][:, None], lines], qty[ob])
        self.C = unit_obj[self.pair[:, None], self.service[:, None], lines]
        self.f = fixed[self.pair, self.service]
        self.node = pair_node[self.pair]
        self.ship_offset = ship_off[self.pair]
        self.delivery_offset = delivery[self.pair, self.service]


def _filter_counts(orders: list[Order], policies: list[PolicyProfile], network: Network, stock: StockView,
                   allowed: np.ndarray, has_cap: np.ndarray, has_stock: np.ndarray, available: np.ndarray,
                   usable: np.ndarray, pair_b: np.ndarray, b_n: int) -> list[dict[str, int]]:
    """Each order's `stats` as problem._candidate_nodes and _usable count them."""
    enabled = network.enabled
    no_stock = (allowed & has_cap[None, :] & ~has_stock).sum(axis=1).tolist()
    capacity = (allowed & ~has_cap[None, :]).sum(axis=1).tolist()
    too_slow = np.bincount(pair_b, (available & ~usable).sum(axis=1), minlength=b_n).astype(np.int64).tolist()
    no_service = np.bincount(pair_b, ~usable.any(axis=1), minlength=b_n).astype(np.int64).tolist()
    disabled = int((~enabled).sum())
    out = []
    for b, (order, policy) in enumerate(zip(orders, policies, strict=True)):
        stats = {"nodes": len(network), "disabled": disabled}
        excluded_ids = order.options.excluded_nodes
        if excluded_ids:
            excluded = np.zeros(len(network), dtype=bool)
            excluded[[network.index_of(n) for n in excluded_ids]] = True
            stats["excluded"] = int((enabled & excluded).sum())
        else:
            excluded = None
        kinds_allowed = policy.channel_node_kinds.get(order.channel)
        if kinds_allowed is not None:
            before = enabled if excluded is None else enabled & ~excluded
            stats["channel"] = int((before & ~np.isin(network.kinds, list(kinds_allowed))).sum())
        if stock.capacity_left is not None:
            stats["capacity"] = capacity[b]
        stats["no_stock"] = no_stock[b]
        if order.deliver_by is not None:
            stats["too_slow"] = too_slow[b]
        stats["no_service"] = no_service[b]
        out.append(stats)
    return out


def _problem(b: int, items: list[tuple[int, ...]], order: Order, policy: PolicyProfile, weights,
             wave: _Wave, first_pair: np.ndarray, opts: _Options, prices: ServicePrices,
             buffered: Callable[[PolicyProfile], np.ndarray], network: Network, now: datetime,
             dist_all: np.ndarray, stats: dict[str, int]) -> Problem:
    """One order's Problem from the chunk's arrays (build_problem's tail)."""
    lo, hi, n_it, n_lines = int(opts.first[b]), int(opts.first[b + 1]), len(items), int(wave.n_lines[b])
    A = opts.A[lo:hi, :n_it]
    keep = lo + np.flatnonzero(A.any(axis=1))
    # The order's SKU columns in the stock view build_problem would get (sorted, unique): plain
    # Python, as np.unique costs ~30 us on a few lines.
    cols = wave.line_col[b, :n_lines].tolist()
    view_cols = sorted(set(cols))
    at = {c: j for j, c in enumerate(view_cols)}
    line_sku_col = np.array([at[c] for c in cols], dtype=np.int64)
    per_order, per_unit = unfilled_penalties(order, policy, network, dist_all)
    cw = weights.cost_weight
    P = np.full(n_it, cw * per_unit)
    per_order_obj = cw * per_order
    worst = _mode_penalty(order, policy, now)
    if worst:
        P += worst
        per_order_obj += worst
    atp = buffered(policy)[:, view_cols]
    max_ship = 1 if order.options.ship_complete else (order.options.max_shipments or policy.max_shipments)
    pair_lo = int(first_pair[b])
    problem = Problem(
        order=order, items=items, is_kit=np.zeros(n_it, dtype=bool), Q=opts.qty[b, :n_it].copy(),
        A=opts.A[keep, :n_it], C=opts.C[keep, :n_it], f=opts.f[keep], split_credit=weights.split_penalty,
        P=P, P0=per_order_obj, allow_backorder=order.options.allow_backorder, max_shipments=max_ship,
        opt_node=opts.node[keep], opt_service=opts.service[keep], opt_price_row=opts.pair[keep] - pair_lo,
        ship_offset=opts.ship_offset[keep], delivery_offset=opts.delivery_offset[keep],
        prices=_order_prices(prices, pair_lo, int(first_pair[b + 1]), n_lines),
        line_sku_col=line_sku_col, atp=atp, shared_skus=False,
        penalty_money_per_unit=np.full(n_lines, per_unit), penalty_money_per_order=per_order, cost_weight=cw,
        now=now, stats=stats)
    stats["options"] = problem.n_options
    if not problem.allow_backorder:
        problem.infeasible_reason = _shortage_reason(problem)
    return problem


def _order_prices(prices: ServicePrices, lo: int, hi: int, n_lines: int) -> ServicePrices:
    """One order's prices (its pairs, its real lines) from the wave's (P, 1, ...) arrays."""
    return ServicePrices(
        distance_km=prices.distance_km[lo:hi, 0], available=prices.available[lo:hi, 0],
        transit_days=prices.transit_days[lo:hi, 0], package=prices.package[lo:hi, 0],
        package_distance=prices.package_distance[lo:hi, 0],
        handling_shipment=prices.handling_shipment[lo:hi, 0],
        unit=prices.unit[lo:hi, 0, :, :n_lines], unit_distance=prices.unit_distance[lo:hi, 0, :, :n_lines],
        handling_unit=prices.handling_unit[lo:hi, 0], co2e_unit=prices.co2e_unit[lo:hi, 0, :, :n_lines])
