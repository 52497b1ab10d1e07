"""Compiled (numba) kernels of the exact set search (compiled_search.py): for a fixed set of options,
the cheapest way to fill every item (whole or leaving units unfilled where that is cheaper), its
cost, and the allocation lower bound (every unit from its cheapest option) that prunes the search.
Array arguments follow compiled_search's conventions: A stock per option x item, C unit cost,
f fixed cost per option, Q quantities, P / P0 unfilled penalties."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def allocation_lower_bound(A, C, Q, P, allow_backorder):
    """solution.allocation_lower_bound: every unit from its cheapest options, shipments free."""
    n_opt, n_items = A.shape
    total = 0.0
    for i in range(n_items):
        order = np.argsort(C[:, i], kind="mergesort")
        left = Q[i]
        for t in range(n_opt):
            if left <= 0:
                break
            o = order[t]
            if allow_backorder and C[o, i] >= P[i]:
                break
            take = min(A[o, i], left)
            total += take * C[o, i]
            left -= take
        if left > 0:
            if not allow_backorder:
                return np.inf
            total += left * P[i]
    return total


@nb.njit(cache=True)
def rank_by_unit_cost(opts, m, C, i, rank):
    """rank[:m] = positions of opts[:m] by item i's unit cost, ties in set order (a stable
    insertion sort: m is the number of shipments, tiny)."""
    for j in range(m):
        rank[j] = j
    for a in range(1, m):
        key = rank[a]
        c = C[opts[key], i]
        b = a - 1
        while b >= 0 and C[opts[rank[b]], i] > c:
            rank[b + 1] = rank[b]
            b -= 1
        rank[b + 1] = key


@nb.njit(cache=True)
def fill_item(opts, m, A, C, i, rank, left, price_cap, shipped):
    """Fill `left` units of item i from opts[:m] in `rank` order, stopping at an option whose unit
    cost reaches `price_cap`; adds the units to shipped[j]. Returns (their cost, units left)."""
    cost = 0.0
    for t in range(m):
        if left <= 0:
            break
        j = rank[t]
        if C[opts[j], i] >= price_cap:
            break
        take = min(A[opts[j], i], left)
        if take > 0:
            cost += take * C[opts[j], i]
            shipped[j] += take
            left -= take
    return cost, left


@nb.njit(cache=True)
def set_cost(opts, m, A, C, f, split_credit, Q, P, P0, allow_backorder, rank, ship_full, ship_b):
    """Objective of the option set opts[:m] (solution.evaluate_sets for one set)."""
    fixed = -split_credit
    for j in range(m):
        fixed += f[opts[j]]
        ship_full[j] = 0
        ship_b[j] = 0
    units_full = 0.0
    full_ok = True
    units_b = 0.0
    penalty_b = 0.0
    short_b = False
    for i in range(Q.shape[0]):
        rank_by_unit_cost(opts, m, C, i, rank)
        cost, left = fill_item(opts, m, A, C, i, rank, Q[i], np.inf, ship_full)
        units_full += cost
        if left > 0:
            full_ok = False
        if allow_backorder:
            # Units dearer than their penalty stay unfilled (and so are all later options').
            cost, left = fill_item(opts, m, A, C, i, rank, Q[i], P[i], ship_b)
            units_b += cost
            if left > 0:
                short_b = True
                penalty_b += left * P[i]
    # A set with an option that ships nothing is the smaller set's plan: never a plan of its own.
    cost = np.inf
    if full_ok and (ship_full[:m] > 0).all():
        cost = fixed + units_full
    if allow_backorder and (ship_b[:m] > 0).all():
        cost = min(cost, fixed + units_b + penalty_b + (P0 if short_b else 0.0))
    return cost


@nb.njit(cache=True)
def set_allocation(opts, A, C, Q, P, allow_backorder, backorder):
    """The allocation set_cost priced for the set `opts` (whole fill, or with `backorder` the
    fill that leaves units dearer than their penalty unfilled): x (m, I) in opts' order, short (I,)."""
    m = len(opts)
    n_items = Q.shape[0]
    x = np.zeros((m, n_items), dtype=np.int64)
    short = np.zeros(n_items, dtype=np.int64)
    rank = np.zeros(m, dtype=np.int64)
    shipped = np.zeros(m, dtype=np.int64)
    for i in range(n_items):
        rank_by_unit_cost(opts, m, C, i, rank)
        shipped[:] = 0
        cap = P[i] if backorder and allow_backorder else np.inf
        _, left = fill_item(opts, m, A, C, i, rank, Q[i], cap, shipped)
        short[i] = left
        x[:, i] = shipped
    return x, short


@nb.njit(cache=True)
def best_allocation(opts, A, C, f, split_credit, Q, P, P0, allow_backorder):
    """The cheaper of the whole fill and the backorder fill of `opts` (as set_cost prices
    them): x, short, objective (inf, with everything short, when neither is a plan)."""
    best_x = np.zeros((len(opts), Q.shape[0]), dtype=np.int64)
    best_short = Q.copy()
    best = np.inf
    for backorder in (False, True):
        if backorder and not allow_backorder:
            break
        x, short = set_allocation(opts, A, C, Q, P, allow_backorder, backorder)
        cost = -split_credit
        any_short = False
        for i in range(Q.shape[0]):
            if short[i] > 0:
                any_short = True
            cost += short[i] * P[i]
        if any_short and not backorder:
            continue
        every = True
        for j in range(len(opts)):
            cost += f[opts[j]]
            shipped = 0
            for i in range(Q.shape[0]):
                shipped += x[j, i]
                cost += x[j, i] * C[opts[j], i]
            if shipped == 0:
                every = False
        if not every:
            continue
        if any_short:
            cost += P0
        if cost < best:
            best, best_x, best_short = cost, x, short
    return best_x, best_short, best
