"""Decision quality and the hard tail, in the same run:

    python -m benchmarks.quality            # 200 orders per size
    python -m benchmarks.quality --quick    # 30

1. Cost of the engine's plans against the rules most commercial engines use, on the same fixed-seed
   demo orders as benchmarks/report.py: nearest node that ships complete (else nearest per line),
   and a static ranked-location list (the 10 fulfillment centres in file order, then stores).
2. The hard tail: random sparse networks (100 nodes, each SKU at half the nodes, 1-6 units deep,
   no backorder) where few nodes ship a 10- or 20-line order complete — the orders the fast search
   hands to CP-SAT. Reports paths, statuses, time and the proven gap within the 50 ms budget.
"""

from __future__ import annotations

import argparse
import sys
import time

if __package__ in (None, ""):
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.data import N_LINES, demo, order_set, orders_per_size
from benchmarks.measure import TIME_BUDGET_MS
from dom_engine.domain import PolicyProfile
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.baselines import route_nearest, route_ranked
from dom_engine.testing import random_instance


def ranking(network) -> list[str]:
    """A typical static list: warehouses first (in file order), then stores."""
    nodes = sorted(network.nodes, key=lambda n: n.kind.value != "warehouse")
    return [n.node_id for n in nodes]


def quality_rows(n_orders: int, sizes=N_LINES) -> list[tuple]:
    d = demo()
    rank = ranking(d.network)
    rows = []
    for n in sizes:
        orders = order_set(n, n_orders)
        totals = np.zeros(3)
        shipments = np.zeros(3)
        for order, stock in zip(orders.orders, orders.stocks, strict=True):
            plans = (solve_order(OrderProblem(order, stock, d.network, d.rate_card, d.policy, d.now),
                                 Deadline.after_ms(TIME_BUDGET_MS)),
                     route_nearest(order, stock, d.network, d.rate_card, d.policy, d.now),
                     route_ranked(order, stock, d.network, d.rate_card, d.policy, d.now, rank))
            if plans[0].objective > min(p.objective for p in plans[1:]) + 1e-9:
                raise AssertionError(f"{order.order_id}: a rule beat the optimiser")
            totals += [p.total_cost for p in plans]
            shipments += [len(p.shipments) for p in plans]
        rows.append((n, totals, shipments / n_orders))
    return rows


def quality_table(rows) -> str:
    out = ["| n_lines | engine cost | nearest-node cost | ranked-list cost | saving vs nearest | "
           "saving vs ranked | shipments/order engine · nearest · ranked |",
           "|---|---|---|---|---|---|---|"]
    for n, t, s in rows:
        out.append(f"| {n} | {t[0]:,.0f} | {t[1]:,.0f} | {t[2]:,.0f} | {1 - t[0] / t[1]:.1%} | "
                   f"{1 - t[0] / t[2]:.1%} | {s[0]:.2f} · {s[1]:.2f} · {s[2]:.2f} |")
    return "\n".join(out)


def hard_rows(n_orders: int, sizes=(5, 10, 20)) -> list[tuple]:
    policy = PolicyProfile()
    rows = []
    for n in sizes:
        times, gaps, paths, statuses = [], [], {}, {}
        for seed in range(n_orders):
            inst = random_instance(seed, n_nodes=100, n_lines=n, n_skus=50, promise_days=4)
            t = time.perf_counter()
            plan = solve_order(OrderProblem(inst.order, inst.stock, inst.network, inst.rate_card, policy,
                                            inst.now), Deadline.after_ms(TIME_BUDGET_MS))
            times.append(time.perf_counter() - t)
            gaps.append(plan.gap)
            paths[plan.solver] = paths.get(plan.solver, 0) + 1
            statuses[plan.status.value] = statuses.get(plan.status.value, 0) + 1
        rows.append((n, np.array(times) * 1000, np.array(gaps), paths, statuses))
    return rows


def hard_table(rows) -> str:
    out = ["| n_lines | p50 | p99 | statuses | solver paths | gap p50 | gap max |",
           "|---|---|---|---|---|---|---|"]
    for n, t, g, paths, statuses in rows:
        out.append(f"| {n} | {np.median(t):.2f} ms | {np.percentile(t, 99):.1f} ms | "
                   f"{', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))} | "
                   f"{', '.join(f'{k} {v}' for k, v in sorted(paths.items()))} | "
                   f"{np.median(g):.2%} | {g.max():.2%} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n_orders = args.orders or orders_per_size(args.quick or None)
    print(f"Demo network, {n_orders} fixed-seed orders per size (same orders as benchmarks.report); "
          "cost = shipping + unfilled penalties, USD.\n")
    print(quality_table(quality_rows(n_orders)))
    print(f"\nHard tail: random sparse 100-node instances, {min(n_orders, 50)} per size, "
          f"budget {TIME_BUDGET_MS:g} ms.\n")
    print(hard_table(hard_rows(min(n_orders, 50))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
