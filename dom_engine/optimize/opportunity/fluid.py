"""The fluid LP of a forecast and its stock prices, by column generation.

Every prototype order of the forecast is expected `w` times over the horizon; a fraction of those
orders may use each of its plans, and the expected units all plans take from a node's SKU may not
exceed its stock. The LP over plans (Amil, Makhdoumi & Wei's "methods" LP) is at least as tight as
Jasin & Sinha's deterministic LP (it prices package costs of whole plans, not of fractional
items); its stock rows' duals are the opportunity cost of a unit.

Plans are generated, never enumerated: at the master's prices each prototype is routed by the
batch allocator's compiled pricing kernel (the single-order search with every option's unit costs
raised by the prices of the stock it takes) and a plan cheaper than the master's dual for it
joins. Each round also gives a Lagrangian lower bound, valid whenever the search stops:
    L(prices) = sum_o w_o * (cheapest plan of o at the prices) - prices . stock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from ...domain import Network, Order, PolicyProfile, PreconditionError, RateCard
from ...domain.batch import BatchSettings
from ...domain.opportunity import Forecast
from ...domain.stock import StockView
from ...domain.stop import Deadline
from ..batch.columns import Column, Entry, price_order
from ..batch.router import WaveRouter
from ..batch.wave import BatchProblem, prepare_batch
from ..params import SolverParams
from .master import FluidMaster

# Units a carrying node may ship of one prototype line: no cap (the stock rows bound the totals).
UNCAPPED = 1 << 40


@dataclass(frozen=True)
class FluidParams:
    """How far column generation goes: it stops when the master and the Lagrangian bound agree
    within `tolerance` (relative), after `max_rounds`, or at the stopping criterion."""

    tolerance: float = 1e-6
    max_rounds: int = 500


@dataclass
class FluidResult:
    """`prices` (nodes x the view's SKUs) per unit; `objective` the restricted master's cost of
    the forecast (the fluid LP's optimum when `converged`), `lower_bound` the best Lagrangian
    bound (always valid); the last round's plan shares per prototype are in `shares`."""

    prices: np.ndarray
    objective: float
    lower_bound: float
    converged: bool
    rounds: int
    columns: int
    seconds: float
    shares: list[list[tuple[float, Column]]]


def solve_fluid(forecast: Forecast, stock: StockView, network: Network, rate_card: RateCard,
                policy: PolicyProfile, now: datetime, stop: Deadline | None = None,
                params: FluidParams = FluidParams(), solver: SolverParams | None = None) -> FluidResult:
    """The fluid LP of `forecast` on `stock`, once (FluidModel, for re-solves on other stock)."""
    model = FluidModel(forecast, stock, network, rate_card, policy, now, solver)
    try:
        return model.solve(stock.atp, stop=stop, params=params)
    finally:
        model.close()


class FluidModel:
    """The fluid LP of `forecast`: prototypes routed as `policy` routes orders, every one allowed
    to leave units unfilled at the policy's penalties (so the LP is always feasible). A node may
    ship a prototype's SKU when `stock` holds some there; how much, only the stock rows say
    (expected totals, not one order, are what stock bounds). Re-solving on other stock or a scaled
    horizon changes the stock rows' bounds only, and starts from the plans and basis already found."""

    def __init__(self, forecast: Forecast, stock: StockView, network: Network, rate_card: RateCard,
                 policy: PolicyProfile, now: datetime, solver: SolverParams | None = None,
                 stop: Deadline | None = None) -> None:
        self.solver = solver or SolverParams()
        keep = np.flatnonzero(forecast.counts > 0)
        orders = [_backorderable(forecast.prototypes[k], k) for k in keep.tolist()]
        self.weights = forecast.counts[keep]
        self.prototypes = [forecast.prototypes[k] for k in keep.tolist()]
        self.skus = stock.skus
        # Shipments left today do not bound a horizon's demand; any stock makes a node a source.
        carried = replace(stock, capacity_left=None, atp=np.where(stock.atp > 0, UNCAPPED, 0))
        self.sources = stock.atp > 0
        batch = prepare_batch(BatchProblem(orders, carried, network, rate_card, [policy] * len(orders),
                                           BatchSettings(), now), stop, params=self.solver)
        if len(batch.entries) < len(orders):    # the stop came first: no LP over part of a forecast
            raise PreconditionError("opportunity.time_budget_s",
                                    f"building the fluid LP of {len(orders):,} prototypes did not fit in "
                                    f"the time budget ({len(batch.entries):,} built)")
        self.entries, self.layout = batch.entries, batch.layout
        self.cap = np.zeros(self.layout.ship_base)     # stock rows' bounds, set by solve
        self.master = FluidMaster(self.weights, self.cap)
        self.pools: list[list[Column]] = [[e.empty_column()] for e in self.entries]
        for k in range(len(self.entries)):
            self._add(k, self.pools[k][0])
        self.router = WaveRouter(self.entries, self.layout)

    def _add(self, k: int, col: Column) -> None:
        stock_rows = col.res < self.layout.ship_base   # shipments and units per day are no rows here
        self.master.add(k, col.cost, col.res[stock_rows], col.use[stock_rows])

    def covers(self, atp: np.ndarray) -> bool:
        """Whether every (node, SKU) holding stock in `atp` held some when the model was built (a
        re-solve cannot use new sources: then build a new model)."""
        return bool(atp.shape == self.sources.shape and not (atp > 0)[~self.sources].any())

    def solve(self, atp: np.ndarray, scale: float = 1.0, stop: Deadline | None = None,
              params: FluidParams = FluidParams()) -> FluidResult:
        """Prices on stock `atp` (nodes x the model's SKUs) for the forecast's counts x `scale`
        (e.g. the share of the horizon left). Scaling every count by a is the LP on stock / a,
        cost x a: the same prices."""
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be > 0, got {scale}")
        started = time.perf_counter()
        stop = stop or Deadline()
        self.cap[:] = np.clip(atp, 0, None).ravel() / scale
        self.master.set_caps(self.cap)
        lam = np.zeros(self.layout.size)
        objective, lower, rounds, converged = np.inf, -np.inf, 0, False
        while rounds < params.max_rounds and not stop.expired():
            solved = self.master.solve(stop.remaining_s(), columns_added=rounds > 0)
            if solved is None:
                break
            objective, duals, rows, prices = solved
            rounds += 1
            lam[:] = 0.0
            lam[rows] = prices
            got = _price_all(self.entries, self.pools, self.router, lam, duals, self.solver, stop)
            if got is None:
                break
            added, value = got
            lower = max(lower, float(self.weights @ value) - float(lam[rows] @ self.cap[rows]))
            for k in added:
                self._add(k, self.pools[k][-1])
            converged = objective - lower <= params.tolerance * max(1.0, abs(objective))
            if converged or not added:
                break
        return FluidResult(
            prices=lam[:self.layout.ship_base].reshape(self.layout.n_nodes, self.layout.n_skus).copy(),
            objective=objective * scale, lower_bound=lower * scale, converged=converged, rounds=rounds,
            columns=self.master.n_columns, seconds=time.perf_counter() - started,
            shares=_shares(self.master, self.pools, len(self.entries)) if np.isfinite(objective) else [])

    def close(self) -> None:
        """Stop the pricing threads."""
        self.router.close()

    def sku_flows(self) -> list[dict[str, np.ndarray]]:
        """Per prototype (of those with a count), per SKU: the share of its units each node ships
        in the last solution (length nodes + 1, the last: unfilled). What rounding policies round."""
        n = self.layout.n_nodes
        out: list[dict[str, np.ndarray]] = [{} for _ in self.entries]
        for k, used in enumerate(_shares(self.master, self.pools, len(self.entries))):
            e = self.entries[k]
            for share, col in used:
                lines = col.x @ e.per_item.T if len(col.options) else np.zeros((0, len(e.gline)))
                short = col.unfilled @ e.per_item.T
                for line, g in enumerate(e.gline.tolist()):
                    flow = out[k].setdefault(self.skus[g], np.zeros(n + 1))
                    np.add.at(flow, e.p.opt_node[col.options], share * lines[:, line])
                    flow[n] += share * short[line]
        for flows in out:
            for flow in flows.values():
                total = flow.sum()
                if total > 0:
                    flow /= total
        return out


def _backorderable(order: Order, k: int) -> Order:
    """The prototype as the fluid LP routes it: may ship nothing (at the policy's penalties), and
    with an id of its own (prototypes may repeat one another's ids)."""
    return replace(order, order_id=f"prototype-{k}", options=replace(order.options, allow_backorder=True))


def _price_all(entries: list[Entry], pools: list[list[Column]], router: WaveRouter, lam: np.ndarray,
               duals: np.ndarray, solver: SolverParams, stop: Deadline
               ) -> tuple[list[int], np.ndarray] | None:
    """Each prototype's cheapest plan at prices `lam`: those cheaper than the master's dual for
    it join its pool (returned: the prototypes that gained one), and each one's Lagrangian value
    (a lower bound on its priced optimum). None when the stopping criterion came first."""
    pool_min = np.array([min(c.cost + float(lam[c.res] @ c.use) for c in pool) for pool in pools])
    value = pool_min.copy()
    best: dict[int, Column] = {}
    held = [k for k, e in enumerate(entries) if router.holds(e)]
    if held:
        answers = router.pricer().price(router.store.position[held], lam, pool_min[held],
                                        solver.pricing.pricing_max_sets, stop)
        if answers is None:
            return None
        for r, k in enumerate(held):
            value[k] = min(value[k], float(answers.bound[r]))
            col = router.column(entries[k], answers, r)
            if col is not None:
                best[k] = col
    for k, e in enumerate(entries):
        if router.holds(e) or stop.expired():
            continue
        sol, bound = price_order(e.priced(lam, e.layout), solver, (float(pool_min[k]), ()))
        value[k] = min(value[k], bound)
        if np.isfinite(sol.objective) and len(sol.options):
            best[k] = e.column(sol, e.layout)
    added = []
    for k, col in best.items():
        priced = col.cost + float(lam[col.res] @ col.use)
        if priced < duals[k] - 1e-9 * max(1.0, abs(duals[k])) and priced < pool_min[k] - 1e-12:
            pools[k].append(col)
            added.append(k)
    return added, value


def _shares(master: FluidMaster, pools: list[list[Column]], n: int) -> list[list[tuple[float, Column]]]:
    """Per prototype, the plans the master's solution uses and their shares."""
    values = master.shares()
    out: list[list[tuple[float, Column]]] = [[] for _ in range(n)]
    seen = [0] * n
    for j, k in enumerate(master.owner):
        if values[j] > 1e-12:
            out[k].append((float(values[j]), pools[k][seen[k]]))
        seen[k] += 1
    return out
