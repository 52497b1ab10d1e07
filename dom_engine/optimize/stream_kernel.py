"""Route a chunk of orders one after another on live stock, compiled (numba): for each order the
rest of problem.build_problem (the filters that need stock: capacity left, stock after the
policy's buffers; options in (node, service) order; A and C per option and item), the exact set
search of compiled_search, and the plan's effects (units leave stock, each shipping node spends a
shipment of the day's capacity, first stock-outs) and its money (plan_builder's breakdown).

An order proven to have no plan (no backorders and stock short, or max_shipments too few) is
INFEASIBLE, as solve_order would say. What the kernel does not model it hands back: it stops at
an order marked exact, or whose search gave up, and returns its index; the caller routes that
one with solve_order (and applies it), then resumes the kernel after it.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .compiled_allocation import best_allocation
from .compiled_search import GAVE_UP, _search
from .order_chunk import OrderChunk

UNLIMITED = np.int64(2**62)


@nb.njit(cache=True)
def _route(start, exact, item_line, item_col, item_qty, item_penalty, n_items, line_col, penalty_once,
           allow_backorder, max_shipments, split_credit, max_sets, penalty_money_unit, penalty_money_order,
           first_pair, pair_node, pair_buffer, fixed, unit_obj, usable, money_fixed, money_unit, co2e_unit,
           distance_km, delivery_offset, day, on_hand, safety, day_capacity, state, shipments_today,
           stockout_day, shipped, out_units, out_ships, out_money, out_penalty, out_co2e, out_distance,
           out_last, out_nodes, out_infeasible, out_unserved):
    """Route orders start.. of the chunk; returns the index of the first one left to the caller
    (len of the chunk when all were routed). `state[0]` is the day whose shipments
    `shipments_today` counts (reset when an order's `day` moves past it)."""
    n_orders = len(exact)
    n_services = fixed.shape[1]
    for b in range(start, n_orders):
        if exact[b]:
            return b
        if day[b] != state[0]:
            state[0] = day[b]
            shipments_today[:] = 0
        n_it = n_items[b]
        lo, hi = first_pair[b], first_pair[b + 1]
        # Candidate nodes (problem._candidate_nodes: capacity left, stock after the buffer) and
        # their undominated usable services: the options, in (node, service) order.
        n_opt = 0
        opt_p = np.empty((hi - lo) * n_services, dtype=np.int64)
        opt_n = np.empty((hi - lo) * n_services, dtype=np.int64)
        opt_s = np.empty((hi - lo) * n_services, dtype=np.int64)
        atp = np.zeros((hi - lo, n_it), dtype=np.int64)
        for p in range(lo, hi):
            n = pair_node[p]
            if day_capacity[n] < UNLIMITED and day_capacity[n] - shipments_today[n] <= 0:
                continue
            has_stock = False
            for i in range(n_it):
                a = max(on_hand[n, item_col[b, i]] - safety[n, item_col[b, i]], 0)
                atp[p - lo, i] = max(a - pair_buffer[p], 0)
                if atp[p - lo, i] > 0:
                    has_stock = True
            if not has_stock:
                continue
            for s in range(n_services):     # every option ships something here (A.any)
                if usable[p, s] and not _dominated(p, s, usable, fixed, unit_obj, line_col[b]):
                    opt_p[n_opt] = p
                    opt_n[n_opt] = n
                    opt_s[n_opt] = s
                    n_opt += 1
        A = np.empty((n_opt, n_it), dtype=np.int64)
        C = np.empty((n_opt, n_it))
        f = np.empty(n_opt)
        for o in range(n_opt):
            p, s = opt_p[o], opt_s[o]
            f[o] = fixed[p, s]
            for i in range(n_it):
                A[o, i] = min(atp[p - lo, i], item_qty[b, i])
                C[o, i] = unit_obj[p, s, item_line[b, i]]
        Q = item_qty[b, :n_it].copy()
        P = item_penalty[b, :n_it].copy()
        status, best, best_set, _, _, _ = _search(
            A, C, f, split_credit[b], Q, P, penalty_once[b], allow_backorder[b], max_shipments[b],
            opt_n[:n_opt], np.inf, max_sets[b], 0)
        if status == GAVE_UP:
            return b
        if not np.isfinite(best):     # proven: no plan (no backorders and stock short, or max_shipments)
            out_infeasible[b] = True
            out_unserved[b] = penalty_money_order[b] + penalty_money_unit[b] * Q.sum()
            continue
        if len(best_set):
            x, short, _ = best_allocation(best_set, A, C, f, split_credit[b], Q, P, penalty_once[b],
                                          allow_backorder[b])
        else:
            x, short = np.zeros((0, n_it), dtype=np.int64), Q.copy()
        _apply(b, best_set, x, short, opt_p, opt_n, opt_s, item_line, item_col, day[b], money_fixed,
               money_unit, co2e_unit, distance_km, delivery_offset, penalty_money_unit, penalty_money_order,
               on_hand, shipments_today, stockout_day, shipped, out_units, out_ships, out_money, out_penalty,
               out_co2e, out_distance, out_last, out_nodes)
    return n_orders


@nb.njit(cache=True)
def _dominated(p, a, usable, fixed, unit_obj, lines):
    """problem._dominated for service a of pair p: another usable service no dearer per shipment
    and per unit of every line (`lines`: the order's SKU columns, -1 padded), and strictly cheaper
    somewhere or of a lower index."""
    for s in range(fixed.shape[1]):
        if s == a or not usable[p, s] or fixed[p, s] > fixed[p, a]:
            continue
        no_worse = True
        strictly = fixed[p, s] < fixed[p, a]
        for j in range(len(lines)):
            if lines[j] < 0:
                break
            if unit_obj[p, s, j] > unit_obj[p, a, j]:
                no_worse = False
                break
            if unit_obj[p, s, j] < unit_obj[p, a, j]:
                strictly = True
        if no_worse and (s < a or strictly):
            return True
    return False


@nb.njit(cache=True)
def _apply(b, options, x, short, opt_p, opt_n, opt_s, item_line, item_col, today, money_fixed, money_unit,
           co2e_unit, distance_km, delivery_offset, penalty_money_unit, penalty_money_order, on_hand,
           shipments_today, stockout_day, shipped, out_units, out_ships, out_money, out_penalty, out_co2e,
           out_distance, out_last, out_nodes):
    """The plan's effects on stock and capacity, and its outcome (plan_builder's money: package,
    units, handling and distance per shipment; penalties when anything is unfilled)."""
    n_it = x.shape[1]
    ships = 0
    units_total = 0
    money = 0.0
    co2e = 0.0
    dist = 0.0
    last = -1
    for j in range(len(options)):
        units = 0
        for i in range(n_it):
            units += x[j, i]
        if units == 0:
            continue
        o = options[j]
        p, n, s = opt_p[o], opt_n[o], opt_s[o]
        cost = money_fixed[p, s]
        for i in range(n_it):
            if x[j, i] > 0:
                cost += x[j, i] * money_unit[p, s, item_line[b, i]]
                co2e += x[j, i] * co2e_unit[p, s, item_line[b, i]]
                col = item_col[b, i]
                on_hand[n, col] -= x[j, i]
                shipped[n, col] += x[j, i]
                if on_hand[n, col] == 0 and stockout_day[n, col] < 0:
                    stockout_day[n, col] = today
        money += cost
        dist += distance_km[p]
        last = max(last, delivery_offset[p, s])
        shipments_today[n] += 1
        out_nodes[b, ships] = n
        ships += 1
        units_total += units
    short_units = 0
    for i in range(n_it):
        short_units += short[i]
    out_units[b] = units_total
    out_ships[b] = ships
    out_money[b] = money
    out_penalty[b] = penalty_money_order[b] + penalty_money_unit[b] * short_units if short_units else 0.0
    out_co2e[b] = co2e
    out_distance[b] = dist
    out_last[b] = last


class StreamState:
    """The live state a stream of chunks routes against: stock (N, K), safety stock, each node's
    daily shipment capacity (UNLIMITED where none), shipments today, units shipped, the day index
    of each (node, SKU)'s first stock-out (-1: none)."""

    def __init__(self, on_hand: np.ndarray, safety: np.ndarray, day_capacity: np.ndarray) -> None:
        self.on_hand = np.ascontiguousarray(on_hand, dtype=np.int64).copy()
        self.safety = np.ascontiguousarray(safety, dtype=np.int64).copy()
        self.day_capacity = np.asarray(day_capacity, dtype=np.int64)
        self.day = np.array([-1], dtype=np.int64)
        self.shipments_today = np.zeros(len(day_capacity), dtype=np.int64)
        self.shipped = np.zeros_like(self.on_hand)
        self.stockout_day = np.full(self.on_hand.shape, -1, dtype=np.int64)

    def roll_to(self, day: int) -> None:
        if day != self.day[0]:
            self.day[0] = day
            self.shipments_today[:] = 0

    def capacity_left(self) -> np.ndarray:
        return np.where(self.day_capacity >= UNLIMITED, UNLIMITED,
                        (self.day_capacity - self.shipments_today).clip(0))


class ChunkOutcomes:
    """What the kernel writes per order of a chunk (plans it routed; others stay as zeros)."""

    def __init__(self, n_orders: int, width: int) -> None:
        self.units = np.zeros(n_orders, dtype=np.int64)
        self.shipments = np.zeros(n_orders, dtype=np.int64)
        self.money = np.zeros(n_orders)
        self.penalty = np.zeros(n_orders)
        self.co2e = np.zeros(n_orders)
        self.distance = np.zeros(n_orders)
        self.last_delivery = np.full(n_orders, -1, dtype=np.int64)
        self.nodes = np.full((n_orders, max(width, 1)), -1, dtype=np.int64)
        # Proven to have no plan, and what leaving it all unfilled costs (replay._unserved).
        self.infeasible = np.zeros(n_orders, dtype=np.bool_)
        self.unserved = np.zeros(n_orders)


def route_chunk(chunk: OrderChunk, day: np.ndarray, state: StreamState, out: ChunkOutcomes,
                start: int = 0) -> int:
    """Route the chunk's orders from `start` on `state`; the index of the first order left to the
    caller (exact, or the search gave up or found no plan), or the chunk's length."""
    c = chunk
    return int(_route(
        start, c.exact, c.item_line, c.item_col, c.item_qty, c.item_penalty, c.n_items, c.line_col,
        c.penalty_once, c.allow_backorder, c.max_shipments, c.split_credit, c.max_sets, c.penalty_money_unit,
        c.penalty_money_order, c.first_pair, c.pair_node, c.pair_buffer, c.fixed, c.unit_obj, c.usable,
        c.money_fixed, c.money_unit, c.co2e_unit, c.distance_km, c.delivery_offset, day, state.on_hand,
        state.safety, state.day_capacity, state.day, state.shipments_today, state.stockout_day,
        state.shipped, out.units, out.shipments, out.money, out.penalty, out.co2e, out.distance,
        out.last_delivery, out.nodes, out.infeasible, out.unserved))
