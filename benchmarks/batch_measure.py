"""What the batch benchmarks measure, shared by benchmarks/test_batch.py and `benchmarks.batch_report`.

On one scarce wave (benchmarks/batch_data.py), in the same run:

(a) sequential nearest-node routing (`optimize.baselines.route_nearest`), order by order in
    arrival order, each order seeing the stock and shipment capacity the earlier ones left;
(b) sequential per-order optimal routing (`optimize.route`), the same way;
(c) `route_batch` on the whole wave;
(d) route_batch's proven lower bound.

Costs are the batch objective: each plan's objective (money + unfilled penalties; the wave has no
priority tiers), and for an order that gets no plan (no-backorder and short) the charge the batch
makes for leaving it out, P0 + sum(P * Q). Every method's plans are checked against the stock and
the capacities (a correctness failure raises); timings are only reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from dom_engine.domain import Order, Plan, PolicyProfile
from dom_engine.domain.stock import StockView
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.baselines import route_nearest
from dom_engine.optimize.batch import BatchProblem, prepare_batch, solve_batch
from dom_engine.optimize.batch.compiled_pricing import warm_up_batch

from .batch_data import Wave, budget_ms, wave

SEQUENTIAL_BUDGET_MS = 50.0     # per order, the engine's default single-order budget


@dataclass
class Outcome:
    """One method on one wave."""

    method: str
    seconds: float
    cost: float
    units_shipped: int
    shipments: int
    orders_unallocated: int
    lower_bound: float | None = None
    status: str = ""
    stats: dict = field(default_factory=dict)


@lru_cache(maxsize=4)
def empty_costs(n_orders: int) -> np.ndarray:
    """Per order of wave(n_orders): the objective of shipping nothing (untimed)."""
    w = wave(n_orders)
    batch = prepare_batch(BatchProblem(w.orders, w.stock, w.network, w.rate_card, w.policies, w.settings,
                                       w.now))
    return np.array([e.empty_column().cost for e in batch.entries])


def check_feasible(w: Wave, plans: tuple[Plan, ...] | list[Plan], method: str) -> None:
    """Units per node and SKU within the wave's stock (after the policy's shelf buffer) and
    shipments per node within capacity, recomputed from the plans."""
    policy = w.policies[0]
    buffer = np.array([policy.min_stock_buffer.get(k, 0) for k in w.network.kinds])
    atp = (w.stock.atp - buffer[:, None]).clip(0)
    used = np.zeros_like(atp)
    ships = np.zeros(len(w.network), dtype=np.int64)
    col = {sku: j for j, sku in enumerate(w.stock.skus)}
    for plan, order in zip(plans, w.orders, strict=True):
        assert plan.order_id == order.order_id, method
        for s in plan.shipments:
            n = w.network.index_of(s.node_id)
            ships[n] += 1
            for sl in s.lines:
                used[n, col[sl.sku]] += sl.quantity
    assert (used <= atp).all(), f"{method}: plans over-ship stock at {int((used > atp).sum())} cells"
    assert (ships <= w.stock.capacity_left).all(), f"{method}: plans exceed node shipment capacity"


def _outcome(method: str, w: Wave, plans, seconds: float, **extra) -> Outcome:
    charge = empty_costs(len(w))
    cost = sum(p.objective if p.status.has_plan else float(charge[k]) for k, p in enumerate(plans))
    return Outcome(method, seconds, float(cost), sum(p.units_shipped for p in plans),
                   sum(len(p.shipments) for p in plans), sum(1 for p in plans if not p.shipments), **extra)


Rule = Callable[[Order, StockView, PolicyProfile], Plan]


def sequential(w: Wave, method: str) -> tuple[Outcome, list[Plan]]:
    """Route the wave order by order ("nearest" or "optimal"), decrementing stock and capacity."""
    if method == "nearest":
        def rule(order, view, policy):
            return route_nearest(order, view, w.network, w.rate_card, policy, w.now)
    elif method == "optimal":
        def rule(order, view, policy):
            return solve_order(OrderProblem(order, view, w.network, w.rate_card, policy, w.now),
                               Deadline.after_ms(SEQUENTIAL_BUDGET_MS))
    else:
        raise ValueError(method)
    col = {sku: j for j, sku in enumerate(w.stock.skus)}
    started = time.perf_counter()
    atp = w.stock.atp.copy()
    ships = w.stock.capacity_left.copy()
    network = w.network
    plans = []
    for order, policy in zip(w.orders, w.policies, strict=True):
        cols = sorted({col[line.sku] for line in order.lines})
        view = StockView(w.stock.version, tuple(w.stock.skus[j] for j in cols), atp[:, cols],
                         capacity_left=ships)
        plan = rule(order, view, policy)
        for s in plan.shipments:
            n = network.index_of(s.node_id)
            ships[n] -= 1
            for sl in s.lines:
                atp[n, col[sl.sku]] -= sl.quantity
        plans.append(plan)
    seconds = time.perf_counter() - started
    return _outcome(f"sequential-{method}", w, plans, seconds), plans


def batch(w: Wave) -> tuple[Outcome, list[Plan]]:
    """route_batch on the whole wave, within budget_ms(len(wave)). The compiled kernels are loaded
    first, as a server does before it listens (route_batch's own clock starts after them too)."""
    warm_up_batch()
    started = time.perf_counter()
    r = solve_batch(BatchProblem(w.orders, w.stock, w.network, w.rate_card, w.policies, w.settings, w.now),
                    Deadline.after_ms(budget_ms(len(w))))
    seconds = time.perf_counter() - started
    out = _outcome("route_batch", w, r.plans, seconds, lower_bound=r.lower_bound, status=r.status.name,
                   stats=dict(r.stats, objective=r.objective, gap=r.gap))
    # The wave's cost of the batch plans is the objective route_batch minimised, plus shipping
    # nothing for the orders its budget did not reach (the last ones; its objective and bound
    # cover the orders reached).
    unreached = int(r.stats.get("unreached", 0))
    expected = r.objective
    if unreached:
        expected += float(empty_costs(len(w))[len(w) - unreached:].sum())
    assert abs(out.cost - expected) <= 1e-6 * max(1.0, abs(expected)), (out.cost, expected)
    return out, list(r.plans)


@dataclass
class BatchRow:
    """The four figures of one wave, from one run."""

    n_orders: int
    units: int
    supply: int
    budget_ms: float
    nearest: Outcome | None
    optimal: Outcome | None
    batch: Outcome

    @property
    def bound(self) -> float:
        return float(self.batch.lower_bound)

    def saving(self, other: Outcome | None) -> float:
        """How much cheaper the batch is than `other` (share of other's cost)."""
        return float("nan") if other is None else 1.0 - self.batch.cost / other.cost

    def extra_info(self) -> dict:
        info = {"orders": self.n_orders, "units": self.units, "supply": self.supply,
                "batch_cost": self.batch.cost, "lower_bound": self.bound,
                "batch_over_bound": self.batch.cost / self.bound, "batch_seconds": self.batch.seconds,
                "batch_status": self.batch.status, "budget_ms": self.budget_ms,
                "batch_fill_rate": self.batch.units_shipped / self.units}
        for name, o in (("nearest", self.nearest), ("sequential_optimal", self.optimal)):
            if o is not None:
                info.update({f"{name}_cost": o.cost, f"{name}_seconds": o.seconds,
                             f"batch_saving_vs_{name}": self.saving(o),
                             f"{name}_fill_rate": o.units_shipped / self.units})
        return info


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}%"


def _cost(o: Outcome | None) -> str:
    return "—" if o is None else f"{o.cost:,.0f}"


def _secs(o: Outcome | None) -> str:
    return "—" if o is None else f"{o.seconds:.2f} s"


def cost_table(rows: list[BatchRow]) -> str:
    out = ["| orders | units (supply) | (a) nearest, sequential | (b) optimal, sequential | (c) route_batch "
           "| (d) lower bound | c / d | c cheaper than a | c cheaper than b | fill a · b · c "
           "| shipments/order a · b · c |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fills = " · ".join("—" if o is None else f"{100 * o.units_shipped / r.units:.1f}%"
                           for o in (r.nearest, r.optimal, r.batch))
        spo = " · ".join("—" if o is None else f"{o.shipments / r.n_orders:.2f}"
                         for o in (r.nearest, r.optimal, r.batch))
        out.append(f"| {r.n_orders:,} | {r.units:,} ({r.supply:,}) | {_cost(r.nearest)} | "
                   f"{_cost(r.optimal)} | {_cost(r.batch)} | {r.bound:,.0f} | {r.batch.cost / r.bound:.4f} | "
                   f"{_pct(r.saving(r.nearest))} | {_pct(r.saving(r.optimal))} | {fills} | {spo} |")
    return "\n".join(out)


def _unreached(stats: dict) -> str:
    n = int(stats.get("unreached", 0))
    return f" ({n:,} orders not reached in the budget: shipped nothing)" if n else ""


def time_table(rows: list[BatchRow]) -> str:
    out = ["| orders | (a) nearest, sequential | (b) optimal, sequential | (c) route_batch (budget) "
           "| of which build + orders alone | status · gap | contested resources · active orders |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r.batch.stats
        setup = s.get("build_s", 0.0) + s.get("independent_s", 0.0)
        out.append(f"| {r.n_orders:,} | {_secs(r.nearest)} | {_secs(r.optimal)} | "
                   f"{r.batch.seconds:.2f} s ({r.budget_ms / 1000:g} s) | {setup:.2f} s | "
                   f"{r.batch.status} · {100 * s.get('gap', 0.0):.2f}% | "
                   f"{int(s.get('contested_resources', 0)):,} · {int(s.get('active_orders', 0)):,}"
                   f"{_unreached(s)} |")
    return "\n".join(out)
