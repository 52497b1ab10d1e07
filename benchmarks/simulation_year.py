"""The issue's scale run: a year of a mid-size retailer on the demo network (1,000,000 generated
orders over 365 days) x the base and the 4 scenarios of examples/whatif.toml x 1 replication in
online mode, reporting wall time, orders/s and peak memory (this process and the largest worker).

    python -m benchmarks.simulation_year                          # 1,000,000 orders, --jobs 2
    python -m benchmarks.simulation_year --orders 100000 --days 90 --jobs 2 --out /tmp/year

Not part of the pytest run (minutes: the online replay's fast path routes ~8,000 demo orders/s per
core); the pytest benchmarks in benchmarks/test_simulation.py measure the per-order speed.
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

# The four scenarios of the example planners start from; the year replaces its demand.
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "whatif.toml"


def year_of(orders: int, days: int, replenish_every_days: int = 7) -> dict:
    """examples/whatif.toml with one replication of `orders` generated orders over `days` days from
    2026-01-05 (its closing date, 2026-03-04, needs at least 59 days), stock topped back up to its
    starting level every `replenish_every_days` (a year without replenishment runs dry in weeks)."""
    data = tomllib.loads(EXAMPLE.read_text())
    data["base"]["replications"] = 1
    data["base"]["replenish_every_days"] = replenish_every_days
    data["base"]["demand"].update(orders=orders, days=days, start="2026-01-05")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--replenish-every-days", type=int, default=7, help="0: never")
    parser.add_argument("--out", type=Path, help="also write the outputs (report, Parquet) there")
    args = parser.parse_args()
    data = year_of(args.orders, args.days, args.replenish_every_days)
    spec = parse_scenarios(data, EXAMPLE.parent, EXAMPLE)
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
