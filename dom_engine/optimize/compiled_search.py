"""The exact set search of search.fast_search, compiled with numba, for batch allocation's re-solves.

Batch allocation solves each contested order again and again: once per pricing round at new
resource prices, and again whenever it is re-routed on the stock others leave. search.fast_search
does that exactly, but as numpy calls on tiny arrays: ~0.5 ms per order, 75 % of a pricing
round (measured on the 1k wave). This is the same search as one compiled loop:

- a plan is a set S of options at distinct nodes (at most max_shipments); for a fixed S each item
  is filled from S's options cheapest first, whole or leaving units unfilled where that is cheaper
  (as solution.evaluate_sets, including the rule that every option of S ships something);
- sets are enumerated by size, depth first in increasing fixed cost, and a branch is cut as soon
  as its fixed costs - split credit + the allocation lower bound (every unit from its cheapest
  option) reach the best plan found, so the result is proven optimal;
- sets of two or more options must be canonical (solution.dominance: every node that beats a
  member on fixed cost, every unit cost and every stock level is in the set too).

It has none of fast_search's runner-up or candidate bookkeeping. When a level needs more than
`max_sets` evaluations it gives up and the caller falls back to the numpy search.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numba as nb
import numpy as np

from .compiled_allocation import allocation_lower_bound, best_allocation, set_cost
from .compiled_bb import _branch_and_bound
from .problem import Problem

PROVEN, GAVE_UP = 0, 1
MAX_SETS = 200_000


@nb.njit(cache=True)
def _dominance(A, C, f, node, cand_mask):
    """solution.dominance over the options in cand_mask: (Dn[node, b], ndom[b]); options outside
    the mask get ndom = number of options (never in a canonical set)."""
    n_opt, n_items = A.shape
    n_nodes = 0
    for o in range(n_opt):
        n_nodes = max(n_nodes, node[o] + 1)
    Dn = np.zeros((n_nodes, n_opt), dtype=np.bool_)
    for a in range(n_opt):
        if not cand_mask[a]:
            continue
        for b in range(n_opt):
            if not cand_mask[b] or node[a] == node[b] or f[a] > f[b]:
                continue
            dominates = True
            for i in range(n_items):
                if C[a, i] > C[b, i] or A[a, i] < A[b, i]:
                    dominates = False
                    break
            if not dominates:
                continue
            if a > b:
                # Identical options dominate each other: only the lower index counts.
                mutual = f[b] <= f[a]
                if mutual:
                    for i in range(n_items):
                        if C[b, i] > C[a, i] or A[b, i] < A[a, i]:
                            mutual = False
                            break
                if mutual:
                    continue
            Dn[node[a], b] = True
    ndom = np.full(n_opt, n_opt, dtype=np.int64)
    for b in range(n_opt):
        if cand_mask[b]:
            count = 0
            for k in range(n_nodes):
                if Dn[k, b]:
                    count += 1
            ndom[b] = count
    return Dn, ndom


@nb.njit(cache=True)
def _dominator_lists(Dn, ndom, width):
    """Per option, its dominating nodes (the first ndom of the row; only for options with at most
    `width` of them: the others are in no canonical set)."""
    n_opt = Dn.shape[1]
    out = np.full((n_opt, max(width, 1)), -1, dtype=np.int64)
    for b in range(n_opt):
        if ndom[b] > width:
            continue
        t = 0
        for k in range(Dn.shape[0]):
            if Dn[k, b]:
                out[b, t] = k
                t += 1
    return out


@nb.njit(cache=True)
def _push(o, node, dom_nodes, ndom, required, used_node, missing):
    """Option o joins the set: its node is used, its dominators are required. Returns `missing`."""
    if required[node[o]] > 0:
        missing -= 1
    used_node[node[o]] = True
    for t in range(ndom[o]):
        k = dom_nodes[o, t]
        if required[k] == 0 and not used_node[k]:
            missing += 1
        required[k] += 1
    return missing


@nb.njit(cache=True)
def _pop(o, node, dom_nodes, ndom, required, used_node, missing):
    """Undo _push(o). Returns `missing`."""
    for t in range(ndom[o]):
        k = dom_nodes[o, t]
        required[k] -= 1
        if required[k] == 0 and not used_node[k]:
            missing -= 1
    used_node[node[o]] = False
    if required[node[o]] > 0:
        missing += 1
    return missing


@nb.njit(cache=True)
def _search(A, C, f, split_credit, Q, P, P0, allow_backorder, max_shipments, node, incumbent, max_sets,
            keep):
    """(status, objective, options of the best set found (empty: none beat the incumbent or
    shipping nothing), lower bound, the `keep` cheapest sets evaluated: their costs (inf where
    fewer) and options (-1 padded))."""
    n_opt, n_items = A.shape
    best = incumbent
    if allow_backorder:
        empty = P0
        for i in range(n_items):
            empty += P[i] * Q[i]
        best = min(best, empty)
    best_set = np.zeros(0, dtype=np.int64)
    g = allocation_lower_bound(A, C, Q, P, allow_backorder)
    perm = np.argsort(f, kind="mergesort")
    fs = f[perm]
    scale = 1.0
    for o in range(n_opt):
        scale = max(scale, abs(fs[o]))
    eps = 1e-9 * scale
    top = min(max_shipments, n_opt)
    opts = np.zeros(max(top, 1), dtype=np.int64)
    rank = np.zeros(max(top, 1), dtype=np.int64)
    ship_full = np.zeros(max(top, 1), dtype=np.int64)
    ship_b = np.zeros(max(top, 1), dtype=np.int64)
    pos = np.zeros(max(top, 1), dtype=np.int64)
    sums = np.zeros(max(top, 1) + 1)
    used_node = np.zeros(node.max() + 1 if n_opt else 1, dtype=np.bool_)
    kept_cost = np.full(keep, np.inf)
    kept_sets = np.full((keep, max(top, 1)), -1, dtype=np.int64)
    Dn = np.zeros((1, 1), dtype=np.bool_)
    ndom = np.zeros(n_opt, dtype=np.int64)
    dom_nodes = np.zeros((n_opt, 1), dtype=np.int64)
    required = np.zeros(len(used_node), dtype=np.int64)
    pool = perm
    for m in range(1, top + 1):
        level_bound = -split_credit + g
        for t in range(m):
            level_bound += fs[t]
        if level_bound >= best - eps:
            return PROVEN, best, best_set, best, kept_cost, kept_sets
        if m == 2:
            # Only options that fit in some set under the best plan can matter (as fast_search).
            cand = f + fs[0] - split_credit + g < best - eps
            Dn, ndom = _dominance(A, C, f, node, cand)
            dom_nodes = _dominator_lists(Dn, ndom, top - 1)
        if m >= 2:
            pool = perm[ndom[perm] <= m - 1]   # in fixed-cost order
        n_pool = len(pool)
        evaluated = 0
        # Collecting the cheapest sets, prune against the best at the level's start (as
        # fast_search does), so the runner-ups of this level are evaluated too.
        level_best = best
        # Depth-first over m-subsets of pool (ascending positions, so ascending fixed cost).
        # `missing` counts the nodes some chosen member needs (its dominators) that are not in
        # the set yet: more than the free slots, and no canonical set can follow.
        missing = 0
        depth = 0
        pos[0] = -1
        sums[0] = 0.0
        while depth >= 0:
            pos[depth] += 1
            p_ = pos[depth]
            slots = m - depth
            prune = p_ + slots > n_pool
            if not prune:
                # Cheapest completion: this option and the next slots-1 of the pool.
                completion = sums[depth]
                for t in range(slots):
                    completion += f[pool[p_ + t]]
                prune = completion - split_credit + g >= (level_best if keep else best) - eps
            if prune:
                depth -= 1     # later positions only cost more
                if depth >= 0:
                    missing = _pop(opts[depth], node, dom_nodes, ndom, required, used_node, missing)
                continue
            o = pool[p_]
            if used_node[node[o]]:
                continue
            if m >= 2:
                after = missing - (1 if required[node[o]] > 0 else 0)
                for t in range(ndom[o]):
                    k = dom_nodes[o, t]
                    if required[k] == 0 and not used_node[k]:
                        after += 1
                if after > slots - 1:
                    continue   # not canonical whatever completes it (at a leaf: after == 0 passes)
            opts[depth] = o
            if depth + 1 < m:
                missing = _push(o, node, dom_nodes, ndom, required, used_node, missing)
                sums[depth + 1] = sums[depth] + f[o]
                depth += 1
                pos[depth] = p_
                continue
            evaluated += 1
            if evaluated > max_sets:
                return GAVE_UP, best, best_set, min(best, level_bound), kept_cost, kept_sets
            cost = set_cost(opts, m, A, C, f, split_credit, Q, P, P0, allow_backorder, rank, ship_full,
                             ship_b)
            if cost < best:
                best = cost
                best_set = opts[:m].copy()
            if keep and cost < kept_cost[keep - 1]:
                at = keep - 1
                while at > 0 and kept_cost[at - 1] > cost:
                    kept_cost[at] = kept_cost[at - 1]
                    kept_sets[at] = kept_sets[at - 1]
                    at -= 1
                kept_cost[at] = cost
                kept_sets[at] = -1
                kept_sets[at, :m] = opts[:m]
    return PROVEN, best, best_set, best, kept_cost, kept_sets


@nb.njit(cache=True)
def plan_resources(options, x, unfilled, opt_node, per_item, gline, n_skus, ship_base, unit_base, f, C, P, P0,
                   split_credit):
    """Batch allocation's view of a plan (options, x (m, I), unfilled): the resources it uses
    (stock of each SKU at each node, a shipment and its units at each node: ids as in
    batch/columns.py, sorted, unique), the amounts, and its objective (solution.objective_of).
    Options that ship nothing are left out. Returns (used options, their x, res, use, cost)."""
    m, n_items = x.shape
    n_lines = per_item.shape[0]
    keep = np.zeros(m, dtype=np.bool_)
    n_used = 0
    for j in range(m):
        for i in range(n_items):
            if x[j, i] > 0:
                keep[j] = True
        if keep[j]:
            n_used += 1
    used_options = np.empty(n_used, dtype=np.int64)
    used_x = np.empty((n_used, n_items), dtype=x.dtype)
    ids = np.empty(n_used * (n_lines + 2), dtype=np.int64)
    amounts = np.empty(n_used * (n_lines + 2))
    n_ids = 0
    cost = 0.0
    u = 0
    for j in range(m):
        if not keep[j]:
            continue
        o = options[j]
        used_options[u] = o
        node = opt_node[o]
        units = 0.0
        for i in range(n_items):
            used_x[u, i] = x[j, i]
            cost += x[j, i] * C[o, i]
        for line in range(n_lines):
            amount = 0.0
            for i in range(n_items):
                amount += x[j, i] * per_item[line, i]
            if amount > 0:
                ids[n_ids] = node * n_skus + gline[line]
                amounts[n_ids] = amount
                n_ids += 1
                units += amount
        ids[n_ids] = ship_base + node
        amounts[n_ids] = 1.0
        ids[n_ids + 1] = unit_base + node
        amounts[n_ids + 1] = units
        n_ids += 2
        cost += f[o]
        u += 1
    if n_used:
        cost -= split_credit
    short = False
    for i in range(n_items):
        cost += unfilled[i] * P[i]
        if unfilled[i] > 0:
            short = True
    if short:
        cost += P0
    order = np.argsort(ids[:n_ids])
    res = np.empty(n_ids, dtype=np.int64)
    use = np.empty(n_ids)
    n_res = 0
    for t in range(n_ids):
        k = order[t]
        if n_res and res[n_res - 1] == ids[k]:
            use[n_res - 1] += amounts[k]     # two lines of one SKU
        else:
            res[n_res] = ids[k]
            use[n_res] = amounts[k]
            n_res += 1
    return used_options, used_x, res[:n_res].copy(), use[:n_res].copy(), cost


def allocation_of(p: Problem, options: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(x (m, I), unfilled (I,), objective) of the cheapest allocation of the option set
    `options` in `p`: solution.evaluate_sets for one set, without numpy's per-call overhead."""
    x, short, cost = best_allocation(options, p.A, p.C, p.f, float(p.split_credit), p.Q, p.P, float(p.P0),
                                      bool(p.allow_backorder))
    return x, short, float(cost)


def search_compiled(p: Problem, incumbent: float = np.inf, keep: int = 0, max_sets: int = MAX_SETS
                    ) -> tuple[bool, float, np.ndarray, float, list[tuple[float, tuple[int, ...]]]]:
    """(proven, objective, options, lower bound, cheapest sets) of `p` (no shared SKUs across
    items). `options` is empty when nothing beats `incumbent` (a plan known to cost that much) or
    shipping nothing. The cheapest sets are up to `keep` of those evaluated, as (objective,
    options), cheapest first (sets dearer than the best found before them were not evaluated)."""
    status, best, options, bound, kept_cost, kept_sets = _search(
        p.A, p.C, p.f, float(p.split_credit), p.Q, p.P, float(p.P0), bool(p.allow_backorder),
        int(p.max_shipments), p.opt_node, float(incumbent), int(max_sets), int(keep))
    cheapest = [(float(c), tuple(int(o) for o in row if o >= 0))
                for c, row in zip(kept_cost.tolist(), kept_sets.tolist(), strict=True) if c < np.inf]
    return status == PROVEN, float(best), options, float(bound), cheapest


_loaded = False
COMPILE_NOTICE_S = 1.0
log = logging.getLogger("dom_engine")


def warm_up() -> None:
    """Compile the kernels (or load them from numba's on-disk cache: ~0.3 s; compiling takes
    ~10 s once per installation); a no-op once done. Servers call this before they listen,
    Engine.route_batch before its budget starts, so no request pays for compilation."""
    global _loaded
    if _loaded:
        return
    load_noting_compilation("the optimizer's kernels", "20-45 s", _load_kernels)
    _loaded = True


def load_noting_compilation(what: str, typical: str, load: Callable[[], None]) -> None:
    """Run `load` (which loads kernels from numba's cache, or compiles them). Loading takes well
    under a second; if it runs longer numba is compiling (first use after an install): say so
    instead of sitting silent, and say how long it took."""
    started = time.perf_counter()
    notice = threading.Timer(COMPILE_NOTICE_S, log.warning, args=(
        f"compiling {what} (numba, once per installation; {typical})...",))
    notice.daemon = True
    notice.start()
    try:
        load()
    finally:
        notice.cancel()
    if time.perf_counter() - started > COMPILE_NOTICE_S:
        log.warning("%s compiled in %.0f s (kept in numba's cache for the next runs)", what,
                    time.perf_counter() - started)


def _load_kernels() -> None:
    """Run every kernel once on a tiny input: numba compiles (or loads) each on its first call."""
    A = np.array([[2], [1]], dtype=np.int64)
    C = np.array([[1.0], [0.5]])
    f = np.array([5.0, 6.0])
    Q, P = np.array([2], dtype=np.int64), np.array([20.0])
    node = np.array([0, 1], dtype=np.int64)
    _search(A, C, f, 0.0, Q, P, 1.0, True, 2, node, np.inf, MAX_SETS, 2)
    none = np.full(2, -1, dtype=np.int64)
    # The argument types must be exactly those of bb_search's call, or that call compiles anew.
    # Two nodes holding one item each: no single shipment settles it, so the search reaches its
    # loop and the clock there (an objmode block numba compiles at its first run, ~40 ms).
    _branch_and_bound(np.eye(2, dtype=np.int64), np.eye(2), f, 0.0, np.ones(2, dtype=np.int64),
                      np.full(2, 50.0), 1.0, True, 2, node, np.inf, none, np.inf, none, 0.0, np.inf,
                      np.zeros(1, dtype=np.bool_))
    x, short, _ = best_allocation(np.array([0, 1], dtype=np.int64), A, C, f, 0.0, Q, P, 1.0, True)
    plan_resources(np.array([0, 1], dtype=np.int64), x, short, node, np.ones((1, 1)),
                   np.zeros(1, dtype=np.int64), 1, 2, 4, f, C, P, 1.0, 0.0)
