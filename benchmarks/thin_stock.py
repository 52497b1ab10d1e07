"""Single orders where stock is thin (issue 13's yardstick), in one run:

    python -m benchmarks.thin_stock              # 150 orders
    python -m benchmarks.thin_stock --orders 40 --cpsat-limit 2
    python -m benchmarks.thin_stock --runner-up-ms 0     # without proving the explanation's runner-up

Orders from dom_engine.testing.thin_stock_instance (20-100 nodes, each SKU at 15-60 % of them
1-5 units deep, 1-10 lines of 1-12 units, a third capped at 1-3 shipments, half without
backorders). For each order: the engine (solve_order, default 50 ms budget) and the plain CP-SAT
model of the same problem (build_problem + solve_cpsat, 1 worker, up to --cpsat-limit seconds).
Reports the engine's statuses and solver paths, how many answers are proven (OPTIMAL or
INFEASIBLE), p50 / p90 / p99 of both, and their ratio at p50; exits 1 if an OPTIMAL engine plan
is dearer than a proven CP-SAT optimum or an INFEASIBLE answer meets a CP-SAT plan.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

if __package__ in (None, ""):
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from dom_engine.domain import PlanStatus, PolicyProfile
from dom_engine.domain.stop import Deadline
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.optimize.cpsat import solve_cpsat
from dom_engine.optimize.params import SearchParams
from dom_engine.optimize.problem import build_problem
from dom_engine.testing.builders import thin_stock_instance

BUDGET_MS = 50.0
POLICY = PolicyProfile()


def measure(n_orders: int, cpsat_limit_s: float = 10.0, params: SearchParams | None = None) -> dict:
    """Per order: engine status, solver, time; CP-SAT time, proof, objective; and disagreements.
    `params`: the engine's search settings (default: the shipped ones)."""
    from dom_engine.optimize.compiled_search import warm_up

    warm_up()
    import scipy.optimize  # noqa: F401  (loaded once here, as a server's warm-up does)

    rows, bad = [], []
    for seed in range(n_orders):
        inst = thin_stock_instance(seed)
        problem = OrderProblem(inst.order, inst.stock, inst.network, inst.rate_card, POLICY, inst.now)
        started = time.perf_counter()
        plan = solve_order(problem, Deadline.after_ms(BUDGET_MS), params or SearchParams())
        engine_s = time.perf_counter() - started
        started = time.perf_counter()
        p = build_problem(inst.order, inst.stock, inst.network, inst.rate_card, POLICY, inst.now)
        cp = None if p.infeasible_reason else solve_cpsat(p, time_limit_s=cpsat_limit_s)
        cpsat_s = time.perf_counter() - started
        cp_proven = cp is None or cp.proven_optimal
        cp_objective = np.inf if cp is None else cp.objective
        alt = plan.explanation.alternative
        rows.append((plan.status, plan.solver, engine_s, cpsat_s, cp_proven, alt is not None and alt.exact))
        if plan.status is PlanStatus.OPTIMAL and cp_proven and plan.objective > cp_objective + 1e-3:
            bad.append(f"seed {seed}: OPTIMAL {plan.objective:.4f} > CP-SAT optimum {cp_objective:.4f}")
        if plan.status is PlanStatus.INFEASIBLE and np.isfinite(cp_objective):
            bad.append(f"seed {seed}: INFEASIBLE, but CP-SAT found a plan of {cp_objective:.4f}")
    return {"rows": rows, "bad": bad}


def summary(result: dict) -> dict:
    rows = result["rows"]
    engine = np.array([r[2] for r in rows]) * 1000
    cpsat = np.array([r[3] for r in rows]) * 1000
    proven = sum(r[0] in (PlanStatus.OPTIMAL, PlanStatus.INFEASIBLE) for r in rows)
    return {
        "orders": len(rows), "proven": proven,
        "statuses": dict(Counter(r[0].name for r in rows)),
        "paths": dict(Counter(r[1] for r in rows)),
        "engine_ms": [float(np.percentile(engine, q)) for q in (50, 90, 99)],
        "cpsat_ms": [float(np.percentile(cpsat, q)) for q in (50, 90, 99)],
        "cpsat_proven": sum(r[4] for r in rows),
        "ratio_p50": float(np.median(cpsat) / np.median(engine)),
        "exact_alternatives": sum(r[5] for r in rows),
    }


def table(s: dict) -> str:
    e, c = s["engine_ms"], s["cpsat_ms"]
    return "\n".join([
        "| orders | engine proven | statuses | engine p50 / p90 / p99 | plain CP-SAT p50 / p90 / p99 "
        "(proven) | ratio at p50 |",
        "|---|---|---|---|---|---|",
        f"| {s['orders']} | {s['proven']} ({s['proven'] / s['orders']:.0%}) | "
        f"{', '.join(f'{k} {v}' for k, v in sorted(s['statuses'].items()))} | "
        f"{e[0]:.2f} / {e[1]:.1f} / {e[2]:.1f} ms | {c[0]:.1f} / {c[1]:.0f} / {c[2]:.0f} ms "
        f"({s['cpsat_proven']}) | {s['ratio_p50']:.1f}x |",
        "",
        "Engine solver paths: " + ", ".join(f"{k} {v}" for k, v in sorted(s["paths"].items()))
        + f"; runner-up (explanation) proven on {s['exact_alternatives']}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--cpsat-limit", type=float, default=10.0, help="seconds per order for CP-SAT")
    parser.add_argument("--runner-up-ms", type=float, default=SearchParams().runner_up_ms,
                        help="[solver.search] runner_up_ms for the engine (0: no runner-up proof)")
    args = parser.parse_args(argv)
    result = measure(args.orders, args.cpsat_limit, SearchParams(runner_up_ms=args.runner_up_ms))
    print(f"Thin stock: {args.orders} orders (thin_stock_instance seeds 0..{args.orders - 1}), engine "
          f"budget {BUDGET_MS:g} ms, CP-SAT limit {args.cpsat_limit:g} s.\n")
    print(table(summary(result)))
    for line in result["bad"]:
        print("DISAGREES:", line)
    return 1 if result["bad"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
