"""Orders of a batch as pricing problems, and their plans as columns over shared resources.

Resources are numbered in one vector so that usage, capacities and dual prices are plain arrays:

    stock of SKU g at node n     n * K + g          (K = SKUs in the batch)
    shipments at node n          N * K + n
    units at node n              N * K + N + n

A *column* is one complete plan of one order: its objective (true costs, priority included) and
the resources it uses. Pricing an order under dual prices `lam` (per unit of each resource) is the
single-order routing problem with every option's costs raised by the prices of what it uses, so
the exact single-order search solves it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...domain.stop import Deadline
from ..compiled_search import allocation_of, plan_resources, search_compiled
from ..params import SolverParams
from ..problem import Problem
from ..search import fast_search
from ..single import solve
from ..solution import Solution, allocation_lower_bound


@dataclass(frozen=True)
class Layout:
    """How resources are numbered (see the module docstring)."""

    n_nodes: int
    n_skus: int

    @property
    def ship_base(self) -> int:
        return self.n_nodes * self.n_skus

    @property
    def unit_base(self) -> int:
        return self.ship_base + self.n_nodes

    @property
    def size(self) -> int:
        return self.unit_base + self.n_nodes


@dataclass
class Column:
    """One plan of one order. `res` are resource ids (unique), `use` the amounts."""

    cost: float
    options: np.ndarray
    x: np.ndarray
    unfilled: np.ndarray
    res: np.ndarray
    use: np.ndarray


@dataclass
class Entry:
    """One order of the batch: its Problem (priority already in the penalties) and the maps
    from its items to resources."""

    index: int
    p: Problem
    gline: np.ndarray        # (L,) batch SKU column of each order line
    per_item: np.ndarray     # (L, I) units of line l in one unit of item i
    item_units: np.ndarray   # (I,) units in one unit of item i
    layout: Layout
    params: SolverParams     # how hard to search when this order is solved (alone or priced)
    _reach: np.ndarray | None = None
    _empty: tuple[Problem, Column] | None = None

    @classmethod
    def of(cls, index: int, p: Problem, gline: np.ndarray, layout: Layout, params: SolverParams) -> Entry:
        n_lines, n_items = len(p.order.lines), p.n_items
        per_item = np.zeros((n_lines, n_items))
        for i, members in enumerate(p.items):
            for j in (members if p.is_kit[i] else members[:1]):   # merged lines: one SKU, once
                per_item[j, i] = p.order.lines[j].quantity if p.is_kit[i] else 1.0
        return cls(index, p, gline, per_item, per_item.sum(axis=0), layout, params)

    @property
    def reach(self) -> np.ndarray:
        """Resource ids any option could use (sorted); computed for active orders only."""
        if self._reach is None:
            nodes = np.unique(self.p.opt_node)
            lay = self.layout
            stock_ids = (nodes[:, None] * lay.n_skus + self.gline[None, :]).ravel()
            self._reach = np.unique(np.concatenate([stock_ids, lay.ship_base + nodes, lay.unit_base + nodes]))
        return self._reach

    def empty_column(self) -> Column:
        """Ship nothing: every unit unfilled at its penalty (always fits; for an order that does
        not allow backorders it means "not allocated in this batch")."""
        p = self.p   # made once per problem (pricing asks every round; columns are never changed)
        if self._empty is None or self._empty[0] is not p:
            self._empty = (p, Column(float(p.P0 + (p.P * p.Q).sum()), np.zeros(0, dtype=np.int64),
                                     np.zeros((0, p.n_items), dtype=np.int64), p.Q.copy(),
                                     np.zeros(0, dtype=np.int64), np.zeros(0)))
        return self._empty[1]

    def column(self, sol: Solution, layout: Layout) -> Column:
        """The column of a solution of this order's (possibly priced) problem, at true cost."""
        p = self.p
        if len(sol.options) == 0:
            return self.empty_column()
        # int64 throughout: the kernel is compiled (and warmed up) for those types only.
        options, x, res, use, cost = plan_resources(
            sol.options.astype(np.int64), sol.x.astype(np.int64), sol.unfilled.astype(np.int64),
            p.opt_node, self.per_item, self.gline, layout.n_skus, layout.ship_base, layout.unit_base,
            p.f, p.C, p.P, float(p.P0), float(p.split_credit))
        return Column(float(cost), options, x, sol.unfilled.copy(), res, use)

    def columns_of_sets(self, sets: list[tuple[int, ...]], layout: Layout) -> list[Column]:
        """Columns of the given option sets (their best allocation); none that costs as much as
        shipping nothing (the empty column beats it outright)."""
        out = []
        limit = self.empty_column().cost
        for t in sets:
            if not t:
                continue
            options = np.array(t, dtype=np.int64)
            x, short, cost = allocation_of(self.p, options)
            if cost < limit:
                out.append(self.column(Solution(options, x, short, cost, cost, False, "start"), layout))
        return out

    def priced(self, lam: np.ndarray, layout: Layout) -> Problem:
        """This order's problem with each option's costs raised by the prices `lam` (one per
        resource) of the stock, shipment and units it would use."""
        p = self.p
        nodes = p.opt_node
        lam_stock = lam[nodes[:, None] * layout.n_skus + self.gline[None, :]]     # (O, L)
        dC = lam_stock @ self.per_item + lam[layout.unit_base + nodes][:, None] * self.item_units[None, :]
        return replace(p, C=p.C + dC, f=p.f + lam[layout.ship_base + nodes])


def solve_exact(p: Problem, params: SolverParams, candidates: list | None = None,
                incumbent: tuple[float, tuple[int, ...]] | None = None) -> tuple[Solution, float]:
    """Best plan of one order's (priced) problem and a lower bound on its optimum: exact for
    nearly every order (fast search); the rest get the router's bounded path. `candidates`
    receives the cheapest option sets the fast search evaluated; `incumbent` (objective, options)
    is a plan known to cost that much in `p` (see search.fast_search)."""
    if p.n_options == 0:
        empty = Solution(np.zeros(0, dtype=np.int64), np.zeros((0, p.n_items), dtype=np.int64), p.Q.copy(),
                         p.empty_plan_objective(), p.empty_plan_objective(), True, "empty")
        return empty, float(empty.objective)
    if not p.shared_skus:
        sol, _ = _compiled(p, params, incumbent, candidates)
        if sol is not None:
            return sol, float(sol.objective)
        sol = fast_search(p, params.search.fast_search_max_sets, want_alternative=False,
                          candidates=candidates,
                          incumbent=incumbent)
        if sol.proven_optimal:
            return sol, float(sol.objective)
    sol = solve(p, Deadline.after_ms(params.pricing.hard_order_budget_ms), params.search, explain=False)
    # When CP-SAT proved nothing in time, the one-shipment bound still holds: any plan pays at
    # least the cheapest shipment plus the cheapest allocation, or leaves everything unfilled.
    floor = min(float(p.f.min()) - p.split_credit + allocation_lower_bound(p), p.empty_plan_objective())
    return sol, float(min(max(sol.lower_bound, floor), sol.objective))


def price_order(p: Problem, params: SolverParams, incumbent: tuple[float, tuple[int, ...]]
                ) -> tuple[Solution, float]:
    """Pricing's solve of one order's priced problem: (best plan found, lower bound on the
    optimum). Exact unless the order needs more than pricing_max_sets sets per level (a few
    5-6 item orders with five shipments allowed: up to 0.1 s each, 60 % of a 10k pricing round);
    then the best plan the effort found and the compiled search's proven bound, which keeps the
    Lagrangian bound valid."""
    if p.n_options == 0 or p.shared_skus:
        return solve_exact(p, params, incumbent=incumbent)
    sol, bound = _compiled(p, params, incumbent, None, params.pricing.pricing_max_sets)
    if sol is None:   # with an effort limit the compiled search always answers; typed for the general case
        return solve_exact(p, params, incumbent=incumbent)
    return sol, bound


def _compiled(p: Problem, params: SolverParams, incumbent: tuple[float, tuple[int, ...]] | None,
              candidates: list | None,
              max_sets: int | None = None) -> tuple[Solution | None, float]:
    """The best plan of the compiled search (compiled_search.py) and its proven lower bound;
    (None, bound) when it gave up and `max_sets` is None (the caller falls back to an exact
    path). `candidates` receives the cheapest sets it evaluated."""
    keep = 0 if candidates is None else params.columns.candidates_kept
    proven, best, options, bound, cheapest = search_compiled(
        p, np.inf if incumbent is None else incumbent[0], keep,
        params.pricing.compiled_max_sets if max_sets is None else max_sets)
    if not proven and max_sets is None:
        return None, bound
    if candidates is not None:
        candidates.extend(cheapest)
    if not len(options) and incumbent is not None and incumbent[1] and best >= incumbent[0]:
        options = np.array(incumbent[1], dtype=np.int64)   # nothing beat the known plan
    if not len(options):
        return Solution(np.zeros(0, dtype=np.int64), np.zeros((0, p.n_items), dtype=np.int64), p.Q.copy(),
                        best, bound, proven, "compiled-search"), bound
    x, short, cost = allocation_of(p, options)
    return Solution(options, x, short, cost, bound, proven, "compiled-search"), bound
