"""Batch pricing in one compiled call (optimize/batch/compiled_pricing.py) against the one-order
path it replaced (columns.price_order on Entry.priced), and its executors: threads and Ray give
the same answers as one call, and a wave routed with either gives the same plans and bound."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dom_engine.domain.batch import BatchSettings
from dom_engine.domain.stop import Deadline
from dom_engine.optimize.batch import BatchProblem, prepare_batch, solve_batch
from dom_engine.optimize.batch import executors as batch_executors
from dom_engine.optimize.batch.columns import solve_exact
from dom_engine.optimize.batch.compiled_pricing import PricingStore, price
from dom_engine.optimize.batch.executors import ThreadPricer, make_pricer
from dom_engine.optimize.compiled_search import PROVEN, allocation_of
from dom_engine.optimize.params import SolverParams
from dom_engine.testing import BatchInstance, random_batch


def _prepared(inst: BatchInstance):
    return prepare_batch(BatchProblem(inst.orders, inst.stock, inst.network, inst.rate_card, inst.policies,
                                      BatchSettings(), inst.now, inst.unit_capacity_left))


def _random_prices(rng: np.random.Generator, size: int) -> np.ndarray:
    lam = np.zeros(size)
    hot = rng.random(size) < 0.4
    lam[hot] = rng.exponential(4.0, int(hot.sum()))
    return lam


@pytest.mark.parametrize("seed", range(8))
def test_priced_optimum_equals_the_one_order_path(seed: int) -> None:
    inst = random_batch(seed, n_orders=30, n_nodes=8, n_skus=7, max_lines=4, kit_probability=0.2,
                        duplicate_sku_probability=0.15, promise_probability=0.4)
    batch = _prepared(inst)
    store = PricingStore.of(batch.entries, batch.layout)
    stored = [e for e in batch.entries if store.position[e.index] >= 0]
    assert len(stored) >= 15
    rng = np.random.default_rng(seed)
    for _ in range(3):
        lam = _random_prices(rng, batch.layout.size)
        todo = store.position[[e.index for e in stored]]
        got = price(store, todo, lam, np.full(len(todo), np.inf), 10**6)
        for r, e in enumerate(stored):
            priced = e.priced(lam, batch.layout)
            want, _ = solve_exact(priced, e.params)
            empty = e.empty_column().cost
            assert got.status[r] == PROVEN
            value = min(float(got.best[r]), empty)
            assert value == pytest.approx(min(float(want.objective), empty), rel=1e-9, abs=1e-9)
            options = got.options[r][got.options[r] >= 0]
            if len(options):   # the set's own allocation prices to the objective reported
                _, _, cost = allocation_of(priced, options)
                assert cost == pytest.approx(float(got.best[r]), rel=1e-9, abs=1e-9)


def test_an_incumbent_prunes_but_the_answer_stays_exact() -> None:
    inst = random_batch(3, n_orders=25, n_nodes=8, n_skus=6, kit_probability=0.0)
    batch = _prepared(inst)
    store = PricingStore.of(batch.entries, batch.layout)
    lam = _random_prices(np.random.default_rng(0), batch.layout.size)
    todo = np.arange(len(store.entry))
    free = price(store, todo, lam, np.full(len(todo), np.inf), 10**6)
    seeded = price(store, todo, lam, free.best + 1e-6, 10**6)     # a plan worth just above the optimum
    assert np.allclose(seeded.best, free.best, rtol=1e-9)
    beaten = price(store, todo, lam, free.best - 1.0, 10**6)       # nothing beats this one
    assert (beaten.options < 0).all()


def test_threads_answer_what_one_call_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_executors, "CHUNK", 7)     # several chunks on both threads
    inst = random_batch(11, n_orders=60, n_nodes=8, n_skus=8, kit_probability=0.0)
    batch = _prepared(inst)
    store = PricingStore.of(batch.entries, batch.layout)
    lam = _random_prices(np.random.default_rng(1), batch.layout.size)
    todo = np.arange(len(store.entry))[::-1].copy()
    inc = np.full(len(todo), np.inf)
    one = price(store, todo, lam, inc, 10**6)
    pricer = ThreadPricer(store, 2)
    try:
        many = pricer.price(todo, lam, inc, 10**6, Deadline())
        assert many is not None
        for name in ("status", "best", "bound", "options", "x", "short"):
            assert np.array_equal(getattr(one, name), getattr(many, name)), name
        assert pricer.price(todo, lam, inc, 10**6, Deadline.after_ms(0)) is None   # out of time
    finally:
        pricer.close()


def test_an_unknown_executor_is_named() -> None:
    inst = random_batch(1, n_orders=5)
    batch = _prepared(inst)
    with pytest.raises(Exception, match="batch.executor"):
        make_pricer(PricingStore.of(batch.entries, batch.layout), "spark", 1)


def _contested_wave() -> BatchProblem:
    inst = random_batch(7, n_orders=60, n_nodes=8, n_skus=6, max_lines=3, supply_ratio=0.6,
                        kit_probability=0.1, ship_capacity_probability=0.0, unit_capacity_probability=0.0)
    return BatchProblem(inst.orders, inst.stock, inst.network, inst.rate_card, inst.policies, BatchSettings(),
                        inst.now, inst.unit_capacity_left)


def _route(problem: BatchProblem, settings: BatchSettings):
    # Column generation to convergence, no exact joint model: the same work on any executor.
    params = SolverParams()
    params = replace(params, exact=replace(params.exact, max_vars=0))
    return solve_batch(replace(problem, settings=settings), Deadline.after_ms(60_000), params)


@pytest.fixture
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_gives_the_plans_and_bound_threads_give(local_ray) -> None:
    problem = _contested_wave()
    local = _route(problem, BatchSettings(executor="threads", pricing_workers=2))
    remote = _route(problem, BatchSettings(executor="ray", pricing_workers=2))
    assert local.stats["rounds"] >= 2 and local.stats["pricing_s"] > 0
    assert remote.lower_bound == pytest.approx(local.lower_bound, rel=1e-12)
    assert remote.objective == pytest.approx(local.objective, rel=1e-12)
    assert [(p.shipments, p.backordered) for p in remote.plans] == [(p.shipments, p.backordered)
                                                                    for p in local.plans]


def test_warm_up_compiles_the_signature_pricing_calls() -> None:
    """In a fresh process, after warm_up_batch a wave's pricing compiles nothing more (a new signature
    would compile inside the first batch's budget)."""
    import subprocess
    import sys

    script = """
import numpy as np
from dom_engine.domain.batch import BatchSettings
from dom_engine.optimize.batch import BatchProblem, prepare_batch
from dom_engine.optimize.batch.compiled_pricing import PricingStore, _price_orders, price
from dom_engine.optimize.batch.compiled_pricing import warm_up_batch
from dom_engine.testing import random_batch
warm_up_batch()
before = len(_price_orders.signatures)
inst = random_batch(2, n_orders=20)
batch = prepare_batch(BatchProblem(inst.orders, inst.stock, inst.network, inst.rate_card, inst.policies,
                                   BatchSettings(), inst.now, inst.unit_capacity_left))
store = PricingStore.of(batch.entries, batch.layout)
todo = store.position[[e.index for e in batch.entries if store.position[e.index] >= 0]]
price(store, todo, np.ones(batch.layout.size), np.array([np.inf] * len(todo)), 5000)
print(before, len(_price_orders.signatures))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                         check=True)
    before, after = out.stdout.split()
    assert before == after == "1", out.stdout


@pytest.mark.parametrize("seed", range(6))
def test_on_what_is_left_it_routes_as_route_on(seed: int) -> None:
    """With `left`, the kernel's plan costs what rounding.route_on's does (the restricted problem
    solved exactly), on random leftovers of stock, shipments and units."""
    from dom_engine.optimize.batch.rounding import route_on

    inst = random_batch(seed, n_orders=30, n_nodes=8, n_skus=6, max_lines=4, kit_probability=0.0)
    batch = _prepared(inst)
    store = PricingStore.of(batch.entries, batch.layout)
    rng = np.random.default_rng(seed)
    todo = np.arange(len(store.entry))
    for _ in range(3):
        left = np.where(rng.random(batch.layout.size) < 0.5, np.inf, rng.integers(0, 4, batch.layout.size))
        left = np.minimum(left, batch.cap)
        got = price(store, todo, np.zeros(batch.layout.size), np.full(len(todo), np.inf), 10**6, left)
        for r, k in enumerate(store.entry):
            e = batch.entries[k]
            want = route_on(e, left, batch.layout).cost
            empty = e.empty_column().cost
            assert min(float(got.best[r]), empty) == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_kept_sets_are_the_cheapest_the_search_saw() -> None:
    from dom_engine.optimize.compiled_search import search_compiled

    inst = random_batch(4, n_orders=30, n_nodes=8, n_skus=6, max_lines=3, kit_probability=0.0)
    batch = _prepared(inst)
    store = PricingStore.of(batch.entries, batch.layout)
    todo = np.arange(len(store.entry))
    got = price(store, todo, np.zeros(batch.layout.size), np.full(len(todo), np.inf), 10**6, keep=4)
    for r, k in enumerate(store.entry):
        _, best, _, _, cheapest = search_compiled(batch.entries[k].p, np.inf, 4)
        assert got.best[r] == pytest.approx(best, rel=1e-12)
        mine = [(c, tuple(int(o) for o in row if o >= 0))
                for c, row in zip(got.kept_cost[r], got.kept_sets[r], strict=True) if np.isfinite(c)]
        assert [s for _, s in mine] == [s for _, s in cheapest]
        assert np.allclose([c for c, _ in mine], [c for c, _ in cheapest], rtol=1e-12)


def test_an_unreachable_ray_cluster_prices_on_threads(caplog) -> None:
    pytest.importorskip("ray")
    problem = _contested_wave()
    local = _route(problem, BatchSettings(executor="threads", pricing_workers=1))
    with caplog.at_level("WARNING"):
        fallback = _route(problem, BatchSettings(executor="ray", ray_address="127.0.0.1:1"))
    assert "Ray is not usable" in caplog.text and "batch.ray_address" in caplog.text
    assert fallback.lower_bound == pytest.approx(local.lower_bound, rel=1e-12)
    assert fallback.objective == pytest.approx(local.objective, rel=1e-12)
