"""Optimisation: candidate pruning (numpy), exact fast search, OR-Tools models, baselines.

Entry point: `route(order, stock, network, rate_card, policy, time_budget_ms, now) -> Plan`.
"""

from .router import route

__all__ = ["route"]
