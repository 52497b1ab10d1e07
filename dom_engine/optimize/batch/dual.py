"""The restricted master's Lagrangian dual, maximised by the volume algorithm in numpy.

Over the generated columns (plans) of the active orders, with prices lam >= 0 on the contested
resources R:

    L_pool(lam) = sum_o min_{j of o} (c_j + lam . u_j) - lam . cap_R

Its maximum is the restricted master LP's value, and its maximiser the LP's duals. Why not the
LP itself: on heavily contested waves (8k orders, 46k columns, 1.2k rows) GLOP took 9.6 s and
HiGHS 13 s on one master (degenerate simplex), while one evaluation here is a sparse product and
a segmented minimum (~1 ms), so hundreds of steps cost well under a second. The volume algorithm
(Barahona & Anbil 2000) also averages the per-order choices into an approximate LP solution
`xbar`, which guides the rounding.

L_pool is not a bound for the batch (the pool lacks plans); the bound comes from pricing every
active order exactly at the prices found here (solver.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .columns import Column

MAX_STEPS = 400
STALL_STEPS = 15          # steps without improvement before the step size is halved
MIN_THETA = 1e-4
VOLUME_ALPHA = 0.1


@dataclass
class DualResult:
    lam: np.ndarray         # prices of the rows, >= 0
    value: float            # L_pool(lam)
    xbar: np.ndarray        # (n_columns,) averaged choices, sum 1 per order
    steps: int


class PoolDual:
    """The columns of the active orders (flattened, grouped by order) and their use of the rows."""

    def __init__(self, pools: Sequence[list[Column]], rows: np.ndarray, caps: np.ndarray) -> None:
        sizes = np.array([len(p) for p in pools], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.owner = np.repeat(np.arange(len(pools)), sizes)
        flat = [c for p in pools for c in p]
        self.cost = np.array([c.cost for c in flat])
        lengths = np.array([len(c.res) for c in flat], dtype=np.int64)
        res = np.concatenate([c.res for c in flat]) if flat else np.zeros(0, dtype=np.int64)
        use = np.concatenate([c.use for c in flat]) if flat else np.zeros(0)
        col = np.repeat(np.arange(len(flat)), lengths)
        pos = np.searchsorted(rows, res)
        hit = np.zeros(len(res), dtype=bool)
        if len(rows):
            hit = (pos < len(rows)) & (rows[np.minimum(pos, len(rows) - 1)] == res)
        self.U = sp.csr_matrix((use[hit], (pos[hit], col[hit])), shape=(len(rows), len(flat)))
        self.UT = self.U.T.tocsr()
        self.caps = caps
        self.n_orders = len(pools)

    def evaluate(self, lam: np.ndarray) -> tuple[float, np.ndarray]:
        """L_pool(lam) and the flat index of each order's cheapest priced column."""
        priced = self.cost + self.UT @ lam
        best = np.minimum.reduceat(priced, self.starts)
        # First column per order that attains the minimum (ties: the earlier column).
        hits = np.flatnonzero(priced <= best[self.owner])
        first = np.r_[True, self.owner[hits][1:] != self.owner[hits][:-1]]
        choice = hits[first]
        return float(best.sum() - lam @ self.caps), choice

    def ascend(self, lam: np.ndarray, target: float, deadline: float) -> DualResult:
        """Volume-algorithm ascent from `lam` towards `target` (an upper estimate of the maximum,
        e.g. a feasible plan's objective) until the step size vanishes, MAX_STEPS or `deadline`."""
        lam = np.maximum(lam, 0.0)
        value, choice = self.evaluate(lam)
        best_lam, best_value = lam.copy(), value
        xbar = np.zeros(len(self.cost))
        xbar[choice] = 1.0
        theta, stall, steps = 1.0, 0, 0
        while steps < MAX_STEPS and theta > MIN_THETA and time.perf_counter() < deadline:
            steps += 1
            usage = self.U @ xbar
            g = usage - self.caps                       # ascent direction: over-used rows cost more
            g[(best_lam <= 0) & (g < 0)] = 0.0
            norm = float(g @ g)
            if norm <= 1e-12:
                break                                   # xbar fits everywhere at these prices: done
            gap = max(target - best_value, 1e-9 * max(1.0, abs(best_value)))
            lam = np.maximum(best_lam + theta * gap / norm * g, 0.0)
            value, choice = self.evaluate(lam)
            x = np.zeros(len(self.cost))
            x[choice] = 1.0
            xbar = VOLUME_ALPHA * x + (1 - VOLUME_ALPHA) * xbar
            if value > best_value + 1e-9 * max(1.0, abs(best_value)):
                best_lam, best_value = lam, value
                stall = 0
            else:
                stall += 1
                if stall >= STALL_STEPS:
                    theta *= 0.5
                    stall = 0
        return DualResult(best_lam, best_value, xbar, steps)
