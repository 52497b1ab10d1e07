"""Run the batch benchmark without pytest and print Markdown tables.

    python -m benchmarks.batch_report                    # 1k, 10k (with baselines) and 50k orders
    python -m benchmarks.batch_report --quick            # 300 orders
    python -m benchmarks.batch_report --sizes 1000 10000 --no-baselines
    python -m benchmarks.batch_report --sizes 10000 --no-baselines --budget-ms 60000

The same waves and work as benchmarks/test_batch.py (benchmarks/batch_data.py,
benchmarks/batch_measure.py): per size, (a) sequential nearest-node routing, (b) sequential
per-order optimal routing, (c) route_batch and (d) its lower bound, in one run; c / d and how much
cheaper c is than a and b are ratios of that run. Exits 1 if a method's plans exceed the stock or a
node's capacity.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

if __package__ in (None, ""):  # `python benchmarks/batch_report.py`: make `benchmarks` importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ortools

from benchmarks.batch_data import (
    BACKORDER_SHARE,
    BASELINE_MAX_ORDERS,
    BATCH_NOW,
    LOST_SALE_PER_UNIT,
    MARKETPLACE_SHARE,
    PROMISE_DAYS,
    REGION_FACTORS,
    SUPPLY_HIGH,
    SUPPLY_LOW,
    batch_sizes,
    budget_ms,
    wave,
)
from benchmarks.batch_measure import (
    BatchRow,
    batch,
    check_feasible,
    cost_table,
    empty_costs,
    sequential,
    time_table,
)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def measure(n_orders: int, baselines: bool = True) -> BatchRow:
    w = wave(n_orders)
    empty_costs(n_orders)
    outcomes = {}
    methods = ("nearest", "optimal") if baselines and n_orders <= BASELINE_MAX_ORDERS else ()
    for method in methods:
        _log(f"  {n_orders:,} orders: sequential {method} ...")
        outcome, plans = sequential(w, method)
        check_feasible(w, plans, outcome.method)
        outcomes[method] = outcome
    _log(f"  {n_orders:,} orders: route_batch (budget {budget_ms(n_orders) / 1000:g} s) ...")
    outcome, plans = batch(w)
    check_feasible(w, plans, outcome.method)
    return BatchRow(n_orders, w.units, w.supply, budget_ms(n_orders), outcomes.get("nearest"),
                    outcomes.get("optimal"), outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 orders (CI)")
    parser.add_argument("--sizes", type=int, nargs="+",
                        help="orders per wave (default 1000 10000 50000; 100000 runs when asked)")
    parser.add_argument("--no-baselines", action="store_true", help="only route_batch and its bound")
    parser.add_argument("--budget-ms", type=float, help="route_batch's budget for every size (default: 10 s "
                        "up to 10,000 orders, 30 s for 50,000, 60 s for 100,000)")
    args = parser.parse_args(argv)
    sizes = tuple(args.sizes) if args.sizes else batch_sizes(args.quick or None)
    if args.budget_ms is not None:
        if not args.budget_ms > 0:
            parser.error(f"--budget-ms must be > 0, got {args.budget_ms}")
        os.environ["DOM_BENCH_BATCH_BUDGET_MS"] = str(args.budget_ms)
    if any(n < 1 for n in sizes):
        parser.error("--sizes must be >= 1")
    started = time.perf_counter()
    rows = []
    try:
        for n in sizes:
            rows.append(measure(n, not args.no_baselines))
    except AssertionError as exc:
        print(f"CORRECTNESS FAILURE: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"Scarce waves on the demo network (100 nodes: 10 fulfillment centres + 90 stores, 5,000 SKUs), "
          f"orders from demo.order_stream, clock {BATCH_NOW.isoformat()}. Stock re-drawn per wave: each SKU "
          f"gets U({SUPPLY_LOW:g}, {SUPPLY_HIGH:g}) x its demand, West / centre / East nodes weighted "
          f"{' / '.join(f'{f:g}' for f in REGION_FACTORS)}; {100 * BACKORDER_SHARE:.0f}% of orders accept "
          f"backorders, {100 * MARKETPLACE_SHARE:.0f}% are marketplace (warehouses only), promises "
          f"{PROMISE_DAYS[0]}-{PROMISE_DAYS[1]} days; demo store shipment caps. Policy: demo default plus "
          f"{LOST_SALE_PER_UNIT:g} per unfilled unit. Cost = the batch objective (money + unfilled "
          f"penalties; an order left out is charged P0 + sum P*Q). Sequential methods route in arrival "
          f"order on the stock the earlier orders left; baselines up to {BASELINE_MAX_ORDERS:,} orders.")
    print(f"Python {platform.python_version()}, OR-Tools {ortools.__version__}, {platform.machine()}, "
          f"measured in {elapsed:.0f} s (wall time, one run; the machine may be shared).\n")
    print(cost_table(rows))
    print()
    print(time_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
