"""A wave's orders solved by the compiled kernel (compiled_pricing.py): each alone on the full
stock, at dual prices, or on what is left, without a Python call per order's search.

Orders the kernel does not hold (a SKU on two items, no option) and searches that give up at
their effort cap come back as None: the callers take the one-order paths (columns.solve_exact,
rounding.route_on's restricted problem) for those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...domain.stop import StoppingCriterion
from ..compiled_search import GAVE_UP, PROVEN
from ..solution import Solution
from .columns import Column, Entry, Layout
from .compiled_pricing import Priced, PricingStore, price
from .executors import ExecutorSpec, Pricer, make_pricer


@dataclass
class Alone:
    """One order's optimum alone: its plan, a lower bound, the next cheapest option sets the
    search saw, and its regret (how much dearer the next of those, or shipping nothing, is)."""

    column: Column
    bound: float
    starts: list[tuple[int, ...]]
    regret: float


class WaveRouter:
    """The kernel's store of a wave's orders and the executor that runs it (started on first use)."""

    def __init__(self, entries: Sequence[Entry], layout: Layout, executor: ExecutorSpec | None = None
                 ) -> None:
        self.entries, self.layout = entries, layout
        self.store = PricingStore.of(entries, layout)
        self.no_prices = np.zeros(layout.size)
        self.executor = executor or ExecutorSpec()
        self._pricer: Pricer | None = None

    def holds(self, e: Entry) -> bool:
        return bool(self.store.position[e.index] >= 0)

    def pricer(self) -> Pricer:
        if self._pricer is None:
            spec = self.executor
            self._pricer = make_pricer(self.store, spec.kind, spec.workers, spec.address)
        return self._pricer

    def close(self) -> None:
        """Stop the executor's threads or actors."""
        if self._pricer is not None:
            self._pricer.close()
            self._pricer = None

    def column(self, e: Entry, got: Priced, r: int) -> Column | None:
        """The column of row r's best set (at true cost), None when the search found no set."""
        options = got.options[r]
        m = int((options >= 0).sum())
        if not m:
            return None
        n_it = e.p.n_items
        sol = Solution(options[:m].copy(), got.x[r, :m, :n_it].copy(), got.short[r, :n_it].copy(),
                       float(got.best[r]), float(got.bound[r]), bool(got.status[r] == PROVEN),
                       "compiled-pricing")
        return e.column(sol, self.layout)

    def alone(self, orders: Sequence[int], deadline: StoppingCriterion, max_sets: int, keep: int,
              start_columns: int) -> dict[int, Alone] | None:
        """Each held order of `orders` alone on the full stock (None when the deadline came
        first); an order missing from the answer needs the one-order path."""
        held = [o for o in orders if self.holds(self.entries[o])]
        got = self.pricer().price(self.store.position[held], self.no_prices, np.full(len(held), np.inf),
                                  max_sets, deadline, keep=keep)
        if got is None:
            return None
        out = {}
        # Plain lists: reading numpy scalars one by one costs more than the search did.
        status, options = got.status.tolist(), got.options.tolist()
        kept_cost, kept_sets = got.kept_cost.tolist(), got.kept_sets.tolist()
        for r, o in enumerate(held):
            if status[r] == GAVE_UP:
                continue
            e = self.entries[o]
            empty = e.empty_column()
            col = self.column(e, got, r) or empty
            if empty.cost < col.cost:
                col = empty
            best = tuple(x for x in options[r] if x >= 0)
            others = [(c, t) for c, row in zip(kept_cost[r], kept_sets[r], strict=True) if c < np.inf
                      for t in [tuple(x for x in row if x >= 0)] if t and t != best]
            runner = min([empty.cost] + [c for c, _ in others[:1]])
            out[o] = Alone(col, min(float(got.bound[r]), empty.cost), [t for _, t in others[:start_columns]],
                           max(0.0, runner - col.cost))
        return out

    def route_on(self, e: Entry, left: np.ndarray) -> Column | None:
        """The order's best plan on `left` (or the empty column when cheaper); None when the
        kernel does not hold the order or its search gave up."""
        if not self.holds(e):
            return None
        got = price(self.store, self.store.position[e.index:e.index + 1], self.no_prices, np.full(1, np.inf),
                    e.params.pricing.compiled_max_sets, left)
        return None if got.status[0] == GAVE_UP else self._routed(e, got, 0)

    def route_all_on(self, orders: Sequence[int], left: np.ndarray, deadline: StoppingCriterion
                     ) -> dict[int, Column] | None:
        """`route_on` for many orders against the same `left` (on the executor)."""
        held = [o for o in orders if self.holds(self.entries[o])]
        got = self.pricer().price(self.store.position[held], self.no_prices, np.full(len(held), np.inf),
                                  self.entries[held[0]].params.pricing.compiled_max_sets if held else 0,
                                  deadline, left)
        if got is None:
            return None
        return {o: self._routed(self.entries[o], got, r)
                for r, o in enumerate(held) if got.status[r] != GAVE_UP}

    def _routed(self, e: Entry, got: Priced, r: int) -> Column:
        """Row r's plan, or the empty column when that is no dearer (rounding.route_on's rule)."""
        empty = e.empty_column()
        col = self.column(e, got, r)
        return empty if col is None or empty.cost <= col.cost else col
