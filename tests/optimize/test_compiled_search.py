"""The compiled set search (batch allocation's re-solves) against the numpy fast search and the
CP-SAT model: the same optimum on every knob of the model, with and without resource prices, an
incumbent, and the cheapest sets it reports priced as evaluate_sets prices them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_engine.domain import Mode
from dom_engine.optimize.compiled_search import allocation_of, search_compiled
from dom_engine.optimize.cpsat import solve_cpsat
from dom_engine.optimize.params import PricingParams, SolverParams
from dom_engine.optimize.search import fast_search
from dom_engine.optimize.solution import evaluate_sets

from .helpers import close
from .test_fast_vs_cpsat import _problem, knobs


def _priced(p, seed: int):
    """The problem with random non-negative surcharges per option, unit and shipment (what
    pricing under resource duals does to it)."""
    rng = np.random.default_rng(seed)
    dC = rng.exponential(2.0, p.C.shape) * (rng.random(p.C.shape) < 0.4)
    df = rng.exponential(6.0, p.f.shape) * (rng.random(p.f.shape) < 0.3)
    return replace(p, C=p.C + dC, f=p.f + df)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(knobs, st.booleans())
def test_compiled_search_equals_fast_search_and_cpsat(k, priced):
    sc, p = _problem(k)
    if p.infeasible_reason or p.shared_skus or p.n_options == 0:
        return
    if priced:
        p = _priced(p, k["seed"])
    proven, best, options, bound, _ = search_compiled(p)
    assert proven
    assert bound == best
    reference = fast_search(p, want_alternative=False)
    if not reference.proven_optimal:
        reference = solve_cpsat(p, time_limit_s=20.0)
        assert reference.proven_optimal
    assert close(best, reference.objective), (best, reference.objective, options, reference.options)
    if len(options):
        # The set's allocation re-prices to the objective, ships from every option at distinct
        # nodes, and takes no more than each option holds.
        x, short, cost = allocation_of(p, options)
        assert close(cost, best)
        assert close(float(evaluate_sets(p, options[None, :])[0]), best)
        assert (x.sum(axis=1) > 0).all()
        assert len(set(p.opt_node[options].tolist())) == len(options) <= p.max_shipments
        assert (x <= p.A[options]).all()
        assert (x.sum(axis=0) + short == p.Q).all()
    else:
        # Nothing beat shipping nothing: that is the optimum.
        assert close(best, p.empty_plan_objective())


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(knobs)
def test_incumbent_prunes_but_keeps_the_search_exact(k):
    """With a known plan passed in, the search returns a strictly better set or none; either way
    min(incumbent, result) is the optimum."""
    sc, p = _problem(k)
    if p.infeasible_reason or p.shared_skus or p.n_options == 0:
        return
    p = _priced(p, k["seed"] + 1)
    proven, optimum, best_set, _, _ = search_compiled(p)
    assert proven
    if not len(best_set):
        return
    # The optimum itself as the incumbent: nothing strictly better exists.
    proven, best, options, _, _ = search_compiled(p, incumbent=optimum)
    assert proven and close(best, optimum) and (len(options) == 0 or close(best, optimum))
    # A dearer incumbent: the optimum is found again.
    proven, best, options, _, _ = search_compiled(p, incumbent=optimum + 5.0)
    assert proven and close(best, optimum) and len(options)


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(knobs)
def test_cheapest_sets_are_priced_and_sorted(k):
    sc, p = _problem(k)
    if p.infeasible_reason or p.shared_skus or p.n_options == 0:
        return
    proven, best, options, _, cheapest = search_compiled(p, keep=6)
    assert proven and len(cheapest) <= 6
    costs = [c for c, _ in cheapest]
    assert costs == sorted(costs)
    for cost, opts in cheapest:
        assert close(float(evaluate_sets(p, np.array([opts]))[0]), cost)
    if len(options):
        assert close(cheapest[0][0], best) and cheapest[0][1] == tuple(options.tolist())


def test_gives_up_when_a_level_is_too_large():
    """A tiny effort limit on an order with several shipments to choose: the search gives up
    (the caller falls back to the numpy search) rather than returning an unproven plan as proven."""
    for seed in range(200):
        k = {"seed": seed, "n_nodes": 25, "n_lines": 6, "kit_probability": 0.0, "backorder": False,
             "promise_days": None, "max_shipments": 3, "mode": Mode.COST, "split_penalty": 0.0,
             "co2e_price": 0.0, "delivery_day_weight": 0.0, "store_buffer": 0, "channel": "",
             "excluded": 0, "density": 0.15, "depth": 1}
        sc, p = _problem(k)
        if p.infeasible_reason or p.shared_skus:
            continue
        proven, _, _, bound, _ = search_compiled(p, max_sets=1)
        if not proven:
            full = search_compiled(p)
            assert full[0] and bound <= full[1] + 1e-9
            return
    raise AssertionError("no instance needed more than one set: the effort limit is untested")


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(knobs)
def test_pricing_with_a_small_effort_limit_brackets_the_optimum(k):
    """Batch pricing settles for the compiled search's bound when the effort limit is hit: the
    bound never exceeds the optimum and the plan it returns is a real plan (never cheaper)."""
    from dom_engine.optimize.batch import columns

    sc, p = _problem(k)
    if p.infeasible_reason or p.shared_skus or p.n_options == 0:
        return
    p = _priced(p, k["seed"] + 2)
    optimum = search_compiled(p)[1]
    one_set = SolverParams(pricing=PricingParams(pricing_max_sets=1))
    sol, bound = columns.price_order(p, one_set, (np.inf, ()))
    assert bound <= optimum + 1e-9
    assert sol.objective >= optimum - 1e-6
    if len(sol.options):
        assert close(float(evaluate_sets(p, sol.options[None, :])[0]), sol.objective)
