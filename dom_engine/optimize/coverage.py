"""Can max_shipments nodes fill a no-backorder order at all? Where stock is thin (a few units per
node), the answer decides between INFEASIBLE and a plan. The branch and bound (compiled_bb.py)
settles it for most orders with the same two relaxations as its covering cut; this search is for
what it leaves (orders with a SKU on several items, or out of time) before CP-SAT, which proves
infeasibility slowly.

The question, without costs: choose at most M nodes so that every item gets its quantity from
them, a node giving an item at most the units it holds (its best service) — a covering question over
a few dozen nodes. A depth-first branch and bound answers it: nodes are added in order of what
they add, and a branch is cut when even its r best additions (coverage is submodular: what a node
adds only shrinks as others join) cannot fill the order, or some item cannot get its quantity
from r more nodes. A finished search without such nodes proves the order infeasible; nodes found
are a feasible start for the exact solvers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..domain.stop import Deadline
from .problem import Problem, node_supply

# Branches one search may open (a few thousand settle the thin-stock orders measured; each costs
# a few microseconds of numpy).
MAX_BRANCHES = 50_000


@dataclass(frozen=True)
class Coverage:
    proven: bool             # the search finished: no M nodes cover the order unless `nodes` do
    most: int                # units the best M nodes found can give
    nodes: np.ndarray        # network node indices of those nodes

    def covers(self, p: Problem) -> bool:
        return self.most >= int(p.Q.sum())


def max_coverage(p: Problem, stop: Deadline, max_branches: int = MAX_BRANCHES) -> Coverage | None:
    """At most `p.max_shipments` nodes that fill the whole order, or the best found when none do
    (`proven` unless the search ran out of `stop` or `max_branches`: then no such nodes exist);
    None when there was no time."""
    nodes, held = node_supply(p)
    if len(nodes) == 0 or stop.expired():
        return None
    search = _Search(held, p.Q.astype(np.int64), min(p.max_shipments, len(nodes)), stop, max_branches)
    search.run(np.arange(len(nodes)), p.Q.astype(np.int64), [])
    return Coverage(not search.stopped, search.best, nodes[np.array(search.best_set, dtype=np.int64)])


class _Search:
    def __init__(self, held: np.ndarray, q: np.ndarray, m: int, stop: Deadline, max_branches: int) -> None:
        self.held, self.target, self.m, self.stop, self.budget = held, int(q.sum()), m, stop, max_branches
        self.best = -1
        self.best_set: list[int] = []
        self.stopped = False

    def run(self, cands: np.ndarray, need: np.ndarray, chosen: list[int]) -> None:
        """Extend `chosen` (leaving `need` per item) with nodes of `cands`."""
        covered = self.target - int(need.sum())
        if covered > self.best:
            self.best, self.best_set = covered, list(chosen)
        r = self.m - len(chosen)
        if covered == self.target or r == 0 or len(cands) == 0 or self.best == self.target:
            return
        self.budget -= 1
        if self.budget < 0 or (self.budget % 64 == 0 and self.stop.expired()):
            self.stopped = True
            return
        give = np.minimum(self.held[cands], need[None, :])          # (c, I)
        gains = give.sum(axis=1)
        order = np.argsort(-gains, kind="stable")
        if covered + int(gains[order[:r]].sum()) < self.target:
            return                                                   # submodular bound
        top = -np.partition(-give, min(r, len(cands)) - 1, axis=0)[:r] if len(cands) > r else give
        if (top.sum(axis=0) < need).any():
            return                                                   # some item cannot be filled
        keep = order[gains[order] > 0]
        for k, j in enumerate(keep.tolist()):
            node = int(cands[j])
            self.run(cands[keep[k + 1:]], need - give[j], [*chosen, node])
            if self.stopped or self.best == self.target:
                return


def options_of(p: Problem, nodes: np.ndarray) -> np.ndarray:
    """One option per node of `nodes`: its cheapest shipment (the local search may swap services)."""
    picked = []
    for node in nodes.tolist():
        opts = np.flatnonzero(p.opt_node == node)
        picked.append(int(opts[np.argmin(p.f[opts])]))
    return np.array(picked, dtype=np.int64)
