"""Batch allocation on scarce waves of the demo network: cost and time of (a) sequential
nearest-node routing, (b) sequential per-order optimal routing, (c) route_batch, and (d) its
lower bound, measured in the same run (benchmarks/batch_data.py, benchmarks/batch_measure.py).

    python -m pytest benchmarks/test_batch.py --benchmark-only                 # 1k, 10k, 50k orders
    DOM_BENCH_QUICK=1 python -m pytest benchmarks/test_batch.py --benchmark-only   # 300 orders
    DOM_BENCH_BATCH_SIZES=1000,10000 python -m pytest benchmarks/test_batch.py --benchmark-only

One benchmark round is one whole wave. extra_info holds the costs, c/d, how much cheaper c is
than a and b, fill rates and times; the terminal summary prints them as tables. The baselines run
up to BASELINE_MAX_ORDERS orders (50k is a scaling figure for the batch alone). Plans are checked
against stock and capacities (correctness); timings are never asserted.
"""

from __future__ import annotations

import pytest

from benchmarks.batch_data import BASELINE_MAX_ORDERS, Wave, batch_sizes, budget_ms, wave
from benchmarks.batch_measure import BatchRow, batch, check_feasible, empty_costs, sequential

METHODS = ("sequential-nearest", "sequential-optimal", "route_batch")


@pytest.fixture(scope="module", params=batch_sizes(), ids=lambda n: f"{n}-orders")
def scarce_wave(request: pytest.FixtureRequest) -> Wave:
    """One fixed-seed scarce wave; module scope + params runs the three methods of a size together."""
    w = wave(request.param)
    empty_costs(len(w))     # untimed: what leaving an order out costs, for the sequential totals
    return w


def _scheduled(request: pytest.FixtureRequest, test_name: str, n: int) -> bool:
    return any(getattr(item, "originalname", "") == test_name
               and getattr(getattr(item, "callspec", None), "params", {}).get("scarce_wave") == n
               for item in request.session.items)


def _record(request, results: dict, w: Wave, method: str, outcome, benchmark) -> None:
    """Store this method's outcome; once every scheduled method of this size is in, build the row
    and put the ratios into each test's extra_info."""
    n = len(w)
    results["batch", method, n] = (outcome, benchmark.extra_info)
    tests = {"sequential-nearest": "test_sequential_nearest", "sequential-optimal": "test_sequential_optimal",
             "route_batch": "test_route_batch"}
    wanted = [m for m in METHODS if _scheduled(request, tests[m], n)
              and not (m != "route_batch" and n > BASELINE_MAX_ORDERS)]
    if any(("batch", m, n) not in results for m in wanted) or ("batch", "route_batch", n) not in results:
        return
    got = {m: results.get(("batch", m, n), (None, None))[0] for m in METHODS}
    row = BatchRow(n, w.units, w.supply, budget_ms(n), got["sequential-nearest"], got["sequential-optimal"],
                   got["route_batch"])
    results["batch-row", n] = row
    for m in wanted:
        results["batch", m, n][1].update(row.extra_info())


def _run(benchmark, fn):
    box = []
    benchmark.pedantic(lambda: box.append(fn()), rounds=1, iterations=1)
    return box[0]


def test_sequential_nearest(benchmark, request, scarce_wave, results):
    """(a) The nearest-node rule, order by order, stock and capacity decremented."""
    if len(scarce_wave) > BASELINE_MAX_ORDERS:
        pytest.skip(f"baselines run up to {BASELINE_MAX_ORDERS:,} orders")
    benchmark.group = f"batch {len(scarce_wave):,} orders"
    outcome, plans = _run(benchmark, lambda: sequential(scarce_wave, "nearest"))
    check_feasible(scarce_wave, plans, outcome.method)
    _record(request, results, scarce_wave, outcome.method, outcome, benchmark)


def test_sequential_optimal(benchmark, request, scarce_wave, results):
    """(b) optimize.route per order (each one optimal alone), stock and capacity decremented."""
    if len(scarce_wave) > BASELINE_MAX_ORDERS:
        pytest.skip(f"baselines run up to {BASELINE_MAX_ORDERS:,} orders")
    benchmark.group = f"batch {len(scarce_wave):,} orders"
    outcome, plans = _run(benchmark, lambda: sequential(scarce_wave, "optimal"))
    check_feasible(scarce_wave, plans, outcome.method)
    _record(request, results, scarce_wave, outcome.method, outcome, benchmark)


def test_route_batch(benchmark, request, scarce_wave, results):
    """(c) route_batch on the whole wave, and (d) its lower bound."""
    benchmark.group = f"batch {len(scarce_wave):,} orders"
    outcome, plans = _run(benchmark, lambda: batch(scarce_wave))
    check_feasible(scarce_wave, plans, outcome.method)
    assert outcome.lower_bound <= outcome.cost + 1e-6 * outcome.cost
    _record(request, results, scarce_wave, outcome.method, outcome, benchmark)
