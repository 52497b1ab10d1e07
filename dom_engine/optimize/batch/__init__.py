"""Batch (wave) allocation: many orders jointly over shared stock and node capacities.

Entry point: `solve_batch(BatchProblem(...), stop, params) -> BatchResult`; `prepare_batch` gives
the priced orders and shared resources (exact reference models in tests start from it).
"""

from .wave import BatchProblem, PreparedBatch, prepare_batch, solve_batch

__all__ = ["BatchProblem", "PreparedBatch", "prepare_batch", "solve_batch"]
