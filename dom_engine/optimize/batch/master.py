"""The restricted master LP of column generation, solved by OR-Tools GLOP.

    min  sum_j cost_j x_j
    s.t. sum_{j of order o} x_j = 1            for every active order o    (dual pi_o)
         sum_j use_rj x_j      <= cap_r        for every contested resource r (dual -lam_r <= 0)
         x >= 0

The matrix goes to the solver as one scipy CSR (no Python loop over nonzeros). GLOP rather than
HiGHS: through model_builder, HiGHS returned row activities in place of the duals (ortools 9.15).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder_helper as mbh

from .columns import Column


@dataclass
class MasterSolution:
    value: float
    x: np.ndarray           # (n_columns,) in the order the columns were given
    pi: np.ndarray          # (n_orders,) convexity duals
    lam: np.ndarray         # (n_rows,) prices of the contested resources, >= 0


def solve_master(columns: list[list[Column]], rows: np.ndarray, caps: np.ndarray,
                 time_limit_s: float) -> MasterSolution:
    """Solve the LP over `columns[o]` (the columns of active order o) with capacity rows for the
    resource ids `rows` (sorted) and their capacities `caps`."""
    costs, indptr_o, res_parts, use_parts, col_order = [], [0], [], [], []
    for o, cols in enumerate(columns):
        for c in cols:
            costs.append(c.cost)
            res_parts.append(c.res)
            use_parts.append(c.use)
            col_order.append(o)
        indptr_o.append(len(costs))
    n_cols, n_orders = len(costs), len(columns)
    lengths = np.array([len(r) for r in res_parts], dtype=np.int64)
    res = np.concatenate(res_parts) if res_parts else np.zeros(0, dtype=np.int64)
    use = np.concatenate(use_parts) if use_parts else np.zeros(0)
    col_of = np.repeat(np.arange(n_cols), lengths)
    pos = np.searchsorted(rows, res)
    hit = np.zeros(len(res), dtype=bool)
    if len(rows):
        hit = (pos < len(rows)) & (rows[np.minimum(pos, len(rows) - 1)] == res)
    conv_rows = np.array(col_order, dtype=np.int64)
    r_idx = np.concatenate([conv_rows, n_orders + pos[hit]])
    c_idx = np.concatenate([np.arange(n_cols), col_of[hit]])
    vals = np.concatenate([np.ones(n_cols), use[hit]])
    n_rows = n_orders + len(rows)
    matrix = sp.csr_matrix((vals, (r_idx, c_idx)), shape=(n_rows, n_cols))
    lower = np.concatenate([np.ones(n_orders), np.full(len(rows), -np.inf)])
    upper = np.concatenate([np.ones(n_orders), caps.astype(np.float64)])

    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(np.zeros(n_cols), np.full(n_cols, np.inf), np.array(costs),
                                      lower, upper, matrix)
    solver = mbh.ModelSolverHelper("glop")
    solver.set_time_limit_in_seconds(max(time_limit_s, 0.01))
    solver.solve(model)
    if not solver.has_solution():
        raise RuntimeError(f"master LP not solved: {solver.status_string() or solver.status()}")
    duals = np.asarray(solver.dual_values())
    return MasterSolution(float(solver.objective_value()), np.asarray(solver.variable_values()),
                          duals[:n_orders], np.maximum(-duals[n_orders:], 0.0))
