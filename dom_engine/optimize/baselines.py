"""Rule-based sourcing, as most commercial engines do it, to measure what optimisation saves.

- `nearest`: the nearest node that can ship the whole order; otherwise each line from the nearest
  nodes holding it (the common "ship from closest location" rule).
- `ranked`: the same, but nodes in a static priority order (a ranked location list) instead of by
  distance.

Both see exactly the eligible options the optimiser sees (same filters, same promise dates) and
are priced by the same objective, so their plans compare like for like. They ignore
max_shipments, as the rules they model do.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from ..domain import Network, Order, Plan, PolicyProfile, RateCard
from ..domain.stock import StockView
from .plan_builder import build_plan, infeasible_plan
from .problem import Problem, build_problem
from .single import explain
from .solution import Solution, objective_of


def route_nearest(order: Order, stock: StockView, network: Network, rate_card: RateCard,
                  policy: PolicyProfile, now: datetime) -> Plan:
    """Plan of the nearest-node rule."""
    return _route_by_order(order, stock, network, rate_card, policy, now, None, "baseline-nearest")


def route_ranked(order: Order, stock: StockView, network: Network, rate_card: RateCard,
                 policy: PolicyProfile, now: datetime, ranking: Sequence[str]) -> Plan:
    """Plan of the ranked-locations rule; nodes missing from `ranking` come last, by distance."""
    return _route_by_order(order, stock, network, rate_card, policy, now, ranking, "baseline-ranked")


def _route_by_order(order, stock, network, rate_card, policy, now, ranking, name) -> Plan:
    started = time.perf_counter()
    p = build_problem(order, stock, network, rate_card, policy, now)
    sol = _rule_solution(p, _node_preference(p, network, ranking), name)
    elapsed = (time.perf_counter() - started) * 1000
    if not np.isfinite(sol.objective):
        reason = p.infeasible_reason or "the rule found no plan"
        return infeasible_plan(p, stock, reason, elapsed, name, explain(p, None, network))
    return build_plan(p, sol, network, rate_card, stock, elapsed, explain(p, sol, network))


def _node_preference(p: Problem, network: Network, ranking: Sequence[str] | None) -> np.ndarray:
    """One option per node (its cheapest service for the whole order), in rule order."""
    whole = p.f + p.C @ p.Q
    best: dict[int, int] = {}
    for o, node in enumerate(p.opt_node.tolist()):
        if node not in best or whole[o] < whole[best[node]]:
            best[node] = o
    options = np.array(list(best.values()), dtype=np.int64)
    distance = p.prices.distance_km[p.opt_price_row[options]]
    if ranking is None:
        return options[np.argsort(distance, kind="stable")]
    rank_of = {node_id: r for r, node_id in enumerate(ranking)}
    ranks = np.array([rank_of.get(network.nodes[n].node_id, len(rank_of)) for n in p.opt_node[options]])
    return options[np.lexsort((distance, ranks))]


def _rule_solution(p: Problem, preference: np.ndarray, name: str) -> Solution:
    complete = (p.A[preference] >= p.Q).all(axis=1)
    if complete.any():
        chosen = preference[[int(np.argmax(complete))]]
        x = p.Q[None, :].copy()
        unfilled = np.zeros_like(p.Q)
    else:
        # Each item from the preferred nodes in turn until filled.
        A = p.A[preference]
        cum = np.cumsum(A, axis=0)
        take = np.clip(np.minimum(cum, p.Q) - (cum - A), 0, None)
        used = take.sum(axis=1) > 0
        chosen, x = preference[used], take[used]
        unfilled = p.Q - x.sum(axis=0)
        if (unfilled > 0).any() and not p.allow_backorder:
            return Solution(chosen, x, unfilled, np.inf, np.inf, False, name)
    value = objective_of(p, chosen, x, unfilled)
    # A rule proves nothing: its only bound is the allocation bound of the exact search.
    return Solution(chosen, x, unfilled, value, -np.inf, False, name)
