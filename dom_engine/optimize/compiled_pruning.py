"""Cuts for the Lagrangian branch and bound (compiled_bb.py) that need no bound: a subtree (options
fixed IN, OUT or still FREE) is dropped when no plan in it can fill a no-backorder order, or when
every plan in it is non-canonical: it holds an option that another node, left out, beats on every
count (fixed cost, and unit cost and stock of every item the option has). Swapping the option for
that node's never costs more, and repeating such swaps ends in a canonical plan, so some optimal
plan is canonical; the cuts never drop a canonical plan."""

from __future__ import annotations

import numba as nb
import numpy as np

FREE, IN, OUT = 0, 1, 2


@nb.njit(cache=True)
def _beats(A, C, f, a, o):
    """Option a can ship whatever option o ships, at no higher fixed or unit cost."""
    if f[a] > f[o]:
        return False
    for i in range(A.shape[1]):
        if A[o, i] > 0 and (A[a, i] < A[o, i] or C[a, i] > C[o, i]):
            return False
    return True


@nb.njit(cache=True)
def dominators(A, C, f, node, n_nodes, width):
    """(dom, count): dom[o, :count[o]] are the other nodes with an option that beats option o (of
    two options that beat each other only the lower index counts); count[o] > width means o is in
    no canonical plan of width options, and its row is left incomplete."""
    n_opt = A.shape[0]
    dom = np.full((n_opt, max(width, 1)), -1, dtype=np.int64)
    count = np.zeros(n_opt, dtype=np.int64)
    seen = np.full(n_nodes, -1, dtype=np.int64)
    for o in range(n_opt):
        for a in range(n_opt):
            k = node[a]
            if k == node[o] or seen[k] == o or not _beats(A, C, f, a, o):
                continue
            if a > o and _beats(A, C, f, o, a):
                continue
            seen[k] = o
            if count[o] < width:
                dom[o, count[o]] = k
            count[o] += 1
    return dom, count


@nb.njit(cache=True)
def canonical_cut(state, node, dom, count, slots, in_node, open_node, required):
    """False when the subtree holds no canonical plan; otherwise sets OUT the free options no
    canonical plan of the subtree holds. `slots` is how many more options a plan may take."""
    n_opt = len(state)
    in_node[:] = False
    open_node[:] = False
    required[:] = False
    for o in range(n_opt):
        if state[o] == IN:
            in_node[node[o]] = True
        if state[o] != OUT:
            open_node[node[o]] = True
    missing = 0
    for o in range(n_opt):
        if state[o] != IN:
            continue
        if count[o] > dom.shape[1]:
            return False
        for t in range(count[o]):
            k = dom[o, t]
            if not open_node[k]:
                return False
            if not in_node[k] and not required[k]:
                required[k] = True
                missing += 1
    if missing > slots:
        return False
    for o in range(n_opt):
        if state[o] != FREE:
            continue
        if count[o] > dom.shape[1]:
            state[o] = OUT   # more nodes beat it than a plan can hold besides it
            continue
        outside = 0
        for t in range(count[o]):
            k = dom[o, t]
            if not open_node[k]:
                outside = slots
                break
            if not in_node[k]:
                outside += 1
        if outside > slots - 1:
            state[o] = OUT
    return True


@nb.njit(cache=True)
def _top_sum(values, slots):
    """Sum of the `slots` largest of `values` (non-negative; consumed)."""
    total = 0
    for _ in range(slots):
        k = np.argmax(values)
        if values[k] <= 0:
            break
        total += values[k]
        values[k] = 0
    return total


@nb.njit(cache=True)
def covers(A, Q, node, n_nodes, state, slots, need, gives):
    """Can F plus `slots` more free nodes still fill every item (no backorders)? Two relaxations
    (as problem._shipments_reason): each item alone from its `slots` best free nodes, and all
    missing units together from the `slots` free nodes that can give the most of them."""
    n_opt, n_items = A.shape
    for i in range(n_items):
        need[i] = Q[i]
    for o in range(n_opt):
        if state[o] == IN:
            for i in range(n_items):
                need[i] = max(0, need[i] - A[o, i])
    total = 0
    for i in range(n_items):
        total += need[i]
        if need[i] == 0:
            continue
        gives[:] = 0
        for o in range(n_opt):
            if state[o] == FREE:
                gives[node[o]] = max(gives[node[o]], min(A[o, i], need[i]))
        if _top_sum(gives, slots) < need[i]:
            return False
    gives[:] = 0
    for o in range(n_opt):
        if state[o] == FREE:
            g = 0
            for i in range(n_items):
                g += min(A[o, i], need[i])
            gives[node[o]] = max(gives[node[o]], g)
    return _top_sum(gives, slots) >= total
