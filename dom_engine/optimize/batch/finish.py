"""Turning the column generation's state into one plan per order, within the budget.

Greedy rounding guided by the dual's averaged solution (with exact re-routing where the leaning
plan no longer fits), then, until the deadline, the restricted-master MIP in a thread (CP-SAT
releases the GIL, so it has the other core) alongside local search and shuffled sequential rounds
in this one; the cheaper outcome wins.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from ...domain.stop import Deadline
from .column_generation import ColumnGeneration
from .columns import Column
from .rounding import greedy_fill, reoptimize, restricted_master_mip, take

# Share of the time left the restricted-master MIP may use; local search on its plans gets the rest.
MIP_SHARE = 0.85
# Seconds to build the restricted-master MIP per order in it (measured ~1 ms on the 10k wave).
MIP_BUILD_SECONDS_PER_ORDER = 1e-3


def _neighbourhood(cg: ColumnGeneration, fractional: list[int], chosen: list[Column]) -> list[int]:
    """Every active order when there are at most mip_max_orders; else the fractional orders (the
    dearest first) plus the active orders whose plans use a contested resource that some
    fractional order's columns could use, mip_max_orders in all."""
    mip_max_orders = cg.params.rounding.mip_max_orders
    in_rows = np.zeros(cg.layout.size, dtype=bool)
    in_rows[cg.rows] = True
    if len(cg.active) <= mip_max_orders:
        return list(cg.active)
    group = sorted(fractional, key=lambda o: chosen[o].cost, reverse=True)[:mip_max_orders]
    members = set(group)
    wanted = np.zeros(cg.layout.size, dtype=bool)
    for o in group:
        for c in cg.pools[o]:
            wanted[c.res[in_rows[c.res]]] = True
    for o in cg.active:
        if len(group) >= mip_max_orders:
            break
        if o not in members and wanted[chosen[o].res].any():
            group.append(o)
    return group


def finish(cg: ColumnGeneration, deadline: Deadline, priority: np.ndarray) -> list[Column]:
    """Plans for every order from the last dual solution (see rounding.py); then, until the
    deadline, the restricted-master MIP in a thread alongside local search and shuffled rounds of
    sequential routing here; the cheaper outcome wins."""
    chosen = list(cg.chosen)
    active = cg.active
    # LP weight of every column (0 for columns the last dual solution did not see).
    weights = {o: np.zeros(len(cg.pools[o])) for o in active}
    if cg.master is not None:
        k = 0
        for o, size in cg.master_layout:
            weights[o][:size] = cg.master.xbar[k:k + size]
            k += size
    whole = [o for o in active if weights[o].max(initial=0.0) >= cg.params.rounding.whole_share]
    fractional = [o for o in active if weights[o].max(initial=0.0) < cg.params.rounding.whole_share]
    # Priority first; then the orders the LP is surest of; then those with most to lose (regret:
    # how much dearer their next plan is), so that the inflexible ones are served first.
    fractional.sort(key=lambda o: (-priority[o], -weights[o].max(initial=0.0), -_regret(cg.pools[o])))
    cg.stats["fractional_orders"] = len(fractional)
    left = cg.cap - cg.free_usage
    t0 = time.perf_counter()
    picks = greedy_fill(whole + fractional, cg.pools, weights, left, cg.entries, cg.layout, deadline,
                        cg.lb0, cg.router)
    for o, c in picks.items():
        chosen[o] = c
    cg.stats["greedy_objective"] = sum(c.cost for c in chosen)
    cg.stats["greedy_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    group = _neighbourhood(cg, fractional, chosen)
    cg.stats["mip_orders"] = len(group)
    # The restricted-master MIP runs in a thread (CP-SAT releases the GIL, so it has the other
    # core) over the pools as they are now, while local search and shuffled sequential rounds run
    # here; the cheaper of the two outcomes is kept.
    now = time.perf_counter()
    mip_deadline = deadline.until(now + MIP_SHARE * max(deadline.end - now, 0.0))
    mip = _MipThread(cg, chosen, group, left, mip_deadline)
    cg.stats["local_moves"] = reoptimize(cg.entries, chosen, _movable(cg, chosen, priority), left, cg.layout,
                                         deadline, cg.router)
    cg.stats["enrich_rounds"] = _enrich(cg, chosen, priority, deadline)
    cg.stats["local_objective"] = sum(c.cost for c in chosen)
    found = mip.wait()
    cg.stats["mip_s"] = time.perf_counter() - t0
    cg.stats["mip_objective"] = -1.0 if found is None else sum(c.cost for c in found)
    if found is not None and sum(c.cost for c in found) < sum(c.cost for c in chosen):
        chosen = list(found)
        # The MIP chose among generated plans only: re-routing single orders on what the others
        # leave can find plans outside them.
        left = cg.cap - cg.free_usage
        for o in active:
            take(chosen[o], left)
        cg.stats["local_moves_after_mip"] = reoptimize(cg.entries, chosen, _movable(cg, chosen, priority),
                                                       left, cg.layout, deadline, cg.router)
    return chosen


def _movable(cg: ColumnGeneration, chosen: list[Column], priority: np.ndarray) -> list[int]:
    """Local search's orders: active ones whose plan is not their independent optimum, priority first."""
    return sorted((o for o in cg.active if chosen[o].cost > cg.lb0[o] + 1e-9), key=lambda o: -priority[o])


class _MipThread:
    """The restricted-master MIP over `group`'s current pools, from `chosen`, until `deadline`, in
    a thread. `wait()` gives the full plan list it found (None when it found nothing better)."""

    def __init__(self, cg: ColumnGeneration, chosen: list[Column], group: list[int], left: np.ndarray,
                 deadline: Deadline) -> None:
        self.base = list(chosen)
        self.group = list(group)
        self.pools = {o: list(cg.pools[o]) for o in group}
        self.spare = left.copy()
        for o in group:
            take(chosen[o], self.spare, -1.0)
        self.result: list[Column] | None = None
        self.relative_gap = cg.params.rounding.mip_relative_gap
        # Building the model (Python, ~1 ms per order, not interruptible) must leave it time to search.
        room = len(group) * MIP_BUILD_SECONDS_PER_ORDER < 0.5 * deadline.remaining_s()
        open_gap = sum(c.cost for c in chosen) > cg.bound * (1 + cg.params.columns.tolerance)
        worth_it = group and room and open_gap
        self.thread = threading.Thread(target=self._run, args=(deadline,), daemon=True) if worth_it else None
        if self.thread is not None:
            self.thread.start()

    def _run(self, deadline: Deadline) -> None:
        better = restricted_master_mip(self.group, self.pools, self.spare,
                                       {o: self.base[o] for o in self.group}, deadline,
                                       self.relative_gap)
        if better is not None:
            plans = list(self.base)
            for o, c in better.items():
                plans[o] = c
            self.result = plans

    def wait(self) -> list[Column] | None:
        if self.thread is not None:
            self.thread.join()
        return self.result


def _regret(pool: list[Column]) -> float:
    costs = sorted(c.cost for c in pool)
    return costs[1] - costs[0] if len(costs) > 1 else 0.0


def _enrich(cg: ColumnGeneration, chosen: list[Column], priority: np.ndarray, deadline: Deadline) -> int:
    """While time is left (and the gap is open): route the active orders one by one on what the
    others leave, in a shuffled order within each priority level; keep the result when cheaper.
    Returns the rounds run."""
    rng = np.random.default_rng(cg.params.rounding.seed)
    rounds = 0
    no_weights = {o: np.zeros(len(cg.pools[o])) for o in cg.active}
    last = 0.0   # the last round's duration: a round that would end past the deadline is not begun
    while (last < deadline.remaining_s()
           and sum(c.cost for c in chosen) > cg.bound * (1 + cg.params.columns.tolerance)):
        started = time.perf_counter()
        rounds += 1
        sequence = sorted(rng.permutation(cg.active).tolist(), key=lambda o: -priority[o])
        for o in cg.active:
            no_weights[o] = np.zeros(len(cg.pools[o]))
        left = cg.cap - cg.free_usage
        picks = greedy_fill(sequence, cg.pools, no_weights, left, cg.entries, cg.layout, deadline, cg.lb0,
                            cg.router)
        if sum(picks[o].cost for o in cg.active) < sum(chosen[o].cost for o in cg.active):
            for o in cg.active:
                chosen[o] = picks[o]
        last = time.perf_counter() - started
        if rounds >= cg.params.rounding.max_enrich_rounds:
            break
    return rounds
