"""Incumbent bookkeeping of the Lagrangian branch and bound (compiled_bb.py), compiled with numba:
pricing the plans the search tries, and keeping the best plan and the runner-up (the best plan on
another node set, which explains the choice).

A board is the tuple (best objective (1,), its options (-1 padded), its sorted nodes (-1 padded),
runner-up objective (1,), its sorted nodes); work is the tuple of set_cost's work arrays
(options (1 row), rank, full-fill and backorder-fill shipped counts), each as wide as a plan."""

from __future__ import annotations

import numba as nb
import numpy as np

from .compiled_allocation import set_allocation, set_cost


@nb.njit(cache=True)
def new_board(width):
    return (np.array([np.inf]), np.full(width, -1, dtype=np.int64), np.full(width, -1, dtype=np.int64),
            np.array([np.inf]), np.full(width, -1, dtype=np.int64))


@nb.njit(cache=True)
def trimmed_cost(opened, A, C, f, split_credit, Q, P, P0, allow_backorder, work):
    """Cost of the plan on the opened options, without those its fill leaves idle; opts[:m] holds
    the set priced. Returns (cost, m)."""
    opts, rank, ship_full, ship_b = work
    m = 0
    for o in range(len(opened)):
        if opened[o]:
            opts[m] = o
            m += 1
    if m == 0:
        return np.inf, 0
    cost = set_cost(opts, m, A, C, f, split_credit, Q, P, P0, allow_backorder, rank, ship_full, ship_b)
    if cost == np.inf:
        for backorder in (False, True):
            if backorder and not allow_backorder:
                break
            x, _ = set_allocation(opts[:m].copy(), A, C, Q, P, allow_backorder, backorder)
            k = 0
            for j in range(m):
                if x[j].sum() > 0:
                    opts[k] = opts[j]
                    k += 1
            if 0 < k < m:
                m = k
                cost = set_cost(opts, m, A, C, f, split_credit, Q, P, P0, allow_backorder, rank, ship_full,
                                ship_b)
                break
    return cost, m


@nb.njit(cache=True)
def offer(cost, opts, m, node, board):
    """A plan of cost `cost` on opts[:m]: update the best (and the runner-up on another node set).
    best and runner are 1-element arrays; *_nodes hold sorted node indices (-1 padded).
    Returns True when the best changed."""
    best, best_set, best_nodes, runner, runner_nodes = board
    if not cost < runner[0]:
        return False   # no better than the runner-up (which is no better than the best)
    nodes = np.full(len(best_nodes), -1, dtype=np.int64)
    for j in range(m):
        nodes[j] = node[opts[j]]
    nodes[:m] = np.sort(nodes[:m])
    same = True
    for j in range(len(nodes)):
        if nodes[j] != best_nodes[j]:
            same = False
            break
    if same:
        if cost < best[0]:
            best[0] = cost
            best_set[:] = -1
            best_set[:m] = opts[:m]
            return True
        return False
    if cost < best[0]:
        runner[0] = best[0]
        runner_nodes[:] = best_nodes
        best[0] = cost
        best_set[:] = -1
        best_set[:m] = opts[:m]
        best_nodes[:] = nodes
        return True
    if cost < runner[0]:
        runner[0] = cost
        runner_nodes[:] = nodes
    return False


@nb.njit(cache=True)
def offer_swaps(A, C, f, split_credit, Q, P, P0, allow_backorder, node, board, work):
    """Offer every plan one swap away from the best. The cuts of compiled_pruning drop
    non-canonical plans, which can be the runner-up; swapping a dominated member for its
    dominator, repeated, ends in a canonical plan (searched) or in the best plan itself, so a
    runner-up that was cut is one swap away from the best (as search._add_swaps_of_best)."""
    opts, rank, ship_full, ship_b = work
    current = board[1].copy()
    m = 0
    while m < len(current) and current[m] >= 0:
        m += 1
    for j in range(m):
        for o in range(A.shape[0]):
            clash = False
            for t in range(m):
                if node[current[t]] == node[o] and t != j or current[t] == o:
                    clash = True
            if clash:
                continue
            opts[:m] = current[:m]
            opts[j] = o
            cost = set_cost(opts, m, A, C, f, split_credit, Q, P, P0, allow_backorder, rank, ship_full,
                            ship_b)
            offer(cost, opts, m, node, board)
