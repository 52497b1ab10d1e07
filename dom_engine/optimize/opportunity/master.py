"""The fluid LP's restricted master on HiGHS: one row per prototype (its plan shares sum to 1),
one per stock resource some plan uses (expected units taken <= stock), one column per plan.

    min  sum_o w_o sum_m cost_m z_om
    s.t. sum_m z_om = 1                                   for each prototype o
         sum_o w_o sum_m use_m,r z_om <= cap_r            for each stock resource r
         z >= 0

Columns and rows are only ever added, so each solve starts from the last basis (HiGHS keeps it):
after a pricing round the master re-solves in a few simplex iterations.
"""

from __future__ import annotations

import os
import sys
import threading

import highspy
import numpy as np

PRIMAL, DUAL = 4, 1     # HiGHS' simplex_strategy values
_banner = threading.Lock()
_banner_shown = False


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance. The first one of a process prints HiGHS' banner from C++ straight
    to file descriptor 1 (no option prevents it): that one is made with fd 1 on /dev/null, so
    `dom route --json` and friends keep a clean stdout."""
    global _banner_shown
    with _banner:
        if not _banner_shown:
            sys.stdout.flush()
            saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            try:
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(null)
            _banner_shown = True
        else:
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


class FluidMaster:
    """The restricted master over `weights` (expected orders per prototype) and stock capacities
    `cap` (per resource id; only rows some column uses are added)."""

    def __init__(self, weights: np.ndarray, cap: np.ndarray) -> None:
        self.h = new_highs()
        self.weights = weights
        self.cap = cap
        self.row_of: dict[int, int] = {}      # stock resource id -> master row
        self.resources: list[int] = []        # master row - len(weights) -> resource id
        n = len(weights)
        self.h.addRows(n, np.ones(n), np.ones(n), 0, np.zeros(n, dtype=np.int32),
                       np.zeros(0, dtype=np.int32), np.zeros(0))
        self.n_columns = 0
        self.owner: list[int] = []            # column -> prototype
        self.cost: list[float] = []           # column -> cost of one order

    def add(self, owner: int, cost: float, res: np.ndarray, use: np.ndarray) -> None:
        """A plan of prototype `owner`: its cost and the stock resources `res` it uses (`use` each)."""
        for r in res.tolist():
            if r not in self.row_of:
                self.row_of[r] = len(self.weights) + len(self.resources)
                self.resources.append(r)
                self.h.addRow(-highspy.kHighsInf, float(self.cap[r]), 0, np.zeros(0, dtype=np.int32),
                              np.zeros(0))
        w = float(self.weights[owner])
        rows = np.array([owner] + [self.row_of[r] for r in res.tolist()], dtype=np.int32)
        vals = np.concatenate([[1.0], w * use.astype(np.float64)])
        self.h.addCol(w * cost, 0.0, highspy.kHighsInf, len(rows), rows, vals)
        self.owner.append(owner)
        self.cost.append(cost)
        self.n_columns += 1

    def set_caps(self, cap: np.ndarray) -> None:
        """New bounds for every stock row (rows added later read `cap` too)."""
        self.cap = cap
        if self.resources:
            rows = np.arange(len(self.weights), len(self.weights) + len(self.resources), dtype=np.int32)
            caps = cap[np.array(self.resources)].astype(np.float64)
            self.h.changeRowsBounds(  # type: ignore[attr-defined]  # in the binding, not its stubs
                len(rows), rows, np.full(len(rows), -highspy.kHighsInf), caps)

    def solve(self, time_limit_s: float, columns_added: bool = True
              ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
        """(objective, each prototype's dual per order, the stock resource ids of the rows, their
        prices >= 0); None when HiGHS did not reach the optimum in time. After `columns_added` the
        last basis is still primal feasible: primal simplex goes on from it (on the big protocol
        network 36 % faster than HiGHS' default dual simplex); after new row bounds it is dual
        feasible: dual simplex."""
        self.h.setOptionValue("simplex_strategy", PRIMAL if columns_added else DUAL)
        self.h.setOptionValue("time_limit", max(1e-3, float(time_limit_s)))
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        dual = np.asarray(self.h.getSolution().row_dual)
        n = len(self.weights)
        # HiGHS' duals are d objective / d row bound: <= 0 on a binding "<= stock" row.
        prices = np.clip(-dual[n:], 0.0, None)
        return (float(self.h.getInfo().objective_function_value), dual[:n] / self.weights,
                np.array(self.resources, dtype=np.int64), prices)

    def shares(self) -> np.ndarray:
        """Each column's value (the share of its prototype's orders that use that plan)."""
        return np.asarray(self.h.getSolution().col_value)
