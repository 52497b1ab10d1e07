"""Lagrangian branch and bound for one order, compiled with numba: the exact search for orders whose
stock is thin, where the set search (search.py, compiled_search.py) cannot finish.

The set search bounds a set by its fixed costs plus every unit from its cheapest option anywhere;
when single nodes hold too little, most sets pass that bound and the enumeration explodes. This
search bounds a whole subtree instead. A subtree fixes some options in (F) and some out; its plans
are the sets S with F <= S <= F + the free options. Relaxing "every unit of item i is shipped or
left unfilled" with a price lam_i per unit leaves a problem that splits by option:
    v_o = f_o + sum_i A_oi * min(0, C_oi - lam_i)
and the subtree's relaxed optimum opens F and the (at most max_shipments - |F|, one per node) free
options of most negative v. For any prices that is a lower bound on every plan in the subtree;
subgradient steps raise it towards the LP bound (one LP with the strong links x_oi <= A_oi y_o).
A subtree is cut once its bound reaches the plan to beat; otherwise it is split on a free option
the relaxation opens (in first, then out), starting from the parent's prices.

Every subtree also tries a plan: F plus the options the relaxation opens, without those that ship
nothing (set costs from compiled_allocation, so plans are priced exactly as everywhere else).

To explain the choice the search keeps the runner-up too (the best plan seen on another node set),
and can prove it: then subtrees are cut against the runner-up instead of the best. The search
stops at its deadline (a perf_counter value) or when `cancel[0]` is set; the lower bound it
returns is then the least bound of the subtrees left, still valid.
"""

from __future__ import annotations

import time

import numba as nb
import numpy as np

from .compiled_allocation import allocation_lower_bound, set_cost
from .compiled_incumbents import new_board, offer, offer_swaps, trimmed_cost
from .compiled_pruning import (
    FREE,
    IN,
    OUT,
    canonical_cut,
    covers,
    dominators,
    fix_by_worth,
    option_worth,
    unfilled_part,
)

PROVEN, BEST_PROVEN, GAVE_UP = 0, 1, 2
ROOT_ITERATIONS = 60
NODE_ITERATIONS = 4
STALL = 5           # iterations without progress before the step halves
MIN_THETA = 0.01
CHECK_EVERY = 8     # subtrees between two looks at the clock


@nb.njit(cache=True)
def _now():
    with nb.objmode(t="float64"):
        t = time.perf_counter()
    return t


@nb.njit(cache=True)
def _start_prices(A, C, f, Q):
    """lam_i = the cheapest cost per unit of item i when one option ships only it (a price at
    which opening that option breaks even)."""
    n_opt, n_items = A.shape
    lam = np.zeros(n_items)
    for i in range(n_items):
        best = np.inf
        for o in range(n_opt):
            if A[o, i] > 0:
                best = min(best, C[o, i] + f[o] / A[o, i])
        lam[i] = best if best < np.inf else 0.0
    return lam


@nb.njit(cache=True)
def _relaxed(A, C, f, split_credit, Q, P, P0, allow_backorder, max_shipments, node, n_nodes, state,
             n_in, lam, opened, shipped, best_v, best_o):
    """Value of the relaxation at prices `lam` for the subtree `state`; fills opened[o] (the options
    the relaxed plan opens, F included) and shipped[i] - unfilled[i] (what it ships, for the
    subgradient). Returns the value. best_v / best_o: work arrays (per node)."""
    n_opt, n_items = A.shape
    best_v[:] = np.inf
    best_o[:] = -1
    total_in = 0.0
    for o in range(n_opt):
        opened[o] = False
        if state[o] == OUT:
            continue
        v = option_worth(A, C, f, lam, o)
        if state[o] == IN:
            total_in += v
            opened[o] = True
        elif v < best_v[node[o]]:
            best_v[node[o]] = v
            best_o[node[o]] = o
    slots = max_shipments - n_in
    free_sum = 0.0
    n_free = 0
    least = np.inf    # the cheapest free option when none has negative worth
    least_o = -1
    for _ in range(slots):
        k = -1
        for n in range(n_nodes):
            if best_o[n] >= 0 and (k < 0 or best_v[n] < best_v[k]):
                k = n
        if k < 0:
            break
        if best_v[k] >= 0:
            if n_free == 0:
                least, least_o = best_v[k], best_o[k]
            break
        free_sum += best_v[k]
        opened[best_o[k]] = True
        best_o[k] = -1
        n_free += 1
    if n_in > 0:
        opening = total_in + free_sum - split_credit
    elif n_free > 0:
        opening = min(0.0, free_sum - split_credit)
        if opening == 0.0:
            for o in range(n_opt):
                opened[o] = False
            n_free = 0
    elif least_o >= 0 and least - split_credit < 0:
        opening = least - split_credit
        opened[least_o] = True
        n_free = 1
    else:
        opening = 0.0
    value = opening
    for i in range(n_items):
        value += lam[i] * Q[i]
        shipped[i] = 0.0
    for o in range(n_opt):
        if opened[o]:
            for i in range(n_items):
                if C[o, i] < lam[i]:
                    shipped[i] += A[o, i]
    if allow_backorder:
        part = unfilled_part(Q, P, P0, lam)
        if part < 0:
            value += part
            for i in range(n_items):
                if P[i] < lam[i]:
                    shipped[i] += Q[i]
    return value


@nb.njit(cache=True)
def _branch_option(A, C, f, state, opened, lam):
    """The free option to split on: of those the relaxation opens, the most valuable at `lam`
    (else the most valuable free one); -1 when no option is free."""
    pick, pick_v, pick_open = -1, np.inf, False
    for o in range(len(state)):
        if state[o] != FREE:
            continue
        v = option_worth(A, C, f, lam, o)
        better = (opened[o] and not pick_open) or (opened[o] == pick_open and v < pick_v)
        if pick < 0 or better:
            pick, pick_v, pick_open = o, v, opened[o]
    return pick


@nb.njit(cache=True)
def _two_cheapest(f):
    """Sum of the two smallest fixed costs (inf with fewer than two options)."""
    a, b = np.inf, np.inf
    for x in f:
        if x < a:
            a, b = x, a
        elif x < b:
            b = x
    return a + b


@nb.njit(cache=True)
def _singles(A, C, f, split_credit, Q, P, P0, allow_backorder, node, board, work):
    """Offer every single shipment (as the set search's first level); returns the bound on every
    plan of two or more: most orders end here, their runner-up proven too."""
    for o in range(A.shape[0]):
        work[0][0] = o
        cost = set_cost(work[0], 1, A, C, f, split_credit, Q, P, P0, allow_backorder, work[1], work[2],
                        work[3])
        offer(cost, work[0], 1, node, board)
    return _two_cheapest(f) - split_credit + allocation_lower_bound(A, C, Q, P, allow_backorder)


@nb.njit(cache=True)
def _threshold(board, prove_runner_up):
    """(the objective a subtree must beat, the float tolerance of that comparison)."""
    thr = board[3][0] if prove_runner_up else board[0][0]
    return thr, (1e-9 * max(1.0, abs(thr)) if thr < np.inf else 0.0)


@nb.njit(cache=True)
def _bound_subtree(A, C, f, split_credit, Q, P, P0, allow_backorder, max_shipments, node, n_nodes, state,
                   n_in, lam, bound, iterations, board, work, scratch, prove_runner_up):
    """Subgradient steps on the subtree's relaxation from prices `lam`, trying a plan on what each
    distinct relaxed solution opens. Returns the best bound (at least `bound`, the parent's);
    leaves its prices in `lam` and what it opened in scratch[1]."""
    opened, best_opened, last_opened, shipped = scratch[0], scratch[1], scratch[2], scratch[3]
    best_lam = lam.copy()
    last_opened[:] = False
    theta, stall = 1.0, 0   # the step size, halved when the bound stalls
    for it in range(iterations):
        value = _relaxed(A, C, f, split_credit, Q, P, P0, allow_backorder, max_shipments, node,
                            n_nodes, state, n_in, lam, opened, shipped, scratch[11], scratch[12])
        if value > bound + 1e-12 or it == 0:
            bound = max(bound, value)
            best_opened[:] = opened
            best_lam[:] = lam
            stall = 0
        else:
            stall += 1
            if stall >= STALL:
                theta, stall = max(theta / 2, MIN_THETA), 0
        changed = False
        for o in range(len(opened)):
            changed |= opened[o] != last_opened[o]
            last_opened[o] = opened[o]
        if changed:   # a plan on what the relaxation opens, once per distinct set
            cost, m = trimmed_cost(opened, A, C, f, split_credit, Q, P, P0, allow_backorder, work)
            if m > 0:
                offer(cost, work[0], m, node, board)
        thr, eps = _threshold(board, prove_runner_up)
        if bound >= thr - eps:
            break
        norm = 0.0
        for i in range(len(Q)):
            shipped[i] = Q[i] - shipped[i]     # the subgradient
            norm += shipped[i] * shipped[i]
        if norm == 0.0:
            break    # the relaxed plan ships exactly the order: no price moves the bound
        target = thr if thr < np.inf else board[0][0]
        if not target < np.inf or target <= value:
            target = value + 0.05 * abs(value) + 1e-3
        step = theta * (target - value) / norm
        for i in range(len(Q)):
            lam[i] += step * shipped[i]
    lam[:] = best_lam
    return bound


@nb.njit(cache=True)
def _explore(A, C, f, split_credit, Q, P, P0, allow_backorder, max_shipments, node, n_nodes, state, lam,
             bound, root, board, work, scratch, dom, dom_count, prove_runner_up):
    """One subtree: its cuts, the plan of its fixed options, its bound. Returns (bound, the option
    to split on, or -1 when the subtree is done); `state` may gain OUT options, `lam` the prices."""
    opts = work[0]
    n_in = 0
    for o in range(len(state)):
        if state[o] == IN:
            opts[n_in] = o
            n_in += 1
    slots = max_shipments - n_in
    if not canonical_cut(state, node, dom, dom_count, slots, scratch[6], scratch[7], scratch[8]):
        return bound, -1
    if n_in > 0:
        cost = set_cost(opts, n_in, A, C, f, split_credit, Q, P, P0, allow_backorder, work[1], work[2],
                        work[3])
        offer(cost, opts, n_in, node, board)
    n_free = 0
    for o in range(len(state)):
        n_free += state[o] == FREE
    if slots <= 0 or n_free == 0:
        return bound, -1
    if not allow_backorder and not covers(A, Q, node, n_nodes, state, slots, scratch[4], scratch[5]):
        return bound, -1
    bound = _bound_subtree(A, C, f, split_credit, Q, P, P0, allow_backorder, max_shipments, node, n_nodes,
                           state, n_in, lam, bound, ROOT_ITERATIONS if root else NODE_ITERATIONS,
                           board, work, scratch, prove_runner_up)
    thr, eps = _threshold(board, prove_runner_up)
    if bound >= thr - eps:
        return bound, -1
    if fix_by_worth(A, C, f, split_credit, Q, P, P0, allow_backorder, node, n_nodes, state, lam, slots,
                    thr - eps, scratch[9], scratch[10]) > 0:
        n_in = 0   # the plan of the fixed options is a plan of the subtree too
        for o in range(len(state)):
            if state[o] == IN:
                opts[n_in] = o
                n_in += 1
        cost = set_cost(opts, n_in, A, C, f, split_credit, Q, P, P0, allow_backorder, work[1], work[2],
                        work[3])
        offer(cost, opts, n_in, node, board)
        if n_in >= max_shipments:
            return bound, -1   # no room for more (fixing fills S only when the rest goes OUT)
    return bound, _branch_option(A, C, f, state, scratch[1], lam)


@nb.njit(cache=True)
def _scratch(n_opt, n_items, n_nodes):
    """Work arrays of the search, allocated once per call."""
    # opened, best opened, last opened, shipped, need, gives, in_node, open_node, required, worth, pick,
    # best worth and option per node
    per_opt, per_node = np.zeros((3, n_opt), dtype=np.bool_), np.zeros((3, n_nodes), dtype=np.bool_)
    return (per_opt[0], per_opt[1], per_opt[2], np.zeros(n_items), np.zeros(n_items, dtype=np.int64),
            np.zeros(n_nodes, dtype=np.int64), per_node[0], per_node[1], per_node[2], np.zeros(n_opt),
            np.zeros(n_nodes, dtype=np.int64), np.zeros(n_nodes), np.zeros(n_nodes, dtype=np.int64))


@nb.njit(cache=True, nogil=True)
def _branch_and_bound(A, C, f, split_credit, Q, P, P0, allow_backorder, max_shipments, node,
                      incumbent, incumbent_set, runner_up, runner_up_nodes, runner_until, deadline, cancel):
    """(status, best objective, its options (-1 padded), lower bound, runner-up objective, its
    sorted nodes (-1 padded), subtrees explored, whether the runner-up is proven). `incumbent` is
    a plan's objective (inf: none) and `incumbent_set` its options (-1 padded, width
    max(1, min(max_shipments, options))); `runner_up` the objective of a plan on another node set,
    `runner_up_nodes` its sorted nodes. Until `runner_until` (a perf_counter time; 0: never) the
    search proves the runner-up too, cutting subtrees against it; after that only the best."""
    n_opt, n_items = A.shape
    n_nodes = max(1, node.max() + 1) if n_opt else 1
    width = len(incumbent_set)
    board = new_board(width)
    work = (np.zeros(width, dtype=np.int64), np.zeros(width, dtype=np.int64), np.zeros(width, dtype=np.int64),
            np.zeros(width, dtype=np.int64))
    if allow_backorder:
        offer(P0 + (P * Q).sum(), work[0], 0, node, board)    # shipping nothing
    if incumbent < np.inf:
        m = 0
        while m < width and incumbent_set[m] >= 0:
            work[0][m] = incumbent_set[m]
            m += 1
        offer(incumbent, work[0], m, node, board)
    if board[0][0] <= runner_up < board[3][0] and (runner_up_nodes != board[2]).any():
        board[3][0] = runner_up     # known before the search (a first search saw it): cuts from the start
        board[4][:] = runner_up_nodes
    prove_runner_up = runner_until > 0   # until then subtrees are cut against the runner-up
    two = _singles(A, C, f, split_credit, Q, P, P0, allow_backorder, node, board, work)
    thr, eps = _threshold(board, True)
    if max_shipments < 2 or two >= thr - eps:
        return PROVEN, board[0][0], board[1], board[0][0], board[3][0], board[4], 0, True
    thr, eps = _threshold(board, False)
    if not prove_runner_up and two >= thr - eps:
        return PROVEN, board[0][0], board[1], board[0][0], board[3][0], board[4], 0, False
    scratch = _scratch(n_opt, n_items, n_nodes)
    # Dominance is worked out once the root needs splitting (O(options^2 x items)); the root
    # is searched without it (no option counts as beaten).
    width_dom = max(1, min(max_shipments, n_nodes) - 1)
    dom, dom_count = np.full((n_opt, width_dom), -1, dtype=np.int64), np.zeros(n_opt, dtype=np.int64)
    stack_state = np.zeros((n_opt + 2, n_opt), dtype=np.int8)   # each split adds one entry per level
    stack_lam = np.zeros((n_opt + 2, n_items))
    stack_bound = np.full(n_opt + 2, -np.inf)
    stack_lam[0] = _start_prices(A, C, f, Q)
    sp, explored = 1, 0
    while sp > 0:
        if explored % CHECK_EVERY == 0:
            now = _now()
            if cancel[0] or now > deadline:
                break
            prove_runner_up = prove_runner_up and now <= runner_until
        sp -= 1
        state, lam = stack_state[sp].copy(), stack_lam[sp].copy()
        thr, eps = _threshold(board, prove_runner_up)
        if stack_bound[sp] >= thr - eps:
            continue
        explored += 1
        bound, o = _explore(A, C, f, split_credit, Q, P, P0, allow_backorder, max_shipments, node, n_nodes,
                            state, lam, stack_bound[sp], explored == 1, board, work, scratch, dom, dom_count,
                            prove_runner_up)
        if o < 0:
            continue
        if explored == 1:
            dom, dom_count = dominators(A, C, f, node, n_nodes, width_dom)
        # Out first on the stack, so the "in" subtree is explored first (it finds plans sooner).
        for child in (OUT, IN):
            stack_state[sp] = state
            if child == IN:
                for other in range(n_opt):
                    if node[other] == node[o] and state[other] == FREE:
                        stack_state[sp, other] = OUT
            stack_state[sp, o] = child
            stack_lam[sp] = lam
            stack_bound[sp] = bound
            sp += 1
    if prove_runner_up:   # the cuts may have dropped the runner-up: it is one swap away
        offer_swaps(A, C, f, split_credit, Q, P, P0, allow_backorder, node, board, work)
    best = board[0][0]
    lower = min(best, stack_bound[:sp].min()) if sp else best
    status = PROVEN if sp == 0 else (BEST_PROVEN if lower >= best - _threshold(board, False)[1] else GAVE_UP)
    return status, best, board[1], lower, board[3][0], board[4], explored, sp == 0 and prove_runner_up
