"""Engine (`optimize.route`) vs the plain OR-Tools CP-SAT model on the same fixed-seed orders.

Per order size: the baseline (`build_problem` + `solve_cpsat`, 1 worker, proven optimal) and the
engine are benchmarked one order per round; extra_info holds p50/p99 of each, the ratio
CP-SAT / engine at p50 and p99, the solver paths the engine took and how many objectives matched.
A mismatch fails the test (correctness); timings are never asserted.
"""

from __future__ import annotations

from benchmarks.conftest import scheduled
from benchmarks.measure import (
    RouteRow,
    bench_each,
    cpsat_one,
    mismatches,
    objectives_match,
    route_one,
    solver_paths,
)


def _cross_check(results: dict, n_lines: int) -> None:
    """Once both sides of one size are in (whichever test runs second): compare objectives order by
    order, put the ratios into both tests' extra_info and keep the row for the summary."""
    engine, cpsat = results.get(("route-engine", n_lines)), results.get(("route-cpsat", n_lines))
    if engine is None or cpsat is None:
        return
    (e_times, plans, e_info), (c_times, sols, c_info) = engine, cpsat
    row = RouteRow(n_lines, e_times, c_times, sum(map(objectives_match, plans, sols)), len(plans),
                   solver_paths(plans))
    for info in (e_info, c_info):
        if e_times and c_times:
            info.update(row.extra_info())
        else:
            info.update(objectives_matched=row.matched, orders=row.total, solver_paths=row.paths)
    if e_times and c_times:
        results["route-row", n_lines] = row
    bad = mismatches(plans, sols)
    assert not bad, (f"{len(bad)} of {len(plans)} objectives differ from the proven optimum:\n"
                     + "\n".join(bad))


def _other_side(request, results: dict, key: tuple, other_test: str, fn, n: int) -> None:
    """If the other side of this size was deselected (-k), compute its outputs untimed, so the
    objectives are still compared on every order."""
    if key not in results and not scheduled(request, other_test, key[1]):
        results[key] = ([], [fn(k) for k in range(n)], {})


def test_cpsat_baseline(benchmark, request, bench_demo, orders, results):
    """Plain OR-Tools: build the problem and solve its CP-SAT model to proven optimality."""
    n = orders.n_lines
    benchmark.group = f"route {n:2d} lines"
    benchmark.extra_info.update(n_lines=n, measured="build_problem + solve_cpsat (1 worker)")
    times, sols = bench_each(benchmark, lambda k: cpsat_one(bench_demo, orders, k), len(orders))
    unproven = [orders.orders[k].order_id for k, s in enumerate(sols) if not s.proven_optimal]
    assert not unproven, f"CP-SAT did not prove optimality within its time limit: {unproven}"
    results["route-cpsat", n] = (times, sols, benchmark.extra_info)
    _other_side(request, results, ("route-engine", n), "test_engine_route",
                lambda k: route_one(bench_demo, orders, k), len(orders))
    _cross_check(results, n)


def test_engine_route(benchmark, request, bench_demo, orders, results):
    """The engine's entry point: numpy pruning, exact fast search, CP-SAT only as a fallback."""
    n = orders.n_lines
    benchmark.group = f"route {n:2d} lines"
    benchmark.extra_info.update(n_lines=n, measured="optimize.route")
    times, plans = bench_each(benchmark, lambda k: route_one(bench_demo, orders, k), len(orders))
    results["route-engine", n] = (times, plans, benchmark.extra_info)
    _other_side(request, results, ("route-cpsat", n), "test_cpsat_baseline",
                lambda k: cpsat_one(bench_demo, orders, k), len(orders))
    _cross_check(results, n)
