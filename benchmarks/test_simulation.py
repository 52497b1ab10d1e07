"""What-if simulation throughput on the demo network, against baselines measured in the same run:

- the online replay's fast path (orders priced per chunk, routed by a compiled kernel on live
  stock arrays) vs the same orders routed one by one through `Engine.route(reserve=True)` and
  committed (what an OMS calling RouteOrder does): identical decisions (equal cost, order by
  order), orders/s of both and the ratio;
- the hindsight yardstick (per day, the batch allocator over the day's orders, online incumbent):
  the orders/s it adds to a run;
- scenario x replication runs over a local process pool of 2 vs one process: same KPIs, the
  wall-time ratio;
- returns on (12 % of shipped units back after 2-12 days, routed by RouteReturn's optimizer and
  restocked): orders/s of the replay against the same stream without returns (the fast path) and
  against Engine.route one by one (the path a replay with returns takes).

    python -m pytest benchmarks/test_simulation.py --benchmark-only -s            # 20,000 orders
    DOM_BENCH_QUICK=1 python -m pytest benchmarks/test_simulation.py --benchmark-only -q   # CI
    DOM_BENCH_SIM_ORDERS=5000 python -m pytest benchmarks/test_simulation.py --benchmark-only -s

Benchmarks assert correctness, never timings; figures go to extra_info and stdout (-s).
"""

from __future__ import annotations

import os
import time
import tomllib
from dataclasses import replace

import pytest

from dom_engine.app.bootstrap import load_components
from dom_engine.app.config import EngineConfig
from dom_engine.simulation import parse_scenarios, simulate
from dom_engine.simulation.demand import generated_stream
from dom_engine.simulation.executors import LocalPool
from dom_engine.simulation.policies import HindsightPolicy, OnlinePolicy
from dom_engine.simulation.replay import replay
from dom_engine.simulation.return_spec import ReturnsSpec
from dom_engine.simulation.scenarios import Demand, Scenario
from dom_engine.simulation.world import Stock, build_world
from tests.simulation.one_by_one import route_one_by_one

QUICK = os.environ.get("DOM_BENCH_QUICK", "") not in ("", "0", "false", "no")
N_ORDERS = int(os.environ.get("DOM_BENCH_SIM_ORDERS", 1_000 if QUICK else 20_000))
DAYS = max(1, N_ORDERS // 2_000)          # ~2,000 orders a day: a mid-size retailer's year is 1M
BUDGET_MS = 50.0
_SECONDS: dict[str, float] = {}
_COSTS: list[float] = []      # per order, routed one by one


@pytest.fixture(scope="module")
def world():
    components = load_components(EngineConfig())
    skus, on_hand, _, safety = components.store.arrays()
    return build_world(Scenario("base"), components.network, Stock(skus, on_hand, safety),
                       components.rate_card, components.policies)


@pytest.fixture(scope="module")
def stream():
    return sorted(generated_stream(Demand(orders=N_ORDERS, days=DAYS, seed=5)), key=lambda o: o.created_at)


def _once(benchmark, fn):
    return benchmark.pedantic(fn, rounds=1, iterations=1, warmup_rounds=0)


def test_engine_route_one_by_one(benchmark, world, stream):
    route_one_by_one(world, stream[:50], BUDGET_MS)            # kernels and caches warm
    started = time.perf_counter()
    plans = _once(benchmark, lambda: route_one_by_one(world, stream, BUDGET_MS))
    _SECONDS["route"] = time.perf_counter() - started
    _SECONDS["route_cost"] = sum(plan.total_cost for plan in plans)
    _COSTS.extend(plan.total_cost for plan in plans)
    benchmark.extra_info.update(orders=len(stream), orders_per_s=len(stream) / _SECONDS["route"])
    rate = len(stream) / _SECONDS["route"]
    print(f"\nEngine.route one by one: {len(stream)} orders, {rate:,.0f} orders/s")


def test_online_replay(benchmark, world, stream):
    replay(world, stream[:300], BUDGET_MS)                      # the fast path's kernels compiled or loaded
    started = time.perf_counter()
    run = _once(benchmark, lambda: replay(world, stream, BUDGET_MS))
    seconds = time.perf_counter() - started
    cost = sum(o.total_cost for o in run.outcomes)
    if _COSTS:       # identical decisions: the same cost as one by one, order by order and in total
        assert [o.total_cost for o in run.outcomes] == pytest.approx(_COSTS, rel=1e-9, abs=1e-9)
        assert cost == pytest.approx(_SECONDS["route_cost"], rel=1e-9, abs=1e-6)
    _SECONDS["replay"] = seconds
    ratio = _SECONDS["route"] / seconds if "route" in _SECONDS else float("nan")
    benchmark.extra_info.update(orders=len(stream), orders_per_s=len(stream) / seconds,
                                speedup_vs_route=ratio)
    print(f"\nonline replay (fast path): {len(stream) / seconds:,.0f} orders/s, {ratio:.2f}x Engine.route "
          f"one by one (total cost {cost:,.2f}, equal order by order)")


def test_hindsight_replay(benchmark, world, stream):
    day = [o for o in stream if o.created_at.date() == stream[0].created_at.date()]
    online = replay(world, day, BUDGET_MS, policy=OnlinePolicy())
    started = time.perf_counter()
    hindsight = HindsightPolicy(time_budget_ms=10_000)
    run = _once(benchmark, lambda: replay(world, day, BUDGET_MS, policy=hindsight))
    seconds = time.perf_counter() - started
    cost, online_cost = (sum(o.total_cost for o in r.outcomes) for r in (run, online))
    assert cost <= online_cost + 1e-6          # never dearer than online over the same day
    benchmark.extra_info.update(orders=len(day), orders_per_s=len(day) / seconds,
                                hindsight_cost=cost, online_cost=online_cost)
    print(f"\nhindsight over one day ({len(day)} orders): {len(day) / seconds:,.0f} orders/s; "
          f"cost {cost:,.2f} vs online {online_cost:,.2f} (regret {online_cost - cost:,.2f})")


def test_replay_with_returns(benchmark, world, stream):
    returning = replace(world, scenario=replace(world.scenario, returns=ReturnsSpec(rate=0.12,
                                                                                    delay_days=(2.0, 12.0))))
    started = time.perf_counter()
    run = _once(benchmark, lambda: replay(returning, stream, BUDGET_MS))
    seconds = time.perf_counter() - started
    assert (run.start.on_hand + run.received - run.shipped == run.end_on_hand).all()
    assert run.returns and all(r.status == "OPTIMAL" for r in run.returns)
    assert run.received.sum() == sum(r.units_restocked for r in run.returns)
    units = sum(r.units for r in run.returns)
    rate = len(stream) / seconds
    ratios = {key: rate / (len(stream) / _SECONDS[key]) for key in ("replay", "route") if key in _SECONDS}
    benchmark.extra_info.update(orders=len(stream), returns=len(run.returns), units_returned=units,
                                orders_per_s=rate, **{f"ratio_to_{k}": v for k, v in ratios.items()})
    print(f"\nreplay with returns: {len(stream)} orders, {len(run.returns)} returns ({units} units), "
          f"{rate:,.0f} orders/s; x{ratios.get('replay', float('nan')):.2f} the fast path without returns, "
          f"x{ratios.get('route', float('nan')):.2f} Engine.route one by one")


SCENARIOS = """
[base]
time_budget_ms = 50
[base.demand]
orders = {orders}
days = 2
[scenarios.close_ont6]
close = ["ONT6"]
[scenarios.rates_up]
rates_scale = 1.08
[scenarios.warehouses_only]
channel_node_kinds = {{ "" = ["warehouse"], marketplace = ["warehouse"] }}
[scenarios.max_one_shipment]
max_shipments = 1
"""


def test_local_pool_of_two(benchmark, tmp_path_factory):
    text = SCENARIOS.format(orders=400 if QUICK else 2_000)
    spec = parse_scenarios(tomllib.loads(text), tmp_path_factory.mktemp("sim"))
    started = time.perf_counter()
    alone = simulate(spec)
    one = time.perf_counter() - started
    started = time.perf_counter()
    pooled = _once(benchmark, lambda: simulate(spec, executor=LocalPool(2)))
    two = time.perf_counter() - started
    assert pooled.kpis == alone.kpis
    benchmark.extra_info.update(runs=5, one_process_s=one, pool_of_two_s=two, speedup=one / two)
    print(f"\n5 scenario runs: one process {one:.1f} s, pool of 2 {two:.1f} s ({one / two:.2f}x)")
