"""How often route_batch finds the exact optimum of small random waves (issue 9, items 10 and 11).

    python -m benchmarks.batch_exact                          # 27 waves, 2 s budget, once each
    python -m benchmarks.batch_exact --repeat 3               # route_batch 3 times per wave (medians)
    python -m benchmarks.batch_exact --waves 9 --budget-ms 1000 --reference-cache /tmp/refs.json

Waves: `dom_engine.testing.random_batch` (scarce stock, kits, no-backorder and ship-complete
orders, shipment limits, promise dates, node shipment and unit caps, priority tiers), seeded, 12 to
36 orders on 4 to 8 nodes and 3 to 10 SKUs (see `wave`). Each wave's optimum comes from an
independent model (tests/optimize/batch_model.py: the joint MIP over units, by HiGHS on the float
costs to a 1e-9 relative gap), computed once per wave (optionally cached in a JSON file: it does not
depend on the engine). Then route_batch solves each wave within the budget, and its plans are
checked against the stock and the capacities (a violation raises).

Reported per wave and in total: how many waves route_batch solves to the optimum (objective within
1e-6 relative of it), how many within 0.5 %, the worst and mean excess, how many it labels OPTIMAL,
and whether every OPTIMAL label is true. route_batch is time-budgeted, so results vary with the
machine's load: with --repeat, each count is the median over the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/batch_exact.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dom_engine.domain.batch import BatchSettings, BatchStatus
from dom_engine.domain.stop import Deadline
from dom_engine.optimize.batch import BatchProblem, prepare_batch, solve_batch
from dom_engine.optimize.batch.compiled_pricing import warm_up_batch
from dom_engine.testing import BatchInstance, random_batch
from tests.optimize.batch_model import check_batch_plans, solve_mip

TIERS = {"gold": 2.0, "silver": 1.0}
EQUAL = 1e-6          # relative: route_batch's objective counts as the optimum within this
CLOSE = 0.005         # "within 0.5 %"
REFERENCE_LIMIT_S = 300.0


def wave(seed: int) -> BatchInstance:
    """Wave `seed`: sizes cycle with the seed; odd seeds repeat a SKU on a second line."""
    return random_batch(1000 + seed, n_orders=12 + 3 * (seed % 9), n_nodes=4 + seed % 5,
                        n_skus=3 + seed % 8, tiers=("", "silver", "gold"),
                        duplicate_sku_probability=0.2 if seed % 2 else 0.0)


def _problem(inst: BatchInstance) -> BatchProblem:
    return BatchProblem(inst.orders, inst.stock, inst.network, inst.rate_card, inst.policies,
                        BatchSettings(tier_points=TIERS), inst.now, inst.unit_capacity_left)


@dataclass
class Reference:
    objective: float
    bound: float
    proven: bool
    seconds: float


def reference(seed: int, cache: dict) -> Reference:
    key = str(seed)
    if key not in cache:
        inst = wave(seed)
        batch = prepare_batch(_problem(inst))
        exact = solve_mip(batch, REFERENCE_LIMIT_S)
        cache[key] = {"objective": exact.objective, "bound": exact.bound, "proven": exact.proven,
                      "seconds": exact.seconds}
    return Reference(**cache[key])


@dataclass
class Run:
    objective: float
    lower_bound: float
    status: BatchStatus
    exact_s: float


def run(seed: int, budget_ms: float) -> Run:
    inst = wave(seed)
    r = solve_batch(_problem(inst), Deadline.after_ms(budget_ms))
    check_batch_plans(r.plans, inst.orders, inst.policies, inst.stock, inst.network, inst.unit_capacity_left)
    return Run(r.objective, r.lower_bound, r.status, float(r.stats.get("exact_s", 0.0)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--waves", type=int, default=27)
    ap.add_argument("--budget-ms", type=float, default=2000.0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--reference-cache", type=Path, default=None,
                    help="JSON file of the waves' optima (read if present, written after)")
    a = ap.parse_args(argv)
    cached = a.reference_cache is not None and a.reference_cache.exists()
    cache = json.loads(a.reference_cache.read_text()) if cached else {}
    warm_up_batch()
    solve_batch(_problem(wave(0)), Deadline.after_ms(200.0))   # first-call costs, untimed
    refs = {}
    for s in range(a.waves):
        refs[s] = reference(s, cache)
        if a.reference_cache:
            a.reference_cache.write_text(json.dumps(cache, indent=1))
    print(f"# route_batch vs the exact optimum: {a.waves} waves, budget {a.budget_ms:.0f} ms, "
          f"{a.repeat} run(s) each, {os.cpu_count()} cores")
    print("| wave | orders | optimum | proven | route_batch | excess % | status | exact phase s |")
    print("|---|---|---|---|---|---|---|---|")
    summaries, false_claims = [], 0
    for rep in range(a.repeat):
        equal = close = labelled = 0
        excess = []
        for s in range(a.waves):
            ref, r = refs[s], run(s, a.budget_ms)
            ex = r.objective / ref.objective - 1
            excess.append(ex)
            equal += abs(r.objective - ref.objective) <= EQUAL * max(1.0, abs(ref.objective))
            close += ex <= CLOSE
            labelled += r.status is BatchStatus.OPTIMAL
            # An OPTIMAL label is false when the plans cost measurably more than the optimum.
            false_claims += (r.status is BatchStatus.OPTIMAL
                             and r.objective > ref.objective + 1e-4 * max(1.0, abs(ref.objective)))
            if rep == 0:
                proven = "yes" if ref.proven else "no"
                print(f"| {s} | {len(wave(s).orders)} | {ref.objective:.3f} | {proven} | {r.objective:.3f} | "
                      f"{100 * ex:.3f} | {r.status.name} | {r.exact_s:.2f} |")
        summaries.append((equal, close, max(excess), statistics.mean(excess), labelled))
        print(f"run {rep + 1}: optimum on {equal}/{a.waves}, within 0.5 % on {close}, worst "
              f"+{100 * max(excess):.2f} %, mean +{100 * statistics.mean(excess):.3f} %, labelled OPTIMAL "
              f"{labelled}", file=sys.stderr)
    med = [statistics.median(col) for col in zip(*summaries, strict=True)]
    print(f"\nMedian over {a.repeat} run(s): optimum on {med[0]:g}/{a.waves} waves, within 0.5 % on "
          f"{med[1]:g}, worst +{100 * med[2]:.2f} %, mean +{100 * med[3]:.3f} %; labelled OPTIMAL on "
          f"{med[4]:g}; false OPTIMAL labels: {false_claims}. "
          f"Reference: {sum(r.proven for r in refs.values())}/{a.waves} proven (HiGHS).")
    return 1 if false_claims else 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    sys.exit(code)
