"""A Lagrangian lower bound for one order, in numpy: what proves plans the search cannot finish.

Relax "every unit of item i is shipped or left unfilled" with a price lam_i per unit. What remains
splits by option: opening option o is worth
    v_o = f_o + sum_i A_oi * min(0, C_oi - lam_i)
(ship all its units of every item whose cost is below the price), and the best relaxed plan opens
the (at most max_shipments, one per node) options of most negative worth. For any prices
    L(lam) = lam . Q + min(0, best opening - split credit) + unfilled part
is a lower bound on every plan; subgradient steps on lam raise it towards the LP bound. Stock that
several items share and the "an open shipment ships something" rule are relaxed too, so the bound
stays valid for every Problem.
"""

from __future__ import annotations

import numpy as np

from ..domain.stop import StoppingCriterion
from .problem import Problem


def lagrangian_bound(p: Problem, upper: float, iterations: int = 200,
                     deadline: StoppingCriterion | None = None) -> tuple[float, list[tuple[int, ...]]]:
    """A lower bound on the objective of every plan of `p`, and the option sets the relaxation
    opened along the way (good starting points for a plan: the Lagrangian heuristic).

    `upper` (an incumbent's objective, or inf) steers the step size and stops the iterations
    early once the bound reaches it; so does the `deadline` (a stopping criterion; None: no limit)."""
    n_opt, n_items = p.A.shape
    if n_opt == 0:
        return p.empty_plan_objective(), []
    opened: dict[tuple[int, ...], None] = {}
    A = p.A.astype(np.float64)
    Q = p.Q.astype(np.float64)
    nodes, node_of = np.unique(p.opt_node, return_inverse=True)
    shared_node = len(nodes) < n_opt
    k_max = min(p.max_shipments, len(nodes))
    lam = p.C.min(axis=0) + p.f.min() / max(Q.sum(), 1.0)
    best = -np.inf
    theta, stall = 1.0, 0
    for it in range(iterations):
        if it % 10 == 9 and deadline is not None and deadline.expired():
            break
        gain = np.minimum(p.C - lam, 0.0)                         # (O, I)
        v = p.f + (A * gain).sum(axis=1)
        if shared_node:  # one option per node: only each node's best option can open
            order = np.lexsort((v, node_of))
            first = np.r_[True, node_of[order][1:] != node_of[order][:-1]]
            v_open = np.full(n_opt, np.inf)
            v_open[order[first]] = v[order[first]]
        else:
            v_open = v
        chosen = np.argsort(v_open, kind="stable")[:k_max]
        chosen = chosen[v_open[chosen] < 0]
        if len(chosen) == 0:
            chosen = np.argsort(v_open, kind="stable")[:1]
        opening = v_open[chosen].sum() - p.split_credit
        if opening >= 0:
            chosen, opening = chosen[:0], 0.0
        unfilled, u = 0.0, np.zeros(n_items)
        if p.allow_backorder:
            part = p.P0 + (Q * np.minimum(p.P - lam, 0.0)).sum()
            if part < 0:
                unfilled, u = part, np.where(p.P < lam, Q, 0.0)
        value = float(lam @ Q + opening + unfilled)
        if len(chosen):
            opened[tuple(sorted(chosen.tolist()))] = None
        if value > best + 1e-12:
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 8:
                theta, stall = theta / 2, 0
        if best >= upper - 1e-9 or theta < 1e-4:
            break
        shipped = (A[chosen] * (gain[chosen] < 0)).sum(axis=0)
        grad = Q - shipped - u
        norm = float(grad @ grad)
        if norm == 0:
            break  # the relaxed plan is feasible for the demand constraints: the bound is tight
        target = upper if np.isfinite(upper) else value + 0.1 * abs(value) + 1.0
        lam = lam + theta * (target - value) / norm * grad
    return best, list(opened)
