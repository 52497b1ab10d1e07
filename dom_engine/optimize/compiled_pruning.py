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
def option_worth(A, C, f, lam, o):
    """What opening option o adds to the Lagrangian relaxation at prices `lam`: its fixed cost
    plus, for every item cheaper there than its price, all its units at (cost - price)."""
    v = f[o]
    for i in range(A.shape[1]):
        d = C[o, i] - lam[i]
        if d < 0:
            v += A[o, i] * d
    return v


@nb.njit(cache=True)
def unfilled_part(Q, P, P0, lam):
    """What leaving every item whose penalty is below its price unfilled adds to the relaxation
    (the per-order penalty once, plus (penalty - price) per unit); the relaxed plan takes it only
    when it is negative."""
    part = P0
    for i in range(len(Q)):
        if P[i] < lam[i]:
            part += Q[i] * (P[i] - lam[i])
    return part


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


@nb.njit(cache=True)
def fix_by_worth(A, C, f, split_credit, Q, P, P0, allow_backorder, node, n_nodes, state, lam, slots, thr,
                 worth, pick):
    """Lagrangian reduced-cost fixing. At prices `lam` every plan of the subtree that ships
    something has a relaxed value of at least base = lam.Q + unfilled part + sum of the IN
    options' worth + the `slots` most negative free worths (one per node, the set S) - split
    credit. A plan that takes a free option o outside S loses at least what o adds (replacing its
    node's pick in S, or the weakest of a full S); a plan without a member o of S loses o's worth
    and gains at most the best worth outside S. Where that reaches `thr` (the plan to beat), o is
    set OUT, or IN (its node's other options OUT). Returns how many were set IN.
    `worth` (options) and `pick` (nodes) are work arrays."""
    n_opt, n_items = A.shape
    base = -split_credit
    for i in range(n_items):
        base += lam[i] * Q[i]
    if allow_backorder:
        base += min(0.0, unfilled_part(Q, P, P0, lam))
    pick[:] = -1
    for o in range(n_opt):
        if state[o] == OUT:
            continue
        v = option_worth(A, C, f, lam, o)
        worth[o] = v
        if state[o] == IN:
            base += v
        elif v < 0 and (pick[node[o]] < 0 or v < worth[pick[node[o]]]):
            pick[node[o]] = o
    # S: the `slots` most negative node picks; unpicked nodes go back to -1.
    taken, weakest = 0, -np.inf
    while True:
        k = -1
        for n in range(n_nodes):
            if pick[n] >= 0 and state[pick[n]] == FREE and (k < 0 or worth[pick[n]] < worth[pick[k]]):
                k = n
        if k < 0 or taken == slots:
            break
        base += worth[pick[k]]
        weakest = worth[pick[k]]
        state[pick[k]] = -1 - state[pick[k]]   # marks S (restored below)
        taken += 1
    for n in range(n_nodes):
        if pick[n] >= 0 and state[pick[n]] >= 0:
            pick[n] = -1
    best_out = 0.0
    for o in range(n_opt):
        if state[o] == FREE:
            best_out = min(best_out, worth[o])
    fixed_in = 0
    for o in range(n_opt):
        if state[o] == FREE:
            a = pick[node[o]]
            if a >= 0:
                gain = worth[o] - worth[a]
            elif taken < slots:
                gain = worth[o]
            else:
                gain = worth[o] - weakest
            if base + gain >= thr:
                state[o] = OUT
    for o in range(n_opt):
        if state[o] < 0:
            state[o] = FREE
            if base + best_out - worth[o] >= thr:
                fixed_in += 1
                for other in range(n_opt):
                    if node[other] == node[o] and state[other] == FREE:
                        state[other] = OUT
                state[o] = IN
    return fixed_in
