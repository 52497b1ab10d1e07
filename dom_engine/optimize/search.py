"""Fast exact search for one order: enumerate option sets by size, pruned by a proven bound.

For a fixed set S of options the best allocation is a greedy fill (solution.evaluate_sets), so the
problem reduces to choosing S. Every plan that uses m shipments costs at least
    (sum of the fixed costs of its options) - split credit + g
where g = allocation_lower_bound (every unit from its cheapest option, shipments free). Sets are
grown in order of increasing fixed cost, and a set is only evaluated while that bound is below the
objective we must beat, so the search stops as soon as no larger set can win: the result is proven
optimal, not heuristic. Whole levels are evaluated at once in numpy.

To explain the choice the search also proves the runner-up: the best plan whose *node set* differs.
When a level would need more than `max_sets` evaluations the search gives up (returns None) and the
caller falls back to the OR-Tools model, handing over the incumbent as a hint.
"""

from __future__ import annotations

import numpy as np

from .problem import Problem
from .solution import Solution, allocation_lower_bound, evaluate_sets

_KEEP_PER_LEVEL = 32  # cheapest sets remembered per level: enough to find the best other node set


class _Leaderboard:
    """The cheapest evaluated sets, to read off the best and the best with another node set."""

    def __init__(self) -> None:
        self.entries: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []  # cost, nodes, options

    def add(self, p: Problem, sets: np.ndarray, costs: np.ndarray) -> None:
        take = np.argsort(costs, kind="stable")[:_KEEP_PER_LEVEL]
        for k in take:
            if np.isfinite(costs[k]):
                opts = tuple(int(o) for o in sets[k])
                nodes = tuple(sorted(int(n) for n in p.opt_node[list(opts)]))
                self.entries.append((float(costs[k]), nodes, opts))
        self.entries.sort(key=lambda e: e[0])
        del self.entries[4 * _KEEP_PER_LEVEL:]

    def best(self):
        return self.entries[0] if self.entries else None

    def runner_up(self):
        first = self.best()
        if first is None:
            return None
        return next((e for e in self.entries if e[1] != first[1]), None)

    def threshold(self, want_alternative: bool) -> float:
        e = self.runner_up() if want_alternative else self.best()
        return e[0] if e else np.inf


def fast_search(p: Problem, max_sets: int = 20_000, want_alternative: bool = True) -> Solution | None:
    """Proven-optimal plan for `p`, or None when a level exceeds `max_sets` evaluations."""
    board = _Leaderboard()
    if p.allow_backorder:
        board.entries.append((p.empty_plan_objective(), (), ()))
    n_opt = p.n_options
    g = allocation_lower_bound(p)
    perm = np.argsort(p.f, kind="stable")
    fs = p.f[perm]
    eps = 1e-9 * max(1.0, float(np.abs(fs).max(initial=0.0)))
    sets = np.zeros((1, 0), dtype=np.int64)   # positions into perm, ascending within a row
    sums = np.zeros(1)
    for m in range(1, min(p.max_shipments, n_opt) + 1):
        thr = board.threshold(want_alternative)
        if fs[:m].sum() - p.split_credit + g >= thr - eps:
            break  # no set of m or more options can beat the incumbent pair
        last = sets[:, -1] if m > 1 else np.full(len(sets), -1)
        bound = sums[:, None] + fs[None, :] - p.split_credit + g
        ok = (np.arange(n_opt)[None, :] > last[:, None]) & (bound < thr - eps)
        count = int(ok.sum())
        if count == 0:
            break
        if count > max_sets:
            return None
        rows, cols = np.nonzero(ok)
        sets = np.hstack([sets[rows], cols[:, None]])
        sums = sums[rows] + fs[cols]
        board.add(p, perm[sets], evaluate_sets(p, perm[sets]))
    return _solution(p, board, "fast-search")


def _solution(p: Problem, board: _Leaderboard, solver: str) -> Solution:
    best = board.best()
    if best is None:
        return Solution(np.zeros(0, dtype=np.int64), np.zeros((0, p.n_items), dtype=np.int64),
                        p.Q.copy(), np.inf, np.inf, True, solver)
    cost, _, opts = best
    options = np.array(opts, dtype=np.int64)
    if len(options):
        _, x, short = evaluate_sets(p, options[None, :], with_allocation=True)
        x, short = x[0], short[0]
    else:
        x, short = np.zeros((0, p.n_items), dtype=np.int64), p.Q.copy()
    runner = board.runner_up()
    alt = (runner[1], runner[0]) if runner else None
    return Solution(options, x, short, cost, cost, True, solver, alt)
