"""Runs spread over a local process pool or Ray give the same results as one process for the same
seeds; a Ray address that does not answer is a clear error, quickly."""

from __future__ import annotations

import socket
import time

import pytest

from dom_engine.cli import main
from dom_engine.domain import ConfigError
from dom_engine.simulation import load_scenarios, simulate
from dom_engine.simulation.executors import LocalPool, RayExecutor, make_executor

FILE = """
[base]
replications = 2
seed = 3
time_budget_ms = 100
[base.demand]
orders = 80
days = 2
seed = 5
[scenarios.rates_up]
rates_scale = 1.3
[scenarios.fewer_stores]
channel_node_kinds = { "" = ["warehouse"] }
[scenarios.returns_to_centre.returns]
rate = 0.2
delay_days = [0, 2]
routing = "centre"
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("exec") / "whatif.toml"
    path.write_text(FILE)
    return load_scenarios(path)


@pytest.fixture(scope="module")
def in_process(spec):
    return simulate(spec)


def _same(a, b):
    assert a.scenarios == b.scenarios
    assert a.kpis == b.kpis
    assert a.by_day == b.by_day
    for name in a.scenarios:      # repr: NaN-safe (delivery days of unshipped orders)
        assert repr(a.outcomes[name]) == repr(b.outcomes[name])
    assert a.node_days == b.node_days and a.shipment_counts == b.shipment_counts
    assert a.returns.keys() == b.returns.keys() and all(a.returns[k].equals(b.returns[k]) for k in a.returns)
    assert a.returns["returns_to_centre"].num_rows > 0
    def key(result):
        return [(d.scenario, d.kpi, d.delta) for d in result.deltas]

    assert key(a) == key(b)


def test_a_local_pool_gives_the_same_results(spec, in_process):
    seen = []
    pooled = simulate(spec, executor=LocalPool(2), progress=lambda *a: seen.append(a[:2]))
    _same(pooled, in_process)
    assert sorted(seen) == sorted((name, r) for r in range(2) for name in in_process.scenarios)


def test_ray_on_a_local_instance_gives_the_same_results(spec, in_process):
    pytest.importorskip("ray")
    _same(simulate(spec, executor=RayExecutor()), in_process)


def test_a_ray_address_that_does_not_answer_is_named(spec):
    pytest.importorskip("ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # free, nothing listens once closed
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        simulate(spec, executor=RayExecutor(f"127.0.0.1:{port}"))
    assert err.value.field == "--address" and f"127.0.0.1:{port}" in err.value.message
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(("args", "field"), [
    (("local", 0, None), "--jobs"), (("spark", 1, None), "--executor"), (("local", 2, "h:1"), "--address"),
])
def test_bad_executor_settings_are_named(args, field):
    with pytest.raises(ConfigError) as err:
        make_executor(*args)
    assert err.value.field == field


def test_cli_jobs_and_bad_address(tmp_path, capsys):
    path = tmp_path / "whatif.toml"
    path.write_text(FILE)
    assert main(["simulate", str(path), "--jobs", "2", "--replications", "1", "--json"]) == 0
    assert '"rates_up"' in capsys.readouterr().out
    assert main(["simulate", str(path), "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err
