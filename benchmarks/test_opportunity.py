"""Inventory-aware routing (issue 14): what prices cost at routing time, how long the fluid LP takes,
and what they buy on the published protocol. Figures go to extra_info; timings are never asserted.

- Engine.route on the demo's 5-line orders, the cost policy vs the same policy inventory-aware
  with published prices, same orders in the same run: p50 / p99 and their ratios.
- The fluid LP of a demo forecast (sampled demo orders as prototypes) on the demo stock.
- The protocol's warm-up network, one instance and sequence (benchmarks/protocol.py): cost / DLP
  of every policy; asserted: inventory-aware is cheaper than the engine's myopic optimum there.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmarks.data import BENCH_NOW, BENCH_SEED, DELIVER_IN_DAYS, demo, order_set
from benchmarks.measure import bench_each, record_pair
from benchmarks.protocol import POLICIES, measure
from dom_engine.app.engine import Engine
from dom_engine.domain import Mode
from dom_engine.domain.opportunity import Forecast
from dom_engine.io.demo import demo_inventory, demo_network, demo_rate_card, random_order

PAIR: dict[str, tuple[list[float], dict]] = {}
N_LINES = 5
FORECAST_ORDERS = 2_000


def _forecast() -> Forecast:
    rng = np.random.default_rng([BENCH_SEED, 14])
    orders = tuple(random_order(rng, int(rng.integers(1, 6)), order_id=f"F-{k}",
                                deliver_in_days=DELIVER_IN_DAYS, today=BENCH_NOW.date(), created_at=BENCH_NOW)
                   for k in range(FORECAST_ORDERS))
    return Forecast(orders, np.full(len(orders), 5.0), 7.0)


def _engine(inventory_aware: bool) -> Engine:
    d = demo()
    network = demo_network(BENCH_SEED)
    mode = Mode.INVENTORY_AWARE if inventory_aware else d.policy.mode
    policy = replace(d.policy, name="default", mode=mode)
    return Engine(network, demo_rate_card(), demo_inventory(network, BENCH_SEED, clock=lambda: BENCH_NOW),
                  policies={"default": policy}, clock=lambda: BENCH_NOW)


@pytest.mark.parametrize("inventory_aware", [False, True], ids=["cost", "inventory-aware"])
def test_route_latency_with_prices(benchmark, n_orders, inventory_aware):
    engine = _engine(inventory_aware)
    if inventory_aware:
        got = engine.refresh_prices(_forecast())
        benchmark.extra_info.update(priced_pairs=int((got.prices.values > 0).sum()),
                                    fluid_s=round(got.fluid.seconds, 2))
    orders = order_set(N_LINES, n_orders).orders
    benchmark.group = "route with opportunity prices"
    times, plans = bench_each(benchmark, lambda k: engine.route(orders[k]), len(orders))
    if inventory_aware:   # the prices were used: fresh, in the objective
        assert not any("no fresh" in b for p in plans for b in p.explanation.binding)
    info = benchmark.extra_info
    if times:
        info.update(p50_ms=1000 * float(np.median(times)), p99_ms=1000 * float(np.percentile(times, 99)))
    key = "inventory-aware" if inventory_aware else "cost"
    record_pair(PAIR, key, times, info, "cost", "inventory-aware")


def test_fluid_lp_on_the_demo(benchmark):
    engine = _engine(True)
    forecast = _forecast()
    got = benchmark.pedantic(lambda: engine.refresh_prices(forecast), rounds=1, iterations=1)
    benchmark.extra_info.update(prototypes=got.prototypes, rounds=got.fluid.rounds, plans=got.fluid.columns,
                                converged=got.fluid.converged, objective=got.fluid.objective)
    assert got.fluid.converged and got.fluid.lower_bound <= got.fluid.objective * (1 + 1e-6)


def test_protocol_warm_up(benchmark):
    result = benchmark.pedantic(lambda: measure("warm-up", 1, 1, log=lambda *_: None), rounds=1, iterations=1)
    row = result["rows"][0]
    ratios = {name: row["cost"][name] / row["dlp"] for name in POLICIES}
    benchmark.extra_info.update({f"cost/DLP {k}": round(v, 4) for k, v in ratios.items()})
    assert ratios["engine (inventory-aware)"] < ratios["engine (myopic)"]
