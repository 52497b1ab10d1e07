"""Run the benchmark measurements without pytest and print Markdown tables.

    python -m benchmarks.report                 # 200 orders per size (about a minute)
    python -m benchmarks.report --quick         # 30 orders per size
    python -m benchmarks.report --orders 100 --sizes 1 5 10 --no-grpc --no-thin

Same instances and the same per-order work as the pytest suites (benchmarks/data.py,
benchmarks/measure.py): for each order size, the plain OR-Tools baseline (build_problem +
solve_cpsat, 1 worker, proven optimal) and the engine (optimize.route on pre-read stock), each over
every order once after a few warm-up orders; then gRPC RouteOrder on a loopback server vs
Engine.route in process, and a health check; then thin-stock orders (benchmarks/thin_stock.py).
Ratios are baseline p / engine p of the same run.
Exits 1 if an objective differs from the proven optimum or a wire plan from the in-process plan.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

if __package__ in (None, ""):  # `python benchmarks/report.py`: make `benchmarks` importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ortools

from benchmarks import thin_stock
from benchmarks.data import (
    BENCH_NOW,
    DELIVER_IN_DAYS,
    N_LINES,
    POLICY,
    TARGET_MAX_LINES,
    TARGET_P50_MS,
    TARGET_P99_MS,
    demo,
    order_set,
    orders_per_size,
)
from benchmarks.measure import (
    CPSAT_TIME_LIMIT_S,
    TIME_BUDGET_MS,
    GrpcRow,
    RouteRow,
    build_one,
    cpsat_one,
    grpc_harness,
    grpc_table,
    mismatches,
    objectives_match,
    percentiles_ms,
    route_one,
    route_table,
    same_plan,
    solver_paths,
    time_each,
)

# Thin-stock orders in the report: at most this many, plain CP-SAT limited to this many seconds
# each (a few take minutes to prove; `python -m benchmarks.thin_stock` runs the full 150).
THIN_ORDERS = 100
THIN_CPSAT_LIMIT_S = 5.0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def measure_route(n_lines: int, n_orders: int) -> tuple[RouteRow, list[str]]:
    d, orders = demo(), order_set(n_lines, n_orders)
    c_times, sols = time_each(lambda k: cpsat_one(d, orders, k), n_orders)
    e_times, plans = time_each(lambda k: route_one(d, orders, k), n_orders)
    b_times, _ = time_each(lambda k: build_one(d, orders, k), n_orders)
    bad = mismatches(plans, sols)
    bad += [f"{o.order_id}: CP-SAT not proven optimal" for o, s in zip(orders.orders, sols, strict=True)
            if not s.proven_optimal]
    row = RouteRow(n_lines, e_times, c_times, sum(map(objectives_match, plans, sols)), n_orders,
                   solver_paths(plans), b_times)
    row.multi = _multi_shipment_levels(lambda k: route_one(d, orders, k), n_orders)
    return row, bad


def _multi_shipment_levels(run, n_orders: int) -> list[bool] | None:
    """Untimed diagnostic pass: which orders made the fast search enumerate sets of two or more
    shipments (it then builds the option dominance matrix). None if the internals have moved."""
    from dom_engine.optimize import search

    original = getattr(search, "dominance", None)
    if original is None:
        return None
    hit: list[bool] = []

    def counting(*args, **kwargs):
        hit[-1] = True
        return original(*args, **kwargs)

    search.dominance = counting
    try:
        for k in range(n_orders):
            hit.append(False)
            run(k)
    finally:
        search.dominance = original
    return hit


def measure_grpc(sizes: tuple[int, ...], n_orders: int) -> tuple[list[GrpcRow], list[float], list[str]]:
    rows, bad = [], []
    with grpc_harness() as h:
        for n in sizes:
            _log(f"  gRPC {n} lines ...")
            orders = order_set(n, n_orders)
            reqs = h.requests(orders)
            i_times, plans = time_each(lambda k, o=orders: h.engine.route(o.orders[k]), n_orders)
            w_times, wire = time_each(lambda k, r=reqs: h.route_order(r[k]), n_orders)
            same = [same_plan(p, w) for p, w in zip(plans, wire, strict=True)]
            bad += [f"{p.order_id}: wire plan differs" for p, ok in zip(plans, same, strict=True) if not ok]
            rows.append(GrpcRow(n, i_times, w_times, sum(same), n_orders))
        health, _ = time_each(lambda k: h.health_check(), max(n_orders, 200))
    return rows, health, bad


def _ms(value: float) -> str:
    return "—" if value != value else f"{value:.3f} ms"


def breakdown_table(rows: list[RouteRow]) -> str:
    """Where the time goes: build_problem (numpy model, shared by both paths) vs the rest, and the
    engine's two regimes: orders settled among single shipments vs those that search pairs+."""
    out = ["| n_lines | build_problem p50 | engine p50 − build | OR-Tools p50 − build "
           "| build share of engine p50 | orders searching ≥ 2-shipment sets | their engine p50 "
           "| others' engine p50 |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b50 = percentiles_ms(r.build_s)[0]
        e50, c50 = r.engine[0], r.cpsat[0]
        multi = r.multi
        if multi is None:
            split = "— | — | —"
        else:
            deep = [t for t, m in zip(r.engine_s, multi, strict=True) if m]
            flat = [t for t, m in zip(r.engine_s, multi, strict=True) if not m]
            split = (f"{len(deep)}/{len(multi)} | {_ms(percentiles_ms(deep)[0])} | "
                     f"{_ms(percentiles_ms(flat)[0])}")
        out.append(f"| {r.n_lines} | {b50:.3f} ms | {e50 - b50:.3f} ms | {c50 - b50:.1f} ms | "
                   f"{100 * b50 / e50:.0f}% | {split} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, help="orders per size (default 200; 30 with --quick)")
    parser.add_argument("--quick", action="store_true", help="30 orders per size (CI)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(N_LINES), help="lines per order")
    parser.add_argument("--no-grpc", action="store_true", help="skip the gRPC measurements")
    parser.add_argument("--no-thin", action="store_true", help="skip the thin-stock orders")
    args = parser.parse_args(argv)
    n_orders = args.orders if args.orders is not None else orders_per_size(args.quick or None)
    if n_orders < 1:
        parser.error("--orders must be >= 1")
    sizes = tuple(args.sizes)

    started = time.perf_counter()
    demo()
    rows, bad = [], []
    for n in sizes:
        _log(f"  route {n} lines: {n_orders} orders, CP-SAT then engine ...")
        row, row_bad = measure_route(n, n_orders)
        rows.append(row)
        bad += row_bad
    grpc_rows, health = [], []
    if not args.no_grpc:
        grpc_rows, health, grpc_bad = measure_grpc(sizes, n_orders)
        bad += grpc_bad
    thin = None
    if not args.no_thin:
        _log(f"  thin stock: {min(n_orders, THIN_ORDERS)} orders, engine then CP-SAT ...")
        thin = thin_stock.measure(min(n_orders, THIN_ORDERS), THIN_CPSAT_LIMIT_S)
        bad += thin["bad"]
    elapsed = time.perf_counter() - started

    print(f"Demo network: 100 nodes (10 fulfillment centres + 90 stores), 5,000 SKUs; {n_orders} fixed-seed "
          f"orders per size, distinct SKUs, promise in {DELIVER_IN_DAYS} days, policy {POLICY!r}, "
          f"clock {BENCH_NOW.isoformat()}. Per-order wall time (perf_counter) after 5 warm-up orders; "
          f"p50/p99 by linear interpolation; ratio = OR-Tools / engine at the same percentile. "
          f"Engine = optimize.route (budget {TIME_BUDGET_MS:g} ms) on pre-read stock; OR-Tools = "
          f"build_problem + solve_cpsat (1 worker, limit {CPSAT_TIME_LIMIT_S:g} s, every order proven "
          f"optimal). Target: p50 ≤ {TARGET_P50_MS:g} ms and p99 ≤ {TARGET_P99_MS:g} ms up to "
          f"{TARGET_MAX_LINES} lines, identical objectives.")
    print(f"Python {platform.python_version()}, OR-Tools {ortools.__version__}, {platform.machine()}, "
          f"measured in {elapsed:.0f} s.\n")
    print(route_table(rows))
    print()
    print(breakdown_table(rows))
    if grpc_rows or health:
        print()
        print(grpc_table(grpc_rows, health))
    if thin is not None:
        print(f"\nThin stock (benchmarks/thin_stock.py: 20-100 nodes, each SKU at 15-60 % of them 1-5 units "
              f"deep, 1-10 lines of 1-12 units; engine budget {thin_stock.BUDGET_MS:g} ms, plain CP-SAT "
              f"limit {THIN_CPSAT_LIMIT_S:g} s):\n")
        print(thin_stock.table(thin_stock.summary(thin)))
    if bad:
        print(f"\nCORRECTNESS FAILURES ({len(bad)}):", *bad[:20], sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
