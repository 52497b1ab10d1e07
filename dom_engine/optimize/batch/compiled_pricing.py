"""Pricing many orders of a wave in one compiled call, without the GIL.

Column generation re-prices thousands of orders a round. One by one from Python each cost
~0.1 ms of overhead (the priced Problem, the search's wrapper, the column) around ~40 us of
compiled search. Here the wave's priceable orders live in flat arrays (`PricingStore`, built once),
and `_price_orders` takes a list of them with the dual prices, raises each option's costs by the
prices of the stock, shipment and units it uses (columns.Entry.priced), runs the compiled set
search (compiled_search._search) with the pool's best plan as incumbent, and returns each order's
status, best priced objective, lower bound, best set and its allocation. It releases the GIL, so
threads run it on every core (executors.py), and a process or a Ray actor holding a
PricingStore of its own runs it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np

from ..compiled_allocation import best_allocation
from ..compiled_search import _search, load_noting_compilation, warm_up
from .columns import Entry, Layout


@dataclass
class PricingStore:
    """The wave's priceable orders (no SKU on two items, at least one option) as flat arrays.
    Order k of the store is entry `entry[k]`; its options are opt_start[k]..opt_start[k+1], items
    item_start[k]..item_start[k+1], lines line_start[k]..line_start[k+1]; its A and C start at
    cell_start[k] (options x items, row-major), its per_item at map_start[k] (lines x items)."""

    entry: np.ndarray
    position: np.ndarray       # (entries,) store index of each entry, -1 when not priceable here
    opt_start: np.ndarray
    item_start: np.ndarray
    line_start: np.ndarray
    map_start: np.ndarray
    cell_start: np.ndarray
    A: np.ndarray
    C: np.ndarray
    f: np.ndarray
    node: np.ndarray
    Q: np.ndarray
    P: np.ndarray
    item_units: np.ndarray
    gline: np.ndarray
    per_item: np.ndarray
    P0: np.ndarray
    split_credit: np.ndarray
    allow_backorder: np.ndarray
    max_shipments: np.ndarray
    n_skus: int
    ship_base: int
    unit_base: int
    _widths: tuple[int, int] | None = None

    @classmethod
    def of(cls, entries: Sequence[Entry], layout: Layout) -> PricingStore:
        keep = [e for e in entries if e.p.n_options and not e.p.shared_skus]
        position = np.full(len(entries), -1, dtype=np.int64)
        position[[e.index for e in keep]] = np.arange(len(keep))

        def starts(sizes: list[int]) -> np.ndarray:
            return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)

        def flat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return cls(
            entry=np.array([e.index for e in keep], dtype=np.int64), position=position,
            opt_start=starts([e.p.n_options for e in keep]), item_start=starts([e.p.n_items for e in keep]),
            line_start=starts([len(e.gline) for e in keep]),
            map_start=starts([e.per_item.size for e in keep]),
            cell_start=starts([e.p.A.size for e in keep]),
            A=flat([e.p.A.ravel() for e in keep], np.int64),
            C=flat([e.p.C.ravel() for e in keep], np.float64),
            f=flat([e.p.f for e in keep], np.float64), node=flat([e.p.opt_node for e in keep], np.int64),
            Q=flat([e.p.Q for e in keep], np.int64), P=flat([e.p.P for e in keep], np.float64),
            item_units=flat([e.item_units for e in keep], np.float64),
            gline=flat([e.gline for e in keep], np.int64),
            per_item=flat([e.per_item.ravel() for e in keep], np.float64),
            P0=np.array([e.p.P0 for e in keep], dtype=np.float64),
            split_credit=np.array([e.p.split_credit for e in keep], dtype=np.float64),
            allow_backorder=np.array([e.p.allow_backorder for e in keep], dtype=np.bool_),
            max_shipments=np.array([e.p.max_shipments for e in keep], dtype=np.int64),
            n_skus=layout.n_skus, ship_base=layout.ship_base, unit_base=layout.unit_base)

    def widths(self) -> tuple[int, int]:
        """(most shipments, most items) of any stored order: the outputs' padding."""
        if self._widths is None:
            most_items = int(np.diff(self.item_start).max(initial=1))
            self._widths = (int(self.max_shipments.max(initial=1)), max(most_items, 1))
        return self._widths


@dataclass
class Priced:
    """`price`'s answer for the orders `todo` (store indices), row by row: the search's status
    (compiled_search.PROVEN / GAVE_UP), the best priced objective found (the incumbent when
    nothing beat it: then `options` is all -1), a lower bound on the priced optimum, the best
    set's options (-1 padded), its allocation x (padded) and units left unfilled; with `keep`,
    the costs (inf padded) and options (-1 padded) of the cheapest sets the search evaluated."""

    todo: np.ndarray
    status: np.ndarray
    best: np.ndarray
    bound: np.ndarray
    options: np.ndarray
    x: np.ndarray
    short: np.ndarray
    kept_cost: np.ndarray
    kept_sets: np.ndarray


NO_LEFT = np.zeros(0)


def price(store: PricingStore, todo: np.ndarray, lam: np.ndarray, incumbent: np.ndarray, max_sets: int,
          left: np.ndarray = NO_LEFT, keep: int = 0) -> Priced:
    """Price the stored orders `todo` at resource prices `lam` (full layout), each searched
    against `incumbent` (a priced objective some plan attains) with at most `max_sets` sets per
    level (then the search's bound stands). With `left` (full layout), each option ships at most
    the stock, shipments and units left at its node, as rounding.restricted_problem caps them.
    `keep` cheapest sets are reported too. Runs without the GIL."""
    width, items = store.widths()
    n = len(todo)
    out = Priced(todo, np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n),
                 np.full((n, width), -1, dtype=np.int64), np.zeros((n, width, items), dtype=np.int64),
                 np.zeros((n, items), dtype=np.int64), np.full((n, keep), np.inf),
                 np.full((n, keep, width), -1, dtype=np.int64))
    _price_orders(todo, lam, incumbent, max_sets, left, keep,
                  (store.opt_start, store.item_start, store.line_start, store.map_start, store.cell_start),
                  store.A, store.C, store.f, store.node, store.Q, store.P, store.item_units, store.gline,
                  store.per_item, store.P0, store.split_credit, store.allow_backorder, store.max_shipments,
                  (store.n_skus, store.ship_base, store.unit_base),
                  out.status, out.best, out.bound, out.options, out.x, out.short, out.kept_cost,
                  out.kept_sets)
    return out


@nb.njit(cache=True, nogil=True)
def _price_orders(todo, lam, incumbent, max_sets, left, keep, starts, A_flat, C_flat, f_flat, node_flat,
                  Q_flat, P_flat, units_flat, gline_flat, map_flat, P0, split_credit, allow_backorder,
                  max_shipments, layout, out_status, out_best, out_bound, out_options, out_x, out_short,
                  out_kept_cost, out_kept_sets):
    """See `price`. Orders are independent: outputs row r belong to todo[r]."""
    opt_start, item_start, line_start, map_start, cell_start = starts
    for r in range(len(todo)):
        k = todo[r]
        o0, o1 = opt_start[k], opt_start[k + 1]
        i0, i1 = item_start[k], item_start[k + 1]
        n_opt, n_it, n_lines = o1 - o0, i1 - i0, line_start[k + 1] - line_start[k]
        c0 = cell_start[k]
        per_item = map_flat[map_start[k]:map_start[k + 1]].reshape((n_lines, n_it))
        gline = gline_flat[line_start[k]:line_start[k + 1]]
        cells = slice(c0, c0 + n_opt * n_it)
        A, C, f, node, index = _priced_options(
            A_flat[cells].reshape((n_opt, n_it)), C_flat[cells].reshape((n_opt, n_it)), f_flat[o0:o1],
            node_flat[o0:o1], units_flat[i0:i1], per_item, gline, lam, left, layout)
        Q = Q_flat[i0:i1]
        P = P_flat[i0:i1]
        status, best, best_set, bound, kept_cost, kept_sets = _search(
            A, C, f, split_credit[k], Q, P, P0[k], allow_backorder[k], max_shipments[k], node, incumbent[r],
            max_sets, keep)
        out_status[r] = status
        out_best[r] = best
        out_bound[r] = bound
        if len(best_set):
            x, short, _ = best_allocation(best_set, A, C, f, split_credit[k], Q, P, P0[k], allow_backorder[k])
            for j in range(len(best_set)):
                out_options[r, j] = index[best_set[j]]
                for i in range(n_it):
                    out_x[r, j, i] = x[j, i]
            for i in range(n_it):
                out_short[r, i] = short[i]
        for t in range(keep):
            out_kept_cost[r, t] = kept_cost[t]
            for j in range(kept_sets.shape[1]):
                if kept_sets[t, j] >= 0:
                    out_kept_sets[r, t, j] = index[kept_sets[t, j]]


@nb.njit(cache=True)
def _priced_options(A0, C0, f0, node0, item_units, per_item, gline, lam, left, layout):
    """One order's options with costs raised by `lam` and, when `left` is given, availability
    capped by what is left (rounding.restricted_problem); options that can ship nothing dropped.
    Returns (A, C, f, node, their indices in the order's options)."""
    n_skus, ship_base, unit_base = layout
    n_opt, n_it = A0.shape
    n_lines = len(gline)
    capped = len(left) > 0
    A = np.empty((n_opt, n_it), dtype=np.int64)
    C = np.empty((n_opt, n_it))
    f = np.empty(n_opt)
    node = np.empty(n_opt, dtype=np.int64)
    index = np.empty(n_opt, dtype=np.int64)
    n = 0
    for o in range(n_opt):
        nd = node0[o]
        if capped and left[ship_base + nd] < 1 - 1e-9:
            continue
        ships = False
        for i in range(n_it):
            a = A0[o, i]
            if capped:
                units_left = max(left[unit_base + nd], 0.0)
                a = min(a, np.floor(units_left / max(item_units[i], 1.0) + 1e-9))
                for ln in range(n_lines):
                    if per_item[ln, i] > 0:
                        a = min(a, np.floor(max(left[nd * n_skus + gline[ln]], 0.0) / per_item[ln, i] + 1e-9))
            A[n, i] = a
            if a > 0:
                ships = True
        if not ships:
            continue
        f[n] = f0[o] + lam[ship_base + nd]
        unit_price = lam[unit_base + nd]
        for i in range(n_it):
            extra = unit_price * item_units[i]
            for ln in range(n_lines):
                extra += lam[nd * n_skus + gline[ln]] * per_item[ln, i]
            C[n, i] = C0[o, i] + extra
        node[n] = nd
        index[n] = o
        n += 1
    return A[:n].copy(), C[:n].copy(), f[:n].copy(), node[:n].copy(), index[:n].copy()


_loaded = False


def warm_up_batch() -> None:
    """compiled_search.warm_up and this module's kernel (compiled once per installation, ~15 s;
    then loaded from numba's cache): solve_batch and Engine.warm_up call it before a budget starts."""
    global _loaded
    warm_up()    # a no-op once loaded
    if _loaded:
        return
    load_noting_compilation("the batch pricing kernel", "5-15 s", load_kernel)
    _loaded = True


def load_kernel() -> None:
    """Compile (or load from numba's cache) `_price_orders` through `price`, so with its argument
    types: one order of one option and one item."""
    ints = np.array([0, 1], dtype=np.int64)
    one_int, one, zero_int = np.ones(1, dtype=np.int64), np.ones(1), np.zeros(1, dtype=np.int64)
    store = PricingStore(
        entry=zero_int, position=zero_int, opt_start=ints, item_start=ints, line_start=ints, map_start=ints,
        cell_start=ints, A=one_int, C=one, f=one, node=zero_int, Q=one_int, P=one, item_units=one,
        gline=zero_int, per_item=one, P0=one, split_credit=np.zeros(1),
        allow_backorder=np.ones(1, dtype=np.bool_), max_shipments=one_int, n_skus=1, ship_base=1, unit_base=2)
    price(store, zero_int, np.zeros(3), np.full(1, np.inf), 10)
