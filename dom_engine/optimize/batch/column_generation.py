"""Column generation over per-order plans (see solver.py for the method): the state of the active
orders, their pools of plans, the contested capacity rows, the master's duals and the bound."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from ...domain.stop import Deadline
from ..params import SolverParams
from .columns import Column, Entry, Layout, price_order, solve_exact
from .compiled_pricing import Priced
from .dual import DualResult, PoolDual
from .rounding import route_on
from .router import WaveRouter

log = logging.getLogger(__name__)

# A resource counts as over-subscribed beyond its capacity plus this (float noise).
OVER_EPS = 1e-6


class ColumnGeneration:
    """State of the column generation: active orders, their columns, contested rows, the bound."""

    def __init__(self, entries: Sequence[Entry], layout: Layout, cap: np.ndarray, chosen: list[Column],
                 lb0: np.ndarray, starts: list[list[tuple[int, ...]]], usage: np.ndarray,
                 params: SolverParams, router: WaveRouter) -> None:
        self.params = params
        self.router = router
        self.added = 0
        self.entries, self.layout, self.cap, self.lb0, self.starts = entries, layout, cap, lb0, starts
        self.chosen = chosen                          # independent plans (free orders keep theirs)
        self.active: list[int] = []
        self.is_active = np.zeros(len(entries), dtype=bool)
        self.pools: dict[int, list[Column]] = {}
        self.rows = np.zeros(0, dtype=np.int64)
        self.free_usage = usage          # of the orders' plans alone; active orders' use leaves it
        self.lam = np.zeros(layout.size)            # the prices of the last pricing round
        self.center = np.zeros(layout.size)         # the prices of the best bound so far
        self.capped_now: dict[int, float] = {}       # order -> its bound where pricing hit its cap
        self.center_capped: dict[int, float] = {}    # ... in the round that priced the best bound
        self.priced: dict[int, tuple[np.ndarray, float, bool]] = {}   # order -> (prices, value, capped)
        self.bound = float(lb0.sum())
        self.lp_value = np.inf
        self.master: DualResult | None = None
        self.dual_rows = np.zeros(0, dtype=np.int64)
        self.master_layout: list[tuple[int, int]] = []   # (order, its columns) as the master saw them
        self.rounds = 0
        self.stats: dict[str, float] = {}

    def contest(self, resources: np.ndarray, deadline: Deadline) -> None:
        """Add capacity rows for `resources` and activate the free orders that use them. Their
        start and escape plans are made while `deadline` allows (a pool needs only the order's
        plan and shipping nothing)."""
        self.rows = np.union1d(self.rows, resources)
        in_rows = np.zeros(self.layout.size, dtype=bool)
        in_rows[self.rows] = True
        joining = [k for k, col in enumerate(self.chosen) if not self.is_active[k] and in_rows[col.res].any()]
        # Each new order also gets its best plan that avoids every contested resource: with an
        # escape in its pool from the start, the master's first duals are the prices at which
        # orders would move, not arbitrary (on the 1k wave: 8 rounds to converge instead of 12).
        avoid = self.cap.copy()
        avoid[self.rows] = 0.0
        escapes = self.router.route_all_on(joining, avoid, deadline) or {}
        for k in joining:
            col = self.chosen[k]
            self.is_active[k] = True
            self.active.append(k)
            e = self.entries[k]
            pool = [col, e.empty_column()]
            if not deadline.expired():
                pool += e.columns_of_sets(self.starts[k], self.layout)
            escape = escapes.get(k)
            if escape is None and not self.router.holds(e) and not deadline.expired():
                escape = route_on(e, avoid, self.layout)
            if escape is not None and len(escape.res) and not any(same_column(escape, c) for c in pool):
                pool.append(escape)
            self.pools[k] = pool
            self.free_usage[col.res] -= col.use

    def run(self, last_deadline: Deadline, first_deadline: Deadline | None = None) -> None:
        """Rounds until convergence or `last_deadline`; the first round until `first_deadline`."""
        t_dual = t_price = 0.0
        lam_rows = np.zeros(0)
        alpha = self.params.columns.smoothing
        deadline = first_deadline if first_deadline is not None and first_deadline.end > last_deadline.end \
            else last_deadline
        while not deadline.expired():
            self.rounds += 1
            t0 = time.perf_counter()
            # Every resource the pools could over-subscribe gets its row before the master is
            # solved (rows added only after the master's solution over-used them cost a round
            # each time, and at 10k orders a thousand rows came in per round).
            for _ in range(self.params.columns.row_passes):
                extra = self._reachable_over()
                if not len(extra):
                    break
                self.contest(extra, deadline)
            pools = [self.pools[o] for o in self.active]
            caps = self.cap[self.rows] - self.free_usage[self.rows]
            dual = PoolDual(pools, self.rows, caps, self.params.dual)
            res = dual.ascend(_aligned(lam_rows, self.dual_rows, self.rows), deadline)
            lam_rows, self.dual_rows = res.lam, self.rows.copy()
            t_dual += time.perf_counter() - t0
            if not res.finished and self.master is not None:
                break   # out of time mid-ascent: rounding follows the last complete master
            self.master = res
            self.master_layout = [(o, len(self.pools[o])) for o in self.active]
            # Free orders keep their plans: the batch's value adds their costs.
            self.lp_value = res.value + sum(c.cost for k, c in enumerate(self.chosen)
                                            if not self.is_active[k])
            # Price at a point between the master's duals and the prices of the best bound so far
            # (Wentges smoothing): the master's own duals swing far while its pool is thin, and
            # the bound priced there can fall below the start (measured on a 10k wave).
            rmp = np.zeros(self.layout.size)
            rmp[self.rows] = res.lam
            self.lam = alpha * self.center + (1.0 - alpha) * rmp
            t0 = time.perf_counter()
            added, total = self._price(deadline, dual)
            t_price += time.perf_counter() - t0
            deadline = last_deadline
            improved = total is not None and total > self.bound
            if total is not None and improved:
                self.bound, self.center = total, self.lam.copy()
                self.center_capped = dict(self.capped_now)
            log.debug("round %d: prices at %.2f of the best bound's, master %.1f, priced %s, bound %.1f, "
                      "%d plans added, %d rows, %d dual steps", self.rounds, alpha, self.lp_value, total,
                      self.bound, added, len(self.rows), res.steps)
            if self.lp_value - self.bound <= self.params.columns.tolerance * max(1.0, abs(self.lp_value)):
                break
            if not added:
                if alpha == 0.0:
                    break   # nothing improves at the master's own duals: the master LP is optimal
                alpha = 0.0  # a mis-price (the bound rose to the smoothed point): try the duals
                continue
            # Trust the master's duals more while they raise the bound, less when they do not.
            step = (-1 if improved else 1) * self.params.columns.smoothing_step
            alpha = min(max(round(alpha + step, 6), 0.0), self.params.columns.smoothing_max_share)
        self._tighten(deadline)
        self.stats.update(dual_s=t_dual, pricing_s=t_price, active_orders=len(self.active),
                          contested_rows=len(self.rows), pool_dual_value=self.lp_value)

    def _tighten(self, deadline: Deadline) -> None:
        """Raise the bound by re-pricing exactly, at the best bound's prices, the orders whose
        pricing there stopped at its effort cap (their value was only a bound)."""
        raised = 0.0
        for o, value in sorted(self.center_capped.items()):
            if deadline.expired():
                break
            e = self.entries[o]
            _, exact = solve_exact(e.priced(self.center, self.layout), e.params)
            exact = min(exact, e.empty_column().cost)
            if exact > value:
                raised += exact - value
        self.bound += raised
        self.stats["bound_tightened"] = raised
        self.center_capped = {}

    def _reachable_over(self) -> np.ndarray:
        """Resources without a row that the pools could over-subscribe: the free orders' use plus
        each active order's largest use over its columns exceeds the capacity."""
        columns = [c for o in self.active for c in self.pools[o]]
        if not columns:
            return np.zeros(0, dtype=np.int64)
        # Flattened in one pass (a numpy call per column was most of this at 10k orders).
        per_order = np.array([len(self.pools[o]) for o in self.active], dtype=np.int64)
        lengths = np.array([len(c.res) for c in columns], dtype=np.int64)
        owner = np.repeat(np.repeat(np.arange(len(self.active), dtype=np.int64), per_order), lengths)
        res, use = np.concatenate([c.res for c in columns]), np.concatenate([c.use for c in columns])
        key = owner * self.layout.size + res
        order = np.lexsort((use, key))
        key, res, use = key[order], res[order], use[order]
        last = np.r_[key[1:] != key[:-1], True]          # the largest use of each (order, resource)
        most = self.free_usage + np.bincount(res[last], weights=use[last], minlength=self.layout.size)
        over = most > self.cap + OVER_EPS
        over[self.rows] = False
        return np.flatnonzero(over)

    def _price(self, deadline: Deadline, dual: PoolDual) -> tuple[int, float | None]:
        """Re-solve active orders at the current prices; add improving columns. `dual` is this
        round's master over the pools as they are. Returns the number added and the Lagrangian
        bound (None when the deadline cut pricing short)."""
        self.added = 0
        free = ~self.is_active
        total = float(self.lb0[free].sum()) - float(self.lam[self.rows] @ self.cap[self.rows])
        self.capped_now = {}
        queued: list[int] = []
        seeds: list[float] = []
        pool_best: dict[int, tuple[float, int]] = {}
        # Each pool's cheapest plan at these prices, through the master's column matrix (the
        # pools have not changed since it was built; prices are zero off its rows).
        priced = dual.cost + dual.UT @ self.lam[self.rows]
        _, choice = dual.evaluate(self.lam[self.rows])
        pool_min_of, best_of = priced[choice].tolist(), (choice - dual.starts).tolist()
        for a, o in enumerate(self.active):
            if a % 256 == 0 and deadline.expired():
                return self.added, None
            e = self.entries[o]
            prices = self.lam[e.reach]
            cached = self.priced.get(o)
            if cached is not None and np.array_equal(cached[0], prices):
                total += cached[1]
                if cached[2]:
                    self.capped_now[o] = cached[1]
                continue
            # The pool's cheapest plan at these prices seeds the search: whatever cannot beat it
            # is pruned, and the search stays exact.
            pool_min, best = pool_min_of[a], best_of[a]
            if pool_min <= self.lb0[o] + 1e-9 * max(1.0, abs(pool_min)):
                # A pool plan costs the order's optimum alone even at these prices: prices only
                # add cost, so nothing beats it and the search can be skipped.
                self.priced[o] = (prices, self.lb0[o], False)
                total += self.lb0[o]
                self.stats["pricing_skipped"] = self.stats.get("pricing_skipped", 0) + 1
                continue
            if not prices.any():
                total += self._settle(o, prices, self.chosen[o], self.lb0[o], pool_min)
            elif not self.router.holds(e):    # a SKU on two items, or no option: one by one
                seed = (pool_min, tuple(self.pools[o][best].options.tolist()))
                sol, bound = price_order(e.priced(self.lam, self.layout), e.params, seed)
                col = e.column(sol, self.layout) if np.isfinite(sol.objective) and len(sol.options) \
                    else e.empty_column()
                total += self._settle(o, prices, col, min(e.empty_column().cost, bound), pool_min)
            else:
                queued.append(o)
                seeds.append(pool_min)
                pool_best[o] = (pool_min, best)
        if queued:
            answers = self.router.pricer().price(self.router.store.position[queued], self.lam,
                                                 np.array(seeds), self.params.pricing.pricing_max_sets,
                                                 deadline)
            if answers is None:
                return self.added, None
            for r, o in enumerate(queued):
                total += self._settle_priced(o, answers, r, pool_best[o])
        return self.added, total

    def _settle_priced(self, o: int, answers: Priced, r: int, pool_best: tuple[float, int]) -> float:
        """Record the kernel's answer for order `o` (row r); returns its Lagrangian value."""
        e = self.entries[o]
        empty = e.empty_column()
        value = min(empty.cost, float(answers.bound[r]))
        col = self.router.column(e, answers, r)
        if col is None:   # nothing beat the pool's best plan, or shipping nothing is best
            col = self.pools[o][pool_best[1]] if answers.best[r] >= pool_best[0] else empty
        return self._settle(o, self.lam[e.reach], col, value, pool_best[0])

    def _settle(self, o: int, prices: np.ndarray, col: Column, value: float, pool_min: float) -> float:
        """Order `o` priced at `prices`: its value (the exact priced optimum or a bound on it), its
        best plan `col`; the plan joins the pool when it beats the pool's best (`pool_min`)."""
        col_priced = col.cost + float(self.lam[col.res] @ col.use)
        capped = value < col_priced - 1e-9 * max(1.0, abs(value))
        if capped:
            self.capped_now[o] = value
        self.priced[o] = (prices, value, capped)
        reduced = col_priced - pool_min
        if (reduced < -1e-7 * max(1.0, abs(col.cost))
                and not any(same_column(col, c) for c in self.pools[o])):
            self.pools[o].append(col)
            self.added += 1
        return value


def _aligned(lam: np.ndarray, old_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Prices of `old_rows` carried over to `rows` (a superset); new rows start at 0."""
    out = np.zeros(len(rows))
    if len(old_rows):
        out[np.searchsorted(rows, old_rows)] = lam
    return out


def same_column(a: Column, b: Column) -> bool:
    """Whether two columns are the same plan (same resources, uses and cost)."""
    return (len(a.res) == len(b.res) and np.array_equal(a.res, b.res) and np.array_equal(a.use, b.use)
            and abs(a.cost - b.cost) <= 1e-9 * max(1.0, abs(a.cost)))
