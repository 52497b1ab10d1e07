"""Decision quality: the engine's plans against the rule-based baselines on the benchmark orders.

Behaviour, not timing: no rule may beat the optimiser on any order (quality_rows raises). The costs
and savings go to extra_info for the record; `python -m benchmarks.quality` prints them as a table.
"""

from __future__ import annotations

from benchmarks.data import orders_per_size
from benchmarks.quality import hard_rows, quality_rows


def test_engine_vs_rules(benchmark):
    rows = benchmark.pedantic(quality_rows, args=(orders_per_size(),), rounds=1, iterations=1)
    for n, totals, shipments in rows:
        benchmark.extra_info[f"{n}_lines"] = {
            "engine_cost": round(float(totals[0]), 2), "nearest_cost": round(float(totals[1]), 2),
            "ranked_cost": round(float(totals[2]), 2),
            "shipments_per_order": [round(float(s), 2) for s in shipments],
        }
        assert totals[0] <= totals[1] + 1e-6 and totals[0] <= totals[2] + 1e-6


def test_hard_tail_always_returns_a_plan(benchmark):
    """Sparse random instances that fall back to CP-SAT: every order gets a plan with a bound."""
    rows = benchmark.pedantic(hard_rows, args=(min(orders_per_size(), 20), (10, 20)), rounds=1, iterations=1)
    for n, _times, gaps, paths, statuses in rows:
        benchmark.extra_info[f"{n}_lines"] = {"paths": paths, "statuses": statuses,
                                              "gap_max": round(float(gaps.max()), 4)}
        assert set(statuses) <= {"OPTIMAL", "FEASIBLE"}
        assert (gaps >= 0).all()
