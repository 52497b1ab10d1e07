"""The Lagrangian branch and bound (optimize/compiled_bb.py, bb_search.py) on its own, against an
independent exact model (HiGHS through scipy.milp, test_thin_stock.exact_highs) on thin-stock
orders and on small random orders: proven answers equal the optimum, infeasibility is proven
exactly when there is no plan, and a search stopped early keeps a plan and a bound that bracket
the optimum. The single-order entry point is checked against brute force in test_brute_force."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dom_engine.domain import PolicyProfile
from dom_engine.domain.stop import Deadline
from dom_engine.optimize.bb_search import branch_and_bound
from dom_engine.optimize.compiled_search import warm_up
from dom_engine.optimize.problem import Problem, build_problem
from dom_engine.optimize.search import evaluate_sets
from dom_engine.testing.builders import random_instance, thin_stock_instance

from .helpers import close
from .test_thin_stock import exact_highs

POLICY = PolicyProfile()


@pytest.fixture(scope="module", autouse=True)
def _kernels():
    warm_up()


def _problem(inst) -> Problem:
    return build_problem(inst.order, inst.stock, inst.network, inst.rate_card, POLICY, inst.now)


def _thin(seed: int) -> Problem | None:
    p = _problem(thin_stock_instance(seed))
    return None if p.infeasible_reason or p.shared_skus else p


def _check_against_highs(p: Problem, budget_ms: float = 5_000) -> None:
    sol = branch_and_bound(p, Deadline.after_ms(budget_ms))
    status, optimum = exact_highs(p)
    if status == "unknown":
        pytest.skip("the reference did not finish")
    assert sol.proven_optimal, (sol.objective, sol.lower_bound, optimum)
    if status == "infeasible":
        assert not np.isfinite(sol.objective)
        return
    assert close(sol.objective, optimum), (sol.objective, optimum)
    # The plan is what it says: its options re-priced give its objective.
    assert close(float(evaluate_sets(p, sol.options[None, :])[0]), sol.objective)
    assert (sol.x.sum(axis=0) + sol.unfilled == p.Q).all()


@pytest.mark.parametrize("seed", range(150, 230))
def test_thin_stock_optimum_equals_highs(seed):
    """Seeds the benchmark does not use (it takes 0..149)."""
    p = _thin(seed)
    if p is not None:
        _check_against_highs(p)


@pytest.mark.parametrize("seed", range(60))
def test_small_random_orders_equal_highs(seed):
    """Denser stock, several services per node (same-node options exclude each other), caps of
    1-3 shipments, with and without backorders."""
    inst = random_instance(seed, n_nodes=6 + seed % 7, n_lines=1 + seed % 4, n_skus=6,
                           max_shipments=1 + seed % 3, allow_backorder=seed % 2 == 0,
                           kit_probability=0.5 if seed % 4 == 3 else 0.0)
    p = _problem(inst)
    if p.infeasible_reason or p.shared_skus or p.n_options == 0:
        return
    _check_against_highs(p)


@pytest.mark.parametrize("seed", range(0, 60, 3))
def test_a_stopped_search_brackets_the_optimum(seed):
    """Stopped at once (or after very little), the plan is no cheaper than the optimum and the
    bound no higher."""
    p = _thin(seed)
    if p is None:
        return
    status, optimum = exact_highs(p)
    if status != "optimal":
        return
    for budget_ms in (0.0, 0.05, 0.3):
        sol = branch_and_bound(p, Deadline.after_ms(budget_ms))
        assert sol.lower_bound <= optimum + 1e-6
        assert sol.objective >= optimum - 1e-6


def test_a_cancelled_search_stops_at_once():
    """Cancelling the call's Deadline from another thread ends the compiled search (which runs
    without the GIL and looks at the flag between subtrees), long before its minute is up."""
    import time
    from dataclasses import replace

    # 400 nodes alike in cost, each holding a unit of a fifth of 30 items, 10 shipments to cover
    # 3 units of each: seconds of search (measured: unproven after 3 s).
    rng = np.random.default_rng(5)
    base = _thin(1) or _thin(2)
    n_opt, n_items = 400, 30
    huge = replace(base, A=(rng.random((n_opt, n_items)) < 0.2).astype(np.int64), C=np.ones((n_opt, n_items)),
                   f=10 + rng.uniform(0, 0.01, n_opt), Q=np.full(n_items, 3), P=np.full(n_items, 50.0),
                   opt_node=np.arange(n_opt), max_shipments=10, allow_backorder=False)
    stop = Deadline.after_ms(60_000)
    threading.Timer(0.05, stop.cancel).start()
    started = time.perf_counter()
    sol = branch_and_bound(huge, stop)
    assert stop.cancelled
    assert time.perf_counter() - started < 10.0
    assert not sol.proven_optimal and sol.lower_bound <= sol.objective


def test_the_proven_runner_up_is_the_best_other_node_set():
    """Proving the alternative, it is the cheapest plan whose node set differs from the
    best one's (checked by enumerating every node set of small orders)."""
    import itertools

    checked = 0
    for seed in range(40):
        inst = random_instance(seed, n_nodes=6, n_lines=1 + seed % 3, n_skus=6, max_shipments=2)
        p = _problem(inst)
        if p.infeasible_reason or p.shared_skus or p.n_options == 0:
            continue
        sol = branch_and_bound(p, Deadline.after_ms(5_000), prove_alternative_s=5.0)
        if not sol.alternative_exact or not np.isfinite(sol.objective):
            continue
        best_nodes = tuple(sorted(int(n) for n in p.opt_node[sol.options]))
        cheapest_other = p.empty_plan_objective() if best_nodes else np.inf
        for m in range(1, p.max_shipments + 1):
            for sets in itertools.combinations(range(p.n_options), m):
                nodes = tuple(sorted(int(n) for n in p.opt_node[list(sets)]))
                if len(set(nodes)) < m or nodes == best_nodes:
                    continue
                cheapest_other = min(cheapest_other, float(evaluate_sets(p, np.array([sets]))[0]))
        if not np.isfinite(cheapest_other):
            assert sol.alternative is None
            continue
        assert sol.alternative is not None
        assert close(sol.alternative[1], cheapest_other), (seed, sol.alternative, cheapest_other)
        checked += 1
    assert checked >= 20


def test_warm_up_compiles_the_signature_the_search_calls():
    """In a fresh process, after warm_up routing an order compiles nothing more: a kernel called
    with other argument types than the warm-up's would compile (20-45 s) inside the first
    request's budget, and a block the warm-up never reached (the search's clock) ~40 ms."""
    import subprocess
    import sys

    script = """
from dom_engine.domain import PolicyProfile
from dom_engine.domain.stop import Deadline
from dom_engine.optimize.bb_search import branch_and_bound
from dom_engine.optimize.compiled_bb import _branch_and_bound
from dom_engine.optimize.compiled_search import warm_up
from dom_engine.optimize.problem import build_problem
from dom_engine.testing.builders import thin_stock_instance
import numba.core.compiler as compiler
warm_up()
before = len(_branch_and_bound.signatures)
compiled = []
for name in ("compile_ir", "compile_extra"):   # every numba compilation, objmode blocks included
    real = getattr(compiler, name)
    setattr(compiler, name, lambda *a, real=real, name=name, **k: compiled.append(name) or real(*a, **k))
for seed in (1, 3):    # orders the search must split (seed 1 reaches its loop, and the clock)
    inst = thin_stock_instance(seed)
    p = build_problem(inst.order, inst.stock, inst.network, inst.rate_card, PolicyProfile(), inst.now)
    branch_and_bound(p, Deadline.after_ms(1000), prove_alternative_s=0.001)
    branch_and_bound(p, Deadline.after_ms(1000))
print(before, len(_branch_and_bound.signatures), len(compiled))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                         check=True)
    before, after, compilations = out.stdout.split()
    assert before == after == "1", out.stdout
    assert compilations == "0", out.stdout   # e.g. the clock's objmode block, compiled at its first use


def test_solve_without_explain_does_not_prove_the_runner_up(monkeypatch):
    """Batch pricing calls solve(explain=False): the search gets no runner-up window (it would cut
    against the runner-up and prove more than pricing needs), and CP-SAT no runner-up search."""
    from dom_engine.optimize import single

    windows = []
    real = single.branch_and_bound

    def spy(p, stop, *args, **kwargs):
        windows.append(kwargs.get("prove_alternative_s"))
        return real(p, stop, *args, **kwargs)

    monkeypatch.setattr(single, "branch_and_bound", spy)
    for seed in range(6):
        p = _thin(seed)
        if p is not None:
            single.solve(p, Deadline.after_ms(2_000), explain=False)
            single.solve(p, Deadline.after_ms(2_000))
    assert windows and set(windows[0::2]) == {0.0} and set(windows[1::2]) == {0.005}
