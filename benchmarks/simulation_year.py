"""The issue's scale run: a year of a mid-size retailer on the demo network (1,000,000 generated
orders over 365 days) x the base and 4 scenarios x 1 replication in online mode, reporting wall
time, orders/s and peak memory (this process and the largest worker).

    python -m benchmarks.simulation_year                          # 1,000,000 orders, --jobs 2
    python -m benchmarks.simulation_year --orders 100000 --days 50 --jobs 2 --out /tmp/year

Not part of the pytest run (an hour and more at today's ~400 orders/s per core); the pytest
benchmarks in benchmarks/test_simulation.py measure the per-order speed it depends on.
"""

from __future__ import annotations

import argparse
import resource
import time
import tomllib
from pathlib import Path

from dom_engine.simulation import parse_scenarios, simulate
from dom_engine.simulation.executors import make_executor
from dom_engine.simulation.outputs import write_outputs

SCENARIOS = """
[base]
seed = 7
time_budget_ms = 50
[base.demand]
orders = {orders}
days = {days}
start = "2026-01-05"
seed = 1
[scenarios.close_ont6]
close = ["ONT6"]
[scenarios.rates_up_8pct]
rates_scale = 1.08
[scenarios.stores_stop_shipping]
channel_node_kinds = {{ "" = ["warehouse", "dropship"], marketplace = ["warehouse", "dropship"] }}
[scenarios.rebalance_east_west]
stock_move = [{{ from = "AVP3", to = "OAK4", share = 0.2 }}, {{ from = "RIC2", to = "PHX6", share = 0.2 }}]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the outputs (report, Parquet) there")
    args = parser.parse_args()
    spec = parse_scenarios(tomllib.loads(SCENARIOS.format(orders=args.orders, days=args.days)), Path("."))
    started = time.perf_counter()
    result = simulate(spec, executor=make_executor("local", args.jobs))
    if args.out:
        write_outputs(result, args.out)
    wall = time.perf_counter() - started
    routed = sum(int(result.kpis[name][0]["orders"]) for name in result.scenarios)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{args.orders:,} orders x {len(result.scenarios)} scenarios, --jobs {args.jobs}: "
          f"wall {wall:,.0f} s, {routed / wall:,.0f} orders/s in all; "
          f"peak RSS {own:,.0f} MB (this process), {workers:,.0f} MB (largest worker)")
    for name in result.scenarios:
        print(f"  {name:<24} cost_with_unserved {result.mean(name, 'cost_with_unserved'):>16,.2f}  "
              f"fill_rate {result.mean(name, 'fill_rate'):.4f}")


if __name__ == "__main__":
    main()
