"""Batch (wave) allocation: many orders jointly over shared stock and node capacities.

Entry point: `route_batch(orders, stock, network, rate_card, policies, settings, now, time_budget_ms)
-> BatchResult`.
"""

from .router import PreparedBatch, prepare_batch, route_batch

__all__ = ["PreparedBatch", "prepare_batch", "route_batch"]
