"""[solver]: the optimizer's params (optimize/params.py) from the config file, strictly checked,
and reaching the solver (a batch with the joint model turned off never builds it)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from dom_engine.app.bootstrap import build_engine
from dom_engine.app.config import load_config
from dom_engine.app.engine import Engine
from dom_engine.domain import ConfigError
from dom_engine.inventory.memory import MemoryStore
from dom_engine.optimize.params import SolverParams
from dom_engine.testing import random_batch


def _config(tmp_path, text: str):
    path = tmp_path / "dom.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_defaults_are_todays_values(tmp_path):
    assert _config(tmp_path, "").solver == SolverParams()


def test_keys_override_their_component_only(tmp_path):
    solver = _config(tmp_path, "[solver.search]\nfast_search_max_sets = 2500\n"
                               "[solver.dual]\nmu_shares = [0.1, 0.01]\n"
                               "[solver.rounding]\nseed = 7\n").solver
    assert solver.search.fast_search_max_sets == 2500
    assert solver.dual.mu_shares == (0.1, 0.01)
    assert solver.rounding.seed == 7
    assert solver.columns == SolverParams().columns and solver.exact == SolverParams().exact


LEVEL = "solver.search.cpsat_linearization_level"


@pytest.mark.parametrize(("text", "field", "message"), [
    ("[solver.search]\nfast_search_max_set = 5\n", "solver.search.fast_search_max_set", "unknown key"),
    ("[solver.columns]\ncg_share = 1.5\n", "solver.columns.cg_share", "at most 1"),
    ("[solver.columns]\ncg_share = \"half\"\n", "solver.columns.cg_share", "a number"),
    ("[solver.pricing]\npricing_max_sets = 0\n", "solver.pricing.pricing_max_sets", "> 0"),
    ("[solver.pricing]\npricing_max_sets = 2.5\n", "solver.pricing.pricing_max_sets", "an integer"),
    ("[solver.dual]\nmu_shares = []\n", "solver.dual.mu_shares", "(0, 1]"),
    ("[solver.rounding]\nseed = -1\n", "solver.rounding.seed", ">= 0"),
    ("[solver.nope]\nx = 1\n", "solver.nope", "unknown key"),
    ("[solver.search]\ncpsat_linearization_level = 3\n", f"{LEVEL}", "0, 1 or 2"),
    ("[solver.search]\ncpsat_linearization_level = -1\n", f"{LEVEL}", "> 0"),
    ("[solver.search]\ncpsat_presolve = 2\n", "solver.search.cpsat_presolve", "0 or 1"),
])
def test_bad_values_name_the_key(tmp_path, text, field, message):
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, text)
    assert err.value.field == field
    assert message in err.value.message


def test_every_params_field_is_documented_in_the_config_module():
    doc = (__import__("dom_engine.app.config", fromlist=["x"]).__doc__ or "")
    for group in fields(SolverParams):
        assert f"[solver.{group.name}]" in doc, group.name
        for f in fields(group.default_factory()):  # type: ignore[misc]
            assert f.name in doc, f"{group.name}.{f.name}"


def test_the_configured_params_reach_the_solver(tmp_path):
    """[solver.exact] max_vars = 0 turns the exact joint model off: a contested wave that the
    default engine finishes with it (stats "exact_s") is solved without it."""
    assert build_engine(_config(tmp_path, "[solver.exact]\nmax_vars = 0\n")).solver.exact.max_vars == 0
    inst = random_batch(3, n_orders=12, n_nodes=5, n_skus=4)
    store = MemoryStore.from_arrays(inst.network, inst.stock.skus, inst.stock.atp, clock=lambda: inst.now)
    policies = {"default": inst.policies[0]}

    def solve(solver: SolverParams):
        engine = Engine(inst.network, inst.rate_card, store, policies=policies, clock=lambda: inst.now,
                        solver=solver)
        return engine.route_batch(list(inst.orders), time_budget_ms=5_000)

    with_joint = solve(SolverParams())
    assert "exact_s" in with_joint.stats, "the wave is not contested: the test does not reach the model"
    without = solve(_config(tmp_path, "[solver.exact]\nmax_vars = 0\n").solver)
    assert "exact_s" not in without.stats
    assert without.lower_bound <= with_joint.objective + 1e-6
