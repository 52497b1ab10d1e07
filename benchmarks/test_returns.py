"""Returns routing (issue 15): what RouteReturn costs in process, against the outbound RouteOrder of
the same demo in the same run (the baseline), and what the optimizer saves against sending every
return to the nearest warehouse. Figures go to extra_info; timings are never asserted, costs are:
the optimizer is never dearer than the rule on any return.

    python -m pytest benchmarks/test_returns.py --benchmark-only -s
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.data import bench_engine, order_set
from benchmarks.measure import bench_each, record_pair
from benchmarks.returns import nearest_centre_cost, returns
from dom_engine.domain import PlanStatus

PAIR: dict[str, tuple[list[float], dict]] = {}


@pytest.mark.parametrize("kind", ["route-order", "route-return"])
def test_route_return_latency_against_route_order(benchmark, n_orders, kind):
    engine = bench_engine()
    benchmark.group = "returns: RouteReturn vs RouteOrder in process"
    if kind == "route-order":
        orders = order_set(3, n_orders).orders
        times, plans = bench_each(benchmark, lambda k: engine.route(orders[k]), len(orders))
        assert all(p.status.has_plan for p in plans)
    else:
        todo = returns(n_orders)
        times, plans = bench_each(benchmark, lambda k: engine.route_return(todo[k]), len(todo))
        assert all(p.status is PlanStatus.OPTIMAL for p in plans)
        rule = [nearest_centre_cost(engine, r) for r in todo]
        costs = [p.net_cost for p in plans]
        assert all(c <= r + 1e-6 for c, r in zip(costs, rule, strict=True))
        benchmark.extra_info.update(net_cost=float(np.sum(costs)), saved=float(np.sum(rule) - np.sum(costs)),
                                    nearest_warehouse_net_cost=float(np.sum(rule)))
    info = benchmark.extra_info
    if times:
        info.update(p50_ms=1000 * float(np.median(times)), p99_ms=1000 * float(np.percentile(times, 99)))
    record_pair(PAIR, kind, times, info, "route-order", "route-return", "_to_route_order")
