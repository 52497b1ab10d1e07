"""Joint allocation of a batch: column generation over per-order plans, with an honest bound.

Why this formulation: per-shipment package costs make the plain LP over units weak (REFERENCES:
>= 1.9 % below the optimum on a 120-order wave). The LP over per-order *plans* (columns, Amil,
Makhdoumi & Wei 2025) is as strong as a Lagrangian relaxation with exact per-order subproblems,
and the exact single-order search is exactly that subproblem. So:

1. Every order alone on the full stock, exactly. Their sum is a lower bound; where no resource is
   over-subscribed it is also the optimum (most waves are mostly uncontested).
2. Only orders whose plans touch an over-subscribed resource enter the master LP ("active"); an
   order that needs none keeps its plan, which stays optimal for it under any prices of the
   contested resources. Each active order starts with its cheapest plans and its best plan
   avoiding every contested resource. Before each master solve, every resource that the plans in
   the pools could over-subscribe joins the master, with the orders whose plans use it.
3. Column generation: the master's duals (dual.py), averaged with the prices of the best bound
   so far (Wentges smoothing), price the contested resources, every active order is re-solved
   exactly at those prices (only when a price it could pay changed), and its plan joins
   the master when its reduced cost is negative. Each round gives a valid Lagrangian bound
       sum_o v_o(lam) - lam . cap
   (v_o: the order's exact priced optimum, or a proven lower bound on it), whatever the master did.
4. Rounding, restricted-master MIP and local search (rounding.py) turn the LP into plans.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ...domain.stop import Deadline
from .columns import START_COLUMNS, Column, Entry, Layout, price_order, solve_exact
from .dual import PoolDual
from .exact import EXACT_BUILD_SECONDS_PER_VAR, EXACT_FINISH_SHARE, EXACT_MAX_VARS, model_size, solve_joint
from .finish import CG_TOLERANCE, finish
from .rounding import fits, reoptimize, route_on, take

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]   # (phase, done, total)

# Share of the budget column generation may use; rounding and local search get the rest.
CG_SHARE = 0.6
# Rounding re-routes orders one by one: about this long per active order (measured 3e-5 s on
# the 10k wave with the compiled search; kept with a margin).
ROUND_SECONDS_PER_ORDER = 6e-5
OVER_EPS = 1e-6
# Time the first round of column generation leaves at least for rounding and local search.
FINISH_MIN_SECONDS = 1.0
FINISH_MIN_SHARE = 0.2
# Passes of "add the rows the pools could over-subscribe" per round (new rows activate orders,
# whose plans may reach further resources).
ROW_PASSES = 4
# Weight of the best bound's prices in the prices each round is priced at (Wentges smoothing),
# at the start. The first master's duals overshoot: on the 10k wave, pricing at half of them gave
# a bound below the start (130.7k vs 144.8k), at a fifth of them 148.1k (and 159.1k after 9 rounds).
SMOOTHING = 0.8
SMOOTHING_STEP = 0.1      # ... lowered after a round that raised the bound, raised after one that did not
SMOOTHING_MAX = 0.9


@dataclass
class Allocation:
    chosen: list[Column]           # per entry
    lower_bound: float
    objective: float
    order_bounds: np.ndarray       # per entry: its optimum alone on the full stock (a lower bound)
    stats: dict[str, float] = field(default_factory=dict)
    # Absolute: how far above the optimum a plan may be that the exact model proved optimal (its
    # costs are scaled to integers; exact.rounding_tolerance). 0 when it did not run.
    tolerance: float = 0.0


def usage_of(columns: Sequence[Column], size: int) -> np.ndarray:
    """Total use of every resource by `columns`."""
    out = np.zeros(size)
    if not columns:
        return out
    np.add.at(out, np.concatenate([c.res for c in columns]), np.concatenate([c.use for c in columns]))
    return out


def allocate(entries: Sequence[Entry], layout: Layout, cap: np.ndarray, deadline: Deadline | float,
             priority: np.ndarray, progress: Progress) -> Allocation:
    """Choose one column per entry within `cap` (per resource; inf = unlimited), minimising the
    total objective, by `deadline` (a Deadline, or a time.perf_counter() value). `priority` orders
    the rounding. A cancelled deadline ends every phase at its next look at the clock; the plans
    and bound so far are returned (orders not yet solved alone ship nothing, bound 0)."""
    if not isinstance(deadline, Deadline):
        deadline = Deadline(deadline)
    started = time.perf_counter()
    n = len(entries)
    stats: dict[str, float] = {"orders": n}
    chosen: list[Column] = [e.empty_column() for e in entries]       # each order alone
    sequential: list[Column] = list(chosen)                         # in turn, on what is left
    starts: list[list[tuple[int, ...]]] = [[] for _ in range(n)]   # other cheap option sets
    lb0 = np.zeros(n)
    left = cap.copy()
    rerouted = 0
    regret = np.zeros(n)
    # Each order's optimum alone: the bound, the start of column generation, and where the
    # orders collide. Then a feasible incumbent: in priority order, and within a level the orders
    # with most to lose first (regret: how much dearer their next plan is), each takes its plan
    # if it still fits, else it is re-routed on what is left. Never worse than routing one at a
    # time in the best of those orders.
    for k, e in enumerate(entries):
        if k % 500 == 0:
            progress("solve", k, n)
        if deadline.expired():
            break   # out of time: the rest ship nothing (feasible); their bound stays 0 (costs >= 0)
        chosen[k], lb0[k], starts[k], regret[k] = _best_alone(e, layout)
    for k in np.lexsort((-regret, -priority)).tolist():
        col = chosen[k]
        if len(col.res) and not fits(col, left):
            if deadline.expired():
                col = entries[k].empty_column()
            else:
                # route_on bounds each item by what is left, not items sharing a SKU or a node's
                # unit cap jointly: check, and ship nothing when its plan does not fit after all.
                rerouted += 1
                col = route_on(entries[k], left, layout)
                if not fits(col, left):
                    col = entries[k].empty_column()
        sequential[k] = col
        take(col, left)
    stats["independent_s"] = time.perf_counter() - started
    stats["sequential_rerouted"] = rerouted
    usage = usage_of(chosen, layout.size)
    over = np.flatnonzero(usage > cap + OVER_EPS)
    stats["contested_resources"] = len(over)
    stats["sequential_objective"] = float(sum(c.cost for c in sequential))
    if len(over) == 0:
        return Allocation(chosen, float(lb0.sum()), float(sum(c.cost for c in chosen)), lb0, stats)

    progress("solve", n, n)
    is_over = np.zeros(layout.size, dtype=bool)
    is_over[over] = True
    touching = sum(1 for c in chosen if is_over[c.res].any())
    if ROUND_SECONDS_PER_ORDER * touching >= deadline.remaining_s():
        # No time for column generation (not even to round once): improve the sequential plans
        # by re-routing single orders while time is left; the bound is the orders' optima alone.
        movable = [k for k in np.lexsort((-regret, -priority)).tolist()
                   if sequential[k].cost > lb0[k] + 1e-9]
        stats["local_moves"] = reoptimize(entries, sequential, movable, left, layout, deadline)
        stats["independent_bound"] = float(lb0.sum())
        return Allocation(sequential, float(lb0.sum()), float(sum(c.cost for c in sequential)), lb0, stats)
    t0 = time.perf_counter()
    cg = _ColumnGeneration(entries, layout, cap, chosen, lb0, starts, usage)
    cg.contest(over)
    stats["contest_s"] = time.perf_counter() - t0
    now = time.perf_counter()
    left_s = deadline.end - now
    # Rounding re-routes orders one by one: leave it the time to do so.
    reserve = ROUND_SECONDS_PER_ORDER * len(cg.active)
    cg_deadline = deadline.until(min(now + CG_SHARE * left_s, deadline.end - reserve))
    # The first round may run longer: only a complete pricing pass gives a bound (and its plans
    # guide rounding); on the 10k wave in 10 s it is the only round and ends just past CG_SHARE.
    first_deadline = deadline.until(max(cg_deadline.end, deadline.end - reserve
                                        - max(FINISH_MIN_SECONDS, FINISH_MIN_SHARE * left_s)))
    cg.run(cg_deadline, first_deadline)
    progress("improve", 0, 1)
    size = model_size(entries)
    exact = size <= EXACT_MAX_VARS and _joint_fits(size, deadline)
    now = time.perf_counter()
    # The exact joint model only improves on the rounding's plans: when it follows, it gets most of
    # the time left (it had what rounding's last phases left, 0.03-0.5 s of 2 s on 12-36 orders).
    finish_deadline = (deadline.until(max(now + EXACT_FINISH_SHARE * deadline.remaining_s(), now + reserve))
                       if exact else deadline)
    final = finish(cg, finish_deadline, priority)
    if sum(c.cost for c in sequential) < sum(c.cost for c in final):
        final = sequential
    bound, tolerance = cg.bound, 0.0
    if exact and _joint_fits(size, deadline):
        # Small enough to finish exactly: the joint model, from the rounding's plans.
        t0 = time.perf_counter()
        plans, exact_bound, tolerance = solve_joint(entries, layout, cap, final, deadline)
        if plans is not None and sum(c.cost for c in plans) < sum(c.cost for c in final):
            final = plans
        bound = max(bound, exact_bound)
        cg.stats["exact_s"] = time.perf_counter() - t0
        cg.stats["exact_tolerance"] = tolerance
    progress("improve", 1, 1)
    stats.update(cg.stats)
    stats["independent_bound"] = float(lb0.sum())
    stats["rounds"] = cg.rounds
    return Allocation(final, bound, float(sum(c.cost for c in final)), lb0, stats, tolerance)


def _joint_fits(size: int, deadline: Deadline) -> bool:
    """Whether building the joint model (Python, not interruptible: ~35 µs per variable) takes at
    most half the time left, so its search gets the other half. Measured on the 2,000-order wave
    with a 100 ms budget: ~125 orders reached, a 3k-variable model built in 110 ms past the end."""
    return size * EXACT_BUILD_SECONDS_PER_VAR <= 0.5 * deadline.remaining_s()


def _best_alone(e: Entry, layout: Layout) -> tuple[Column, float, list[tuple[int, ...]], float]:
    """The order's optimum on the full stock (or the empty column when cheaper), a bound, the
    next cheapest option sets its search saw (start columns, should the order become active),
    and its regret: how much dearer the next of those (or shipping nothing) is."""
    empty = e.empty_column()
    if e.p.n_options == 0:
        return empty, empty.cost, [], 0.0
    seen: list = []
    sol, bound = solve_exact(e.p, seen)
    col = e.column(sol, layout) if np.isfinite(sol.objective) else empty
    if empty.cost < col.cost:
        col = empty
    others = [(cost, opts) for cost, opts in seen if opts and tuple(opts) != tuple(sol.options)]
    runner = min([empty.cost] + [cost for cost, _ in others[:1]])
    sets = [opts for _, opts in others[:START_COLUMNS]]
    return col, min(bound, empty.cost), sets, max(0.0, runner - col.cost)


class _ColumnGeneration:
    """State of the column generation: active orders, their columns, contested rows, the bound."""

    def __init__(self, entries: Sequence[Entry], layout: Layout, cap: np.ndarray, chosen: list[Column],
                 lb0: np.ndarray, starts: list[list[tuple[int, ...]]], usage: np.ndarray) -> None:
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
        self.master = None
        self.dual_rows = np.zeros(0, dtype=np.int64)
        self.master_layout: list[tuple[int, int]] = []   # (order, its columns) as the master saw them
        self.rounds = 0
        self.stats: dict[str, float] = {}

    def contest(self, resources: np.ndarray) -> None:
        """Add capacity rows for `resources` and activate the free orders that use them."""
        self.rows = np.union1d(self.rows, resources)
        in_rows = np.zeros(self.layout.size, dtype=bool)
        in_rows[self.rows] = True
        # Each new order also gets its best plan that avoids every contested resource: with an
        # escape in its pool from the start, the master's first duals are the prices at which
        # orders would move, not arbitrary (on the 1k wave: 8 rounds to converge instead of 12).
        avoid = self.cap.copy()
        avoid[self.rows] = 0.0
        for k, col in enumerate(self.chosen):
            if not self.is_active[k] and in_rows[col.res].any():
                self.is_active[k] = True
                self.active.append(k)
                e = self.entries[k]
                pool = [col, e.empty_column(), *e.columns_of_sets(self.starts[k], self.layout)]
                escape = route_on(e, avoid, self.layout)
                if len(escape.res) and not any(_same(escape, c) for c in pool):
                    pool.append(escape)
                self.pools[k] = pool
                self.free_usage[col.res] -= col.use

    def run(self, last_deadline: Deadline, first_deadline: Deadline | None = None) -> None:
        """Rounds until convergence or `last_deadline`; the first round until `first_deadline`."""
        t_dual = t_price = 0.0
        lam_rows = np.zeros(0)
        alpha = SMOOTHING
        deadline = first_deadline if first_deadline is not None and first_deadline.end > last_deadline.end \
            else last_deadline
        while not deadline.expired():
            self.rounds += 1
            t0 = time.perf_counter()
            # Every resource the pools could over-subscribe gets its row before the master is
            # solved (rows added only after the master's solution over-used them cost a round
            # each time, and at 10k orders a thousand rows came in per round).
            for _ in range(ROW_PASSES):
                extra = self._reachable_over()
                if not len(extra):
                    break
                self.contest(extra)
            pools = [self.pools[o] for o in self.active]
            caps = self.cap[self.rows] - self.free_usage[self.rows]
            dual = PoolDual(pools, self.rows, caps)
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
            added, total = self._price(deadline)
            t_price += time.perf_counter() - t0
            deadline = last_deadline
            improved = total is not None and total > self.bound
            if improved:
                self.bound, self.center = total, self.lam.copy()
                self.center_capped = dict(self.capped_now)
            log.debug("round %d: prices at %.2f of the best bound's, master %.1f, priced %s, bound %.1f, "
                      "%d plans added, %d rows, %d dual steps", self.rounds, alpha, self.lp_value, total,
                      self.bound, added, len(self.rows), res.steps)
            if self.lp_value - self.bound <= CG_TOLERANCE * max(1.0, abs(self.lp_value)):
                break
            if not added:
                if alpha == 0.0:
                    break   # nothing improves at the master's own duals: the master LP is optimal
                alpha = 0.0  # a mis-price (the bound rose to the smoothed point): try the duals
                continue
            # Trust the master's duals more while they raise the bound, less when they do not.
            step = -SMOOTHING_STEP if improved else SMOOTHING_STEP
            alpha = min(max(round(alpha + step, 6), 0.0), SMOOTHING_MAX)
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
            _, exact = solve_exact(e.priced(self.center, self.layout))
            exact = min(exact, e.empty_column().cost)
            if exact > value:
                raised += exact - value
        self.bound += raised
        self.stats["bound_tightened"] = raised
        self.center_capped = {}

    def _reachable_over(self) -> np.ndarray:
        """Resources without a row that the pools could over-subscribe: the free orders' use plus
        each active order's largest use over its columns exceeds the capacity."""
        res_parts, use_parts, owner_parts = [], [], []
        for k, o in enumerate(self.active):
            for c in self.pools[o]:
                res_parts.append(c.res)
                use_parts.append(c.use)
                owner_parts.append(np.full(len(c.res), k, dtype=np.int64))
        if not res_parts:
            return np.zeros(0, dtype=np.int64)
        res, use, owner = np.concatenate(res_parts), np.concatenate(use_parts), np.concatenate(owner_parts)
        key = owner * self.layout.size + res
        order = np.lexsort((use, key))
        key, res, use = key[order], res[order], use[order]
        last = np.r_[key[1:] != key[:-1], True]          # the largest use of each (order, resource)
        most = self.free_usage.copy()
        np.add.at(most, res[last], use[last])
        over = most > self.cap + OVER_EPS
        over[self.rows] = False
        return np.flatnonzero(over)

    def _price(self, deadline: Deadline) -> tuple[int, float | None]:
        """Re-solve active orders at the current prices; add improving columns. Returns the number
        added and the Lagrangian bound (None when the deadline cut pricing short)."""
        added = 0
        free = ~self.is_active
        total = float(self.lb0[free].sum()) - float(self.lam[self.rows] @ self.cap[self.rows])
        self.capped_now = {}
        for o in self.active:
            if deadline.expired():
                return added, None
            e = self.entries[o]
            prices = self.lam[e.reach]
            cached = self.priced.get(o)
            if cached is not None and np.array_equal(cached[0], prices):
                total += cached[1]
                if cached[2]:
                    self.capped_now[o] = cached[1]
                continue
            empty = e.empty_column()
            value, col = empty.cost, empty
            # The pool's cheapest plan at these prices seeds the search: whatever cannot beat it
            # is pruned, and the search stays exact.
            priced_costs = [c.cost + float(self.lam[c.res] @ c.use) for c in self.pools[o]]
            best = int(np.argmin(priced_costs))
            pool_min = priced_costs[best]
            if pool_min <= self.lb0[o] + 1e-9 * max(1.0, abs(pool_min)):
                # A pool plan costs the order's optimum alone even at these prices: prices only
                # add cost, so nothing beats it and the search can be skipped.
                self.priced[o] = (prices, self.lb0[o], False)
                total += self.lb0[o]
                self.stats["pricing_skipped"] = self.stats.get("pricing_skipped", 0) + 1
                continue
            if prices.any():
                seed = (pool_min, tuple(self.pools[o][best].options.tolist()))
                sol, bound = price_order(e.priced(self.lam, self.layout), seed)
                value = min(value, bound)
                if np.isfinite(sol.objective) and len(sol.options):
                    col = e.column(sol, self.layout)
            else:
                col, value = self.chosen[o], self.lb0[o]
            col_priced = col.cost + float(self.lam[col.res] @ col.use)
            capped = value < col_priced - 1e-9 * max(1.0, abs(value))
            if capped:
                self.capped_now[o] = value
            self.priced[o] = (prices, value, capped)
            total += value
            reduced = col_priced - pool_min
            if reduced < -1e-7 * max(1.0, abs(col.cost)) and not any(_same(col, c) for c in self.pools[o]):
                self.pools[o].append(col)
                added += 1
        return added, total


def _aligned(lam: np.ndarray, old_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Prices of `old_rows` carried over to `rows` (a superset); new rows start at 0."""
    out = np.zeros(len(rows))
    if len(old_rows):
        out[np.searchsorted(rows, old_rows)] = lam
    return out


def _same(a: Column, b: Column) -> bool:
    return (len(a.res) == len(b.res) and np.array_equal(a.res, b.res) and np.array_equal(a.use, b.use)
            and abs(a.cost - b.cost) <= 1e-9 * max(1.0, abs(a.cost)))
