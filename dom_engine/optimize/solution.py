"""A solution of a Problem: which options ship how many units of each item, and its objective.

`evaluate_sets` is the one cost function both the fast search and the baselines use: for a fixed
set of options, lines are independent, so filling each item from its cheapest options first
(and leaving units unfilled where the penalty is cheaper) is optimal for that set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Problem


@dataclass
class Solution:
    options: np.ndarray        # (m,) option indices used
    x: np.ndarray              # (m, I) units of each item from each option
    unfilled: np.ndarray       # (I,)
    objective: float
    lower_bound: float
    proven_optimal: bool
    solver: str
    alternative: tuple[tuple[int, ...], float] | None = None  # (node indices, objective)
    alternative_exact: bool = True


def _fill(avail: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Greedy fill along axis 1 (options already sorted by cost): units taken from each option."""
    cum = np.cumsum(avail, axis=1)
    return np.clip(np.minimum(cum, q) - (cum - avail), 0, None)


def _same_node_pairs(p: Problem, sets: np.ndarray) -> np.ndarray:
    """(B,) mask of sets that use two services of one node (not allowed: one shipment per node)."""
    if sets.shape[1] < 2:
        return np.zeros(len(sets), dtype=bool)
    nodes = np.sort(p.opt_node[sets], axis=1)
    return (nodes[:, 1:] == nodes[:, :-1]).any(axis=1)


def evaluate_sets(p: Problem, sets: np.ndarray, with_allocation: bool = False):
    """Objective of each set of options (rows of `sets`, shape (B, m), m >= 1).

    Returns costs (B,), and with `with_allocation` also x (B, m, I) in the sets' column order and
    unfilled (B, I).
    """
    A = p.A[sets]
    C = p.C[sets]
    m = sets.shape[1]
    # Sort each item's options by cost; sizes 1 and 2 (nearly every order) avoid argsort.
    if m == 1:
        A_s, C_s, swap, order = A, C, None, None
    elif m == 2:
        swap = (C[:, 1, :] < C[:, 0, :])[:, None, :]
        A_s = np.where(swap, A[:, ::-1, :], A)
        C_s = np.where(swap, C[:, ::-1, :], C)
        order = None
    else:
        swap = None
        order = np.argsort(C, axis=1, kind="stable")
        A_s = np.take_along_axis(A, order, axis=1)
        C_s = np.take_along_axis(C, order, axis=1)
    q = p.Q[None, :]
    fixed = p.f[sets].sum(axis=1) - p.split_credit
    x = _fill(A_s, q[:, None, :])
    short = q - x.sum(axis=1)
    # A set with a member that ships nothing is the smaller set's plan plus a phantom shipment:
    # never a plan of its own (it would pose as a runner-up with another node set).
    full = ~(short > 0).any(axis=1) & _all_ship(x, swap, order)
    cost = np.where(full, fixed + (x * C_s).sum(axis=(1, 2)), np.inf)
    if p.allow_backorder:
        # Units whose shipping costs more than their penalty are better left unfilled.
        A_b = np.where(C_s < p.P[None, None, :], A_s, 0)
        xb = _fill(A_b, q[:, None, :])
        short_b = q - xb.sum(axis=1)
        cost_b = (fixed + (xb * C_s).sum(axis=(1, 2)) + (short_b * p.P).sum(axis=1)
                  + p.P0 * (short_b > 0).any(axis=1))
        cost_b = np.where(_all_ship(xb, swap, order), cost_b, np.inf)
        use_b = cost_b < cost
        cost = np.where(use_b, cost_b, cost)
        if with_allocation:
            x = np.where(use_b[:, None, None], xb, x)
            short = np.where(use_b[:, None], short_b, short)
    cost = np.where(_same_node_pairs(p, sets), np.inf, cost)
    if not with_allocation:
        return cost
    return cost, _unsort(x, swap, order), short


def _unsort(x: np.ndarray, swap: np.ndarray | None, order: np.ndarray | None) -> np.ndarray:
    """Allocation from per-item cost order back to the sets' option order."""
    if order is not None:
        return np.take_along_axis(x, np.argsort(order, axis=1), axis=1)
    if swap is not None:
        return np.where(swap, x[:, ::-1, :], x)
    return x


def _all_ship(x: np.ndarray, swap: np.ndarray | None, order: np.ndarray | None) -> np.ndarray:
    """(B,) mask of sets in which every option ships at least one unit."""
    if x.shape[1] == 1:
        return x.sum(axis=(1, 2)) > 0
    return (_unsort(x, swap, order).sum(axis=2) > 0).all(axis=1)


def allocation_lower_bound(p: Problem) -> float:
    """Cheapest way to serve every unit if shipments were free: each item from its cheapest options
    over all eligible options (or unfilled at its penalty). No plan allocates for less."""
    if p.n_options == 0:
        return float((p.P * p.Q).sum()) if p.allow_backorder else np.inf
    order = np.argsort(p.C, axis=0, kind="stable")
    A_s = np.take_along_axis(p.A, order, axis=0).T              # (I, O), cheapest option first
    C_s = np.take_along_axis(p.C, order, axis=0).T
    if p.allow_backorder:
        A_s = np.where(C_s < p.P[:, None], A_s, 0)
    x = _fill(A_s, p.Q[:, None])
    short = p.Q - x.sum(axis=1)
    if not p.allow_backorder and (short > 0).any():
        return np.inf
    return float((x * C_s).sum() + (short * p.P).sum())


def dominance(p: Problem, candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which options make others redundant in multi-shipment plans.

    Option a dominates b (at another node) when it is no dearer per shipment and per unit of every
    item and can ship at least as many units of every item. A set holding b but not a (nor a's
    node) is then never better than the same set with b swapped for a. Returns (Dn, node_pos, ndom):
    Dn[k, b] is True when some option at the k-th distinct node dominates b; node_pos maps options
    to those node positions; ndom[b] counts b's dominating nodes.

    Only `candidates` (ascending option indices) are compared. Pass every option whose fixed cost
    is below some limit: a dominator's fixed cost is no larger, so it is a candidate too. Other
    options get ndom = number of options, which keeps them out of every canonical set.
    """
    n_opt = len(p.f)
    cand = np.arange(n_opt) if candidates is None else candidates
    f, C, A, node = p.f[cand], p.C[cand], p.A[cand], p.opt_node[cand]
    D = ((f[:, None] <= f[None, :]) & (node[:, None] != node[None, :])
         & (C[:, None, :] <= C[None, :, :]).all(axis=2) & (A[:, None, :] >= A[None, :, :]).all(axis=2))
    # Identical options dominate each other: keep only the lower index as the dominator.
    k = len(cand)
    D &= ~(D.T & (np.arange(k)[:, None] > np.arange(k)[None, :]))
    nodes, node_pos = np.unique(p.opt_node, return_inverse=True)
    Dn = np.zeros((len(nodes), n_opt), dtype=bool)
    rows = node_pos[cand]
    if len(np.unique(rows)) == k:
        Dn[rows[:, None], cand[None, :]] = D
    else:  # several services of one node: any of them dominating counts for the node
        np.logical_or.at(Dn, (rows[:, None], cand[None, :]), D)
    ndom = np.full(n_opt, n_opt, dtype=np.int64)
    ndom[cand] = Dn[:, cand].sum(axis=0)
    return Dn, node_pos, ndom


def canonical(sets: np.ndarray, Dn: np.ndarray, node_pos: np.ndarray, ndom: np.ndarray) -> np.ndarray:
    """(B,) mask of sets in which every member's dominating nodes are all in the set (the others
    can be improved by a swap, so an optimal set exists among the canonical ones)."""
    m = sets.shape[1]
    ok = np.ones(len(sets), dtype=bool)
    for j in range(m):  # m is the number of shipments: tiny
        covered = np.zeros(len(sets), dtype=np.int64)
        for k in range(m):
            if k != j:
                covered += Dn[node_pos[sets[:, k]], sets[:, j]]
        ok &= covered >= ndom[sets[:, j]]
    return ok


def objective_of(p: Problem, options: np.ndarray, x: np.ndarray, unfilled: np.ndarray) -> float:
    """Objective of an explicit allocation (used to re-price solver output in floating point)."""
    used = x.sum(axis=1) > 0
    fixed = float(p.f[options[used]].sum()) - (p.split_credit if used.any() else 0.0)
    units = float((x * p.C[options]).sum())
    penalty = float((unfilled * p.P).sum()) + (p.P0 if (unfilled > 0).any() else 0.0)
    return fixed + units + penalty
