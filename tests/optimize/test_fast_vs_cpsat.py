"""The fast exact search must reach the same objective as the general CP-SAT model on every
instance where it claims a proof, across every knob of the model; and it must claim one on most
small orders (otherwise the fast path is dead weight and every order pays for CP-SAT)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_engine.domain import Mode
from dom_engine.optimize.cpsat import solve_cpsat
from dom_engine.optimize.problem import build_problem
from dom_engine.optimize.search import fast_search
from dom_engine.optimize.solution import evaluate_sets, objective_of

from .helpers import close, scenario

knobs = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "n_nodes": st.integers(5, 25),
    "n_lines": st.integers(1, 6),
    "kit_probability": st.sampled_from([0.0, 0.8]),
    "backorder": st.sampled_from([False, False, True]),
    "promise_days": st.sampled_from([None, 1, 2, 3, 8]),
    "max_shipments": st.integers(1, 3),
    "mode": st.sampled_from([Mode.COST, Mode.COST, Mode.FEWEST_SHIPMENTS, Mode.FASTEST]),
    "split_penalty": st.sampled_from([0.0, 4.0]),
    "co2e_price": st.sampled_from([0.0, 0.3]),
    "delivery_day_weight": st.sampled_from([0.0, 1.5]),
    "store_buffer": st.integers(0, 2),
    "channel": st.sampled_from(["", "web"]),
    "excluded": st.integers(0, 2),
    "density": st.sampled_from([None, 0.15, 0.3]),
    "depth": st.integers(1, 4),
})


def _problem(k: dict):
    k = dict(k)
    sc = scenario(k.pop("seed"), **k)
    return sc, build_problem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now)


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(knobs)
def test_fast_search_objective_equals_cpsat(k):
    """Where fast_search proves optimality, CP-SAT (an independent exact model of the same Problem)
    finds the same objective, and neither beats the other. Also checks that the fast search's
    allocation re-prices to its objective and ships no more than each option can."""
    sc, p = _problem(k)
    if p.infeasible_reason:
        return
    fs = fast_search(p)
    cp = solve_cpsat(p, time_limit_s=20.0)
    assert cp.proven_optimal
    if not fs.proven_optimal:
        # Gave up (fallback to CP-SAT): its incumbent and bound must still bracket the optimum.
        assert fs.lower_bound <= cp.objective + 1e-3
        assert cp.objective <= fs.objective + 1e-3
        return
    assert close(fs.objective, cp.objective), (k, fs.objective, cp.objective)
    if np.isfinite(fs.objective):
        assert (fs.x <= p.A[fs.options]).all()
        assert (fs.x.sum(axis=0) + fs.unfilled == p.Q).all()
        assert len(set(p.opt_node[fs.options].tolist())) == len(fs.options)
        assert close(objective_of(p, fs.options, fs.x, fs.unfilled), fs.objective)


def test_fast_search_matches_cpsat_on_split_orders():
    """Sparse, shallow stock forces 2- and 3-shipment plans, where the dominance/canonical pruning
    and the level bound of the fast search do their work: objectives must still equal CP-SAT's."""
    splits = 0
    for seed in range(120):
        _, p = _problem({
            "seed": seed, "n_nodes": 5 + seed % 21, "n_lines": 3 + seed % 4,
            "density": 0.2 + 0.1 * (seed % 2), "depth": 2 + seed % 2,
            "max_shipments": 2 + seed % 2, "backorder": seed % 3 == 0,
            "kit_probability": 0.5 * (seed % 2), "split_penalty": 2.0 * (seed % 5 == 0),
            "co2e_price": 0.2 * (seed % 7 == 0), "store_buffer": int(seed % 4 == 1),
        })
        if p.infeasible_reason:
            continue
        fs = fast_search(p)
        if not fs.proven_optimal:
            continue
        cp = solve_cpsat(p, time_limit_s=20.0)
        assert cp.proven_optimal
        assert close(fs.objective, cp.objective), (seed, fs.objective, cp.objective)
        splits += len(fs.options) >= 2
    assert splits >= 30, f"only {splits} split plans: the test no longer exercises multi-shipment sets"


def test_fast_search_proves_most_small_orders():
    """The fast path must actually carry the load: on 150 varied orders (<= 25 nodes, <= 6 lines)
    it proves optimality in at least 90% of them without handing over to CP-SAT."""
    rng = np.random.default_rng(7)
    proven = total = 0
    for seed in range(150):
        k = {
            "seed": seed, "n_nodes": int(rng.integers(5, 26)), "n_lines": int(rng.integers(1, 7)),
            "kit_probability": float(rng.choice([0.0, 0.8])), "backorder": bool(rng.integers(2)),
            "max_shipments": int(rng.integers(1, 4)), "promise_days": None,
        }
        _, p = _problem(k)
        if p.infeasible_reason:
            continue
        total += 1
        proven += fast_search(p).proven_optimal
    assert total >= 100
    assert proven >= 0.9 * total, f"fast search proved only {proven}/{total}"


def test_given_up_search_keeps_a_valid_bound():
    """With a tiny per-level budget the search gives up; its lower bound must stay below the true
    optimum (CP-SAT) and its incumbent, if any, above it."""
    checked = 0
    for seed in range(40):
        _, p = _problem({"seed": seed, "n_nodes": 25, "n_lines": 5, "max_shipments": 3,
                         "backorder": bool(seed % 2)})
        if p.infeasible_reason:
            continue
        fs = fast_search(p, max_sets=3)
        if fs.proven_optimal:
            continue
        checked += 1
        cp = solve_cpsat(p, time_limit_s=20.0)
        assert cp.proven_optimal
        assert fs.lower_bound <= cp.objective + 1e-3
        assert fs.objective >= cp.objective - 1e-3
        assert fs.alternative is None
    assert checked >= 5


def test_evaluate_sets_rejects_two_services_of_one_node():
    """A set holding two options of the same node is not a plan (one shipment per node)."""
    for seed in range(30):
        _, p = _problem({"seed": seed, "n_nodes": 8, "n_lines": 2})
        nodes = p.opt_node.tolist()
        pairs = [(a, b) for a in range(len(nodes)) for b in range(a + 1, len(nodes)) if nodes[a] == nodes[b]]
        if pairs:
            costs = evaluate_sets(p, np.array(pairs[:5]))
            assert np.isinf(costs).all()
            return
    raise AssertionError("no instance with two services at one node: the test lost its subject")
