"""Fast exact search for one order: enumerate option sets by size, pruned by a proven bound.

For a fixed set S of options the best allocation is a greedy fill (solution.evaluate_sets), so the
problem reduces to choosing S. Every plan that uses m shipments costs at least
    (sum of the fixed costs of its options) - split credit + g
where g = allocation_lower_bound (every unit from its cheapest option, shipments free). Sets are
grown in order of increasing fixed cost, and a set is only evaluated while that bound is below the
objective we must beat, so the search stops as soon as no larger set can win: the result is proven
optimal, not heuristic. Whole levels are evaluated at once in numpy.

To explain the choice the search also proves the runner-up: the best plan whose *node set* differs.
Sets of two or more options are further restricted to *canonical* sets (solution.dominance): a
set holding an option that another node beats on every count is never needed, so with deep
warehouse stock most stores drop out of multi-shipment plans. The runner-up is likewise the best
among canonical sets (a non-canonical runner-up can only be beaten by its canonical swap).

When a level would need more than `max_sets` evaluations the search gives up (returns None) and the
caller falls back to the OR-Tools model.
"""

from __future__ import annotations

import numpy as np

from .problem import Problem
from .solution import Solution, allocation_lower_bound, canonical, dominance, evaluate_sets

_KEEP_PER_LEVEL = 32  # cheapest sets remembered per level: enough to find the best other node set
# Sets one level may evaluate for the runner-up alone, after the best plan is proven.
RUNNER_UP_MAX_SETS = 2_000


class _Leaderboard:
    """The cheapest evaluated sets, to read off the best and the best with another node set."""

    def __init__(self) -> None:
        self.entries: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []  # cost, nodes, options

    def add(self, p: Problem, sets: np.ndarray, costs: np.ndarray) -> None:
        if len(costs) > _KEEP_PER_LEVEL:
            take = np.argpartition(costs, _KEEP_PER_LEVEL - 1)[:_KEEP_PER_LEVEL]
        else:
            take = np.arange(len(costs))
        take = take[np.isfinite(costs[take])]
        take = take[np.lexsort((take, costs[take]))]  # ties keep the lower index, as a stable sort would
        if not len(take):
            return
        chosen = sets[take]
        nodes = np.sort(p.opt_node[chosen], axis=1).tolist()  # one conversion for all rows, not per element
        self.entries.extend((c, tuple(n), tuple(o))
                            for c, n, o in zip(costs[take].tolist(), nodes, chosen.tolist(), strict=True))
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


def fast_search(p: Problem, max_sets: int = 20_000, want_alternative: bool = True,
                candidates: list[tuple[float, tuple[int, ...]]] | None = None,
                incumbent: tuple[float, tuple[int, ...]] | None = None) -> Solution:
    """Proven-optimal plan for `p`; or, when a level would exceed `max_sets` sets (fewer for orders
    of more than 10 items: the limit is on sets x items), the best plan with fewer shipments
    (proven_optimal False; objective inf if none) and a valid lower bound: every smaller set was
    evaluated, and larger ones cost at least the level bound.

    `candidates`, when given, receives the cheapest option sets evaluated, as (objective, options),
    cheapest first (batch allocation starts its columns from them). `incumbent` (objective,
    options) is a known plan: every set that cannot beat it is pruned, and the result is still
    exact (batch pricing passes the order's best plan so far)."""
    max_sets = max(100, max_sets * 10 // max(10, p.n_items))
    board = _Leaderboard()
    if p.allow_backorder:
        board.entries.append((p.empty_plan_objective(), (), ()))
    if incumbent is not None and incumbent[1]:
        opts = tuple(int(o) for o in incumbent[1])
        nodes = tuple(sorted(int(n) for n in p.opt_node[list(opts)]))
        board.entries.append((float(incumbent[0]), nodes, opts))
        board.entries.sort(key=lambda e: e[0])
    n_opt = p.n_options
    g = allocation_lower_bound(p)
    perm = np.argsort(p.f, kind="stable")
    fs = p.f[perm]
    eps = 1e-9 * max(1.0, float(np.abs(fs).max(initial=0.0)))
    dom = None
    alt_exact = True
    for m in range(1, min(p.max_shipments, n_opt) + 1):
        thr = board.threshold(want_alternative)
        level_bound = fs[:m].sum() - p.split_credit + g
        if level_bound >= thr - eps:
            break  # no set of m or more options can beat the incumbents: proven
        # Once the best plan is proven, only the runner-up (the explanation) is still searched
        # for, and that gets a smaller effort limit.
        best_proven = level_bound >= board.threshold(False) - eps
        cap = min(max_sets, RUNNER_UP_MAX_SETS * 10 // max(10, p.n_items)) if best_proven else max_sets
        sets: np.ndarray | None
        if m == 1:
            sets = np.arange(n_opt)[:, None]
        else:
            if dom is None:
                # Only options that fit in some set under the threshold can matter.
                dom = dominance(p, np.flatnonzero(p.f + fs[0] - p.split_credit + g < thr - eps))
            Dn, node_pos, ndom = dom
            # A member of a canonical m-set has at most m-1 dominating nodes (all inside the set).
            pool = perm[ndom[perm] <= m - 1]
            sets = _combinations(p.f[pool], m, thr + p.split_credit - g - eps, cap * 4)
            if sets is not None:
                sets = pool[sets]
                sets = sets[canonical(sets, Dn, node_pos, ndom)]
            if sets is None or len(sets) > cap:
                if not best_proven:
                    return _gave_up(p, board, level_bound)
                alt_exact = False
                break
            if len(sets) == 0:
                continue
        board.add(p, sets, evaluate_sets(p, sets))
    if want_alternative and dom is not None:
        _add_swaps_of_best(p, board)
    if candidates is not None:
        candidates.extend((cost, opts) for cost, _, opts in board.entries)
    sol = _solution(p, board, "fast-search")
    sol.alternative_exact = alt_exact
    return sol


def _add_swaps_of_best(p: Problem, board: _Leaderboard) -> None:
    """Complete the runner-up search. A non-canonical set can be improved by swapping a dominated
    member for its dominator; repeating that ends in a canonical set (searched) or in the best set
    itself, so the runner-up that was skipped is one swap away from the best set: try those.
    (Exact when the best node set has one service per node, as service dominance nearly always
    leaves; otherwise the runner-up may be slightly dearer than the true one.)"""
    best = board.best()
    if best is None or len(best[2]) < 2:
        return  # singletons were all evaluated at level 1
    current = np.array(best[2], dtype=np.int64)
    m = len(current)
    swaps = np.repeat(current[None, :], m * p.n_options, axis=0)
    swaps[np.arange(len(swaps)), np.repeat(np.arange(m), p.n_options)] = np.tile(np.arange(p.n_options), m)
    board.add(p, swaps, evaluate_sets(p, swaps))


def _combinations(f: np.ndarray, m: int, limit: float, max_rows: int) -> np.ndarray | None:
    """All m-subsets (as ascending positions into `f`, which is sorted ascending) whose fixed
    costs sum below `limit`; None if an intermediate level exceeds `max_rows`."""
    n = len(f)
    sets = np.arange(n)[:, None][f < limit]
    sums = f[sets[:, 0]]
    cols = np.arange(n)[None, :]
    for _ in range(m - 1):
        ok = (cols > sets[:, -1:]) & (sums[:, None] + f[None, :] < limit)
        if np.count_nonzero(ok) > max_rows:
            return None
        rows, new = np.nonzero(ok)
        sets = np.hstack([sets[rows], new[:, None]])
        sums = sums[rows] + f[new]
    return sets


def _gave_up(p: Problem, board: _Leaderboard, level_bound: float) -> Solution:
    sol = _solution(p, board, "fast-search")
    if len(sol.options):
        better = improve(p, sol.options, "fast-search")
        if better is not None and better.objective < sol.objective:
            sol = better
    sol.lower_bound = min(sol.objective, level_bound)
    sol.proven_optimal = False
    sol.alternative = None
    return sol


def greedy(p: Problem) -> Solution | None:
    """A quick incumbent when enumeration stops early: repeatedly open the option that covers the
    most still-missing units per unit of cost, then improve the set by local search."""
    missing = p.Q.copy()
    chosen: list[int] = []
    free = np.ones(p.n_options, dtype=bool)
    while len(chosen) < p.max_shipments and missing.any():
        take = np.minimum(p.A, missing)
        covered = take.sum(axis=1)
        score = np.where(free & (covered > 0), covered / (p.f + (take * p.C).sum(axis=1) + 1e-9), -1.0)
        o = int(np.argmax(score))
        if score[o] < 0:
            break
        chosen.append(o)
        free &= p.opt_node != p.opt_node[o]
        missing = missing - take[o]
    if not chosen:
        return None
    return improve(p, np.array(chosen, dtype=np.int64), "greedy")


def improve(p: Problem, options: np.ndarray, solver: str) -> Solution | None:
    """Local search from a set of options: drop, add or swap one option while that pays. Each
    round evaluates the whole neighbourhood at once; the result is a good incumbent, unproven."""
    current = np.asarray(options, dtype=np.int64)
    value = float(evaluate_sets(p, current[None, :])[0])
    everything = np.arange(p.n_options)
    while True:
        m = len(current)
        neighbours = []
        if m > 1:
            neighbours.append(np.array([np.delete(current, j) for j in range(m)]))
        if m < p.max_shipments:
            base = np.repeat(current[None, :], p.n_options, axis=0)
            neighbours.append(np.hstack([base, everything[:, None]]))
        swaps = np.repeat(current[None, :], m * p.n_options, axis=0)
        swaps[np.arange(len(swaps)), np.repeat(np.arange(m), p.n_options)] = np.tile(everything, m)
        neighbours.append(swaps)
        best_value, best_set = value, None
        for sets in neighbours:
            costs = evaluate_sets(p, sets)
            k = int(np.argmin(costs))
            if costs[k] < best_value - 1e-9:
                best_value, best_set = float(costs[k]), sets[k]
        if best_set is None:
            break
        current, value = best_set, best_value
    if not np.isfinite(value):
        return None
    board = _Leaderboard()
    board.add(p, current[None, :], np.array([value]))
    sol = _solution(p, board, solver)
    sol.proven_optimal = False
    sol.lower_bound = -np.inf
    sol.alternative = None
    return sol


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
