"""Optimisation: candidate pruning (numpy), exact fast search, OR-Tools models, baselines.

Entry points: `solve_order(OrderProblem, stop, params) -> Plan` for one order and
`batch.solve_batch(BatchProblem, stop, params) -> BatchResult` for a wave; params.py tunes both.
"""

from .params import SolverParams
from .single import OrderProblem, solve_order

__all__ = ["OrderProblem", "SolverParams", "solve_order"]
