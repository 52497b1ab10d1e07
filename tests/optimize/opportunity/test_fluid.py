"""The fluid LP (optimize/opportunity) against an independent exact model of the same LP.

The independent model is compact and enumerates what column generation never does: for every
prototype, every node set S it may ship from (one option per node, at most max_shipments) and
whether it leaves units unfilled (d, which charges the per-order penalty once), with a fractional
allocation x under S. For a fixed (S, d) the allocations form a transportation polytope, whose
vertices are integral plans, so this LP equals the LP over integral plans. It is solved by
scipy's HiGHS (not the master's highspy instance), and the prices are checked by strong duality:
the Lagrangian value at the returned prices, computed on the compact model without stock rows,
must equal the optimum (it is below it for any price vector that is not an optimal dual).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from dom_engine.domain.opportunity import Forecast
from dom_engine.domain.stop import Deadline
from dom_engine.optimize.opportunity import FluidModel, FluidParams, solve_fluid
from dom_engine.optimize.problem import Problem, build_problem
from dom_engine.testing.builders import random_batch


def _instance(seed: int, scarcity: float = 0.6):
    inst = random_batch(seed, n_orders=6, n_nodes=4, n_skus=4, max_lines=2, max_qty=2, kit_probability=0.0,
                        supply_ratio=scarcity, ship_capacity_probability=0.0, unit_capacity_probability=0.0)
    rng = np.random.default_rng([seed, 3])
    forecast = Forecast(inst.orders, np.round(rng.uniform(0.5, 4.0, len(inst.orders)), 2), 7.0)
    return inst, forecast


def _problems(inst, forecast) -> list[Problem]:
    """Each prototype as the fluid LP models it: may leave units unfilled, and may take any number
    of units where the node has some (only the stock rows bound the totals)."""
    carried = replace(inst.stock, atp=np.where(inst.stock.atp > 0, 10**6, 0))
    out = []
    for order in forecast.prototypes:
        order = replace(order, options=replace(order.options, allow_backorder=True))
        out.append(build_problem(order, carried, inst.network, inst.rate_card, inst.policies[0], inst.now))
    return out


def _compact(problems: list[Problem], weights: np.ndarray, cap: np.ndarray,
             prices: np.ndarray | None) -> float:
    """The fluid LP (prices None) or its Lagrangian value at `prices` (nodes x SKUs), solved whole."""
    cost: list[float] = []
    eq_r, eq_c, eq_v, eq_b = [], [], [], []
    ub_r, ub_c, ub_v, ub_b = [], [], [], []
    bounds: list[tuple[float, float | None]] = []

    def var(c: float, hi: float | None = None) -> int:
        cost.append(c)
        bounds.append((0.0, hi))
        return len(cost) - 1

    def eq(row: dict[int, float], rhs: float) -> None:
        r = len(eq_b)
        for c, v in row.items():
            eq_r.append(r), eq_c.append(c), eq_v.append(v)
        eq_b.append(rhs)

    def ub(row: dict[int, float], rhs: float) -> None:
        r = len(ub_b)
        for c, v in row.items():
            ub_r.append(r), ub_c.append(c), ub_v.append(v)
        ub_b.append(rhs)

    stock_use: dict[tuple[int, int], dict[int, float]] = {}
    for w, p in zip(weights, problems, strict=True):
        sku = [int(p.line_sku_col[p.items[i][0]]) for i in range(p.n_items)]
        sets = [()]
        for m in range(1, min(p.max_shipments, p.n_options) + 1):
            sets += [s for s in combinations(range(p.n_options), m)
                     if len({int(p.opt_node[o]) for o in s}) == m]
        convex: dict[int, float] = {}
        for s in sets:
            for d in (0, 1):
                if not s and not d:
                    continue
                fixed = sum(float(p.f[o]) for o in s) - (float(p.split_credit) if s else 0.0)
                z = var(w * (fixed + d * float(p.P0)))
                convex[z] = 1.0
                for i in range(p.n_items):
                    fill: dict[int, float] = {}
                    for o in s:
                        node = int(p.opt_node[o])
                        price = 0.0 if prices is None else float(prices[node, sku[i]])
                        x = var(w * (float(p.C[o, i]) + price))
                        ub({x: 1.0, z: -float(p.A[o, i])}, 0.0)
                        fill[x] = 1.0
                        stock_use.setdefault((node, sku[i]), {})[x] = w
                    short = var(w * float(p.P[i]), None if d else 0.0)
                    fill[short] = 1.0
                    fill[z] = -float(p.Q[i])
                    eq(fill, 0.0)
        eq(convex, 1.0)
    if prices is None:
        for (node, g), row in stock_use.items():
            ub(row, float(cap[node, g]))
    n = len(cost)
    a_eq = coo_matrix((eq_v, (eq_r, eq_c)), shape=(len(eq_b), n))
    a_ub = coo_matrix((ub_v, (ub_r, ub_c)), shape=(len(ub_b), n))
    res = linprog(np.array(cost), A_ub=a_ub, b_ub=np.array(ub_b), A_eq=a_eq, b_eq=np.array(eq_b),
                  bounds=bounds, method="highs")
    assert res.status == 0, res.message
    if prices is None:
        return float(res.fun)
    return float(res.fun) - float((prices * cap).sum())


@pytest.mark.parametrize("seed", range(8))
def test_fluid_optimum_and_prices_equal_the_compact_model(seed):
    inst, forecast = _instance(seed)
    result = solve_fluid(forecast, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now)
    assert result.converged
    problems = _problems(inst, forecast)
    cap = inst.stock.atp.astype(float)
    optimum = _compact(problems, forecast.counts, cap, None)
    tol = 1e-6 * max(1.0, abs(optimum))
    assert abs(result.objective - optimum) <= tol, (result.objective, optimum)
    assert result.lower_bound <= optimum + tol
    # Strong duality: only an optimal dual makes the Lagrangian reach the optimum.
    assert (result.prices >= 0).all()
    assert abs(_compact(problems, forecast.counts, cap, result.prices) - optimum) <= tol


def test_prices_are_zero_where_stock_is_plenty_and_positive_where_it_is_short():
    inst, forecast = _instance(1, scarcity=0.6)
    short = solve_fluid(forecast, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now)
    assert short.prices.max() > 0
    plenty = replace(inst.stock, atp=inst.stock.atp * 0 + 10_000)
    free = solve_fluid(forecast, plenty, inst.network, inst.rate_card, inst.policies[0], inst.now)
    assert free.converged and np.all(free.prices == 0)
    # More expected orders on the same stock cost more, and make stock dearer.
    busier = Forecast(forecast.prototypes, forecast.counts * 3, forecast.horizon_days)
    dear = solve_fluid(busier, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now)
    assert dear.objective > short.objective
    assert dear.prices.sum() >= short.prices.sum()


def test_a_stop_before_convergence_keeps_a_valid_bound():
    inst, forecast = _instance(2)
    full = solve_fluid(forecast, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now)
    cut = solve_fluid(forecast, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now,
                      params=FluidParams(max_rounds=1))
    assert cut.rounds == 1
    assert cut.lower_bound <= full.objective + 1e-6 * abs(full.objective)
    assert cut.objective >= full.objective - 1e-6 * abs(full.objective)
    expired = solve_fluid(forecast, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now,
                          stop=Deadline.after_ms(0))
    assert expired.rounds == 0 and not expired.converged and np.all(expired.prices == 0)


def test_a_re_solve_on_other_stock_equals_a_fresh_solve():
    """FluidModel.solve on new stock and a scaled horizon changes only the stock rows' bounds; the
    answer equals a model built afresh on that stock (same optimum, prices dual-optimal)."""
    inst, forecast = _instance(4)
    model = FluidModel(forecast, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now)
    try:
        first = model.solve(inst.stock.atp)
        assert first.converged
        rng = np.random.default_rng(5)
        less = np.where(inst.stock.atp > 0, rng.integers(0, inst.stock.atp + 1), 0)
        again = model.solve(less, scale=0.6)
    finally:
        model.close()
    assert again.converged
    fresh_forecast = Forecast(forecast.prototypes, forecast.counts * 0.6, forecast.horizon_days)
    problems = _problems(inst, forecast)
    optimum = _compact(problems, fresh_forecast.counts, less.astype(float), None)
    tol = 1e-6 * max(1.0, abs(optimum))
    assert abs(again.objective - optimum) <= tol, (again.objective, optimum)
    assert abs(_compact(problems, fresh_forecast.counts, less.astype(float), again.prices) - optimum) <= tol


def test_a_model_says_when_new_stock_needs_a_new_model():
    inst, forecast = _instance(3)
    model = FluidModel(forecast, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now)
    model.close()
    atp = inst.stock.atp
    assert model.covers(atp) and model.covers(atp // 2)
    empty = np.argwhere(atp == 0)
    assert len(empty)
    grown = atp.copy()
    grown[tuple(empty[0])] = 3
    assert not model.covers(grown)


@pytest.mark.parametrize("seed", range(4))
def test_kits_and_shared_skus_are_priced_too(seed):
    """Prototypes the compiled kernel does not hold (kits, a SKU on two lines) are priced one by one
    (batch pricing's exact path): the LP still converges and its bound is valid."""
    inst = random_batch(seed, n_orders=8, n_nodes=4, n_skus=4, kit_probability=0.5,
                        duplicate_sku_probability=0.5, ship_capacity_probability=0.0,
                        unit_capacity_probability=0.0)
    forecast = Forecast(inst.orders, np.full(len(inst.orders), 2.0), 7.0)
    result = solve_fluid(forecast, inst.stock, inst.network, inst.rate_card, inst.policies[0], inst.now)
    assert result.converged
    assert result.lower_bound <= result.objective * (1 + 1e-9) + 1e-9
    assert (result.prices >= 0).all()


def test_sku_flows_are_the_solutions_shares_and_respect_stock():
    """What rounding policies round: per prototype and SKU, shares over nodes (+ unfilled) that sum
    to 1, and whose expected units (counts x quantity x share) fit each node's stock, as the LP's
    stock rows say."""
    from dom_engine.testing.protocol import PROTOCOL_NOW, WARMUP, protocol_instance

    inst = protocol_instance(WARMUP, 1)
    forecast = inst.forecast(inst.horizon)
    model = FluidModel(forecast, inst.stock_view(), inst.network, inst.rate_card, inst.policy, PROTOCOL_NOW)
    try:
        assert model.solve(inst.stock).converged
        flows = model.sku_flows()
    finally:
        model.close()
    used = np.zeros(inst.stock.shape)
    for weight, per_sku in zip(model.weights, flows, strict=True):
        for sku, share in per_sku.items():
            assert share.sum() == pytest.approx(1.0) and (share >= -1e-12).all()
            used[:, inst.skus.index(sku)] += weight * share[:-1]
    assert (used <= inst.stock + 1e-6 * (1 + inst.stock)).all()
    assert used.sum() > 0.5 * inst.stock.sum()     # the stock is mostly spent: the flows are real
