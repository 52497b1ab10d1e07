"""The protocol's costs per region and Jasin & Sinha's deterministic LP (DLP), the papers' yardstick.

Costs come from the engine itself (build_problem of a one-unit order per region on the protocol's
network, rate card and penalties), so every policy of benchmarks.protocol is charged exactly what
the engine's plans say they cost.

The DLP (Jasin & Sinha 2015, as in Ma 2023's published code): for each order type q and region j,
u[q,k,i,j] is the share of item i of (q, j) orders sent from site k (k = K: the dummy, unfilled) and
y[q,k,j] >= u[q,k,i,j] the share of those orders opening a package at k;
    min  sum_{q,j} T lambda_qj sum_k (fixed_kj y_qkj + unit_kj sum_i u_qkij)
    s.t. sum_k u_qkij = 1;   T sum_{q,j} lambda_qj u_qkij <= stock_ki (real sites).
Its fractions u are what the rounding policies round.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix

from dom_engine.optimize.opportunity.master import new_highs
from dom_engine.optimize.problem import build_problem
from dom_engine.testing.protocol import PROTOCOL_NOW, ProtocolInstance

# Columns above which the DLP is solved by HiGHS' interior point without crossover (the fractions
# are then interior, which the rounding policies do not mind).
IPM_ABOVE = 100_000


@dataclass(frozen=True)
class RegionCosts:
    """fixed[k, j], unit[k, j]: per package and per unit from site k to region j; row K is the
    dummy (unfilled) site."""

    fixed: np.ndarray
    unit: np.ndarray

    def of_assignment(self, sites: np.ndarray, j: int) -> float:
        """What an order from region j costs when unit a ships from sites[a] (K: unfilled)."""
        return float(self.fixed[np.unique(sites), j].sum() + self.unit[sites, j].sum())


def region_costs(inst: ProtocolInstance) -> RegionCosts:
    K, J = inst.stock.shape[0], len(inst.regions)
    fixed, unit = np.zeros((K + 1, J)), np.zeros((K + 1, J))
    everywhere = inst.stock_view(np.ones_like(inst.stock))
    for j in range(J):
        p = build_problem(inst.order(1, j, "cost"), everywhere, inst.network, inst.rate_card, inst.policy,
                          PROTOCOL_NOW)
        if len(set(p.opt_node.tolist())) != K or p.n_items != 1:
            raise AssertionError("every site must offer one option for a one-unit order")
        fixed[p.opt_node, j], unit[p.opt_node, j] = p.f, p.C[:, 0]
        fixed[K, j], unit[K, j] = p.P0, p.P[0]
    return RegionCosts(fixed, unit)


@dataclass
class Dlp:
    """The DLP's optimum (money over the horizon), its fractions per (q, j) as (K + 1, items of q)
    arrays, and how long HiGHS took."""

    objective: float
    fractions: dict[tuple[int, int], np.ndarray]
    seconds: float
    size: tuple[int, int]


def solve_dlp(inst: ProtocolInstance, costs: RegionCosts, time_limit_s: float = 3600.0) -> Dlp:
    K, n_items = inst.stock.shape
    Kp, J, T = K + 1, len(inst.regions), inst.horizon
    obj: list[np.ndarray] = []
    rows, cols, vals = [], [], []
    n_rows = K * n_items     # stock rows first
    n_cols = 0
    eq_rows: list[int] = []
    blocks: dict[tuple[int, int], int] = {}
    for q in range(1, len(inst.types)):
        items = inst.types[q]
        n = len(items)
        for j in range(J):
            w = T * inst.rates[q, j]
            if w <= 0:
                continue
            u0, y0 = n_cols, n_cols + Kp * n       # u[k, a] at u0 + k n + a, y[k] at y0 + k
            blocks[(q, j)] = u0
            obj.append(np.concatenate([w * np.repeat(costs.unit[:, j], n), w * costs.fixed[:, j]]))
            for a, i in enumerate(items.tolist()):
                for k in range(Kp):
                    u = u0 + k * n + a
                    if k < K:
                        rows.append(k * n_items + i), cols.append(u), vals.append(w)
                    rows.extend((n_rows, n_rows)), cols.extend((u, y0 + k)), vals.extend((1.0, -1.0))
                    n_rows += 1
                rows.extend([n_rows] * Kp), cols.extend(u0 + k * n + a for k in range(Kp))
                vals.extend([1.0] * Kp)
                eq_rows.append(n_rows)
                n_rows += 1
            n_cols += Kp * n + Kp
    lower = np.full(n_rows, -np.inf)
    upper = np.zeros(n_rows)
    upper[:K * n_items] = inst.stock.ravel()
    lower[eq_rows] = upper[eq_rows] = 1.0
    a = coo_matrix((vals, (rows, cols)), shape=(n_rows, n_cols)).tocsc()
    h = new_highs()
    h.setOptionValue("time_limit", time_limit_s)
    if n_cols > IPM_ABOVE:   # simplex did not finish the big network's DLP in 15 minutes here
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")
    c = np.concatenate(obj)
    h.passModel(_lp(h, c, a, lower, upper))
    started = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - started
    x = np.asarray(h.getSolution().col_value)
    fractions = {}
    for (q, j), u0 in blocks.items():
        n = len(inst.types[q])
        fractions[(q, j)] = np.clip(x[u0: u0 + Kp * n].reshape(Kp, n), 0.0, None)
    return Dlp(float(h.getInfo().objective_function_value), fractions, seconds, (n_cols, n_rows))


def _lp(h, c: np.ndarray, a, lower: np.ndarray, upper: np.ndarray):
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_ = c
    lp.col_lower_ = np.zeros(a.shape[1])
    lp.col_upper_ = np.full(a.shape[1], highspy.kHighsInf)
    lp.row_lower_, lp.row_upper_ = lower, upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    return lp
