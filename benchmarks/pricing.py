"""Batch pricing, one round: the one-order path (columns.price_order on each order's priced
Problem, as column generation priced before compiled_pricing.py) against the compiled kernel on
one thread and on two, on the same orders of the 10k scarce wave at the same random dual prices,
in one run. Answers are checked equal (objective within 1e-9 relative).

    python -m benchmarks.pricing                 # 2,000 orders of the 10k wave
    python -m benchmarks.pricing --orders 10000
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks.batch_data import wave
from dom_engine.domain.stop import Deadline
from dom_engine.optimize.batch import BatchProblem, prepare_batch
from dom_engine.optimize.batch.columns import price_order
from dom_engine.optimize.batch.compiled_pricing import PricingStore, warm_up_batch
from dom_engine.optimize.batch.executors import ThreadPricer

WAVE = 10_000
MAX_SETS = 5_000      # [solver.pricing] pricing_max_sets


def measure(n_orders: int, seed: int = 5) -> dict:
    """Seconds per round of each way, their ratios, and how many orders were priced."""
    warm_up_batch()
    w = wave(WAVE)
    batch = prepare_batch(BatchProblem(w.orders, w.stock, w.network, w.rate_card, w.policies, w.settings,
                                       w.now))
    store = PricingStore.of(batch.entries, batch.layout)
    held = [e for e in batch.entries if store.position[e.index] >= 0][:n_orders]
    rng = np.random.default_rng(seed)
    lam = np.where(rng.random(batch.layout.size) < 0.3, rng.exponential(3.0, batch.layout.size), 0.0)
    todo = store.position[[e.index for e in held]]
    inf = np.full(len(todo), np.inf)
    t0 = time.perf_counter()
    one_by_one = [price_order(e.priced(lam, batch.layout), e.params, (np.inf, ()))[0].objective for e in held]
    t_one = time.perf_counter() - t0
    times, answers = {}, {}
    for workers in (1, 2):
        pricer = ThreadPricer(store, workers)
        try:
            pricer.price(todo[:50], lam, inf[:50], MAX_SETS, Deadline())     # threads started
            t0 = time.perf_counter()
            got = pricer.price(todo, lam, inf, MAX_SETS, Deadline())
            times[workers] = time.perf_counter() - t0
        finally:
            pricer.close()
        assert got is not None
        answers[workers] = got.best
    empty = np.array([e.empty_column().cost for e in held])
    for workers, best in answers.items():
        mine, theirs = np.minimum(best, empty), np.minimum(np.array(one_by_one), empty)
        assert np.allclose(mine, theirs, rtol=1e-9, atol=1e-9), f"{workers} thread(s) disagree"
    return {"orders": len(held), "one_order_path_s": t_one, "kernel_1_thread_s": times[1],
            "kernel_2_threads_s": times[2], "speedup_1_thread": t_one / times[1],
            "speedup_2_threads": t_one / times[2], "threads_2_vs_1": times[1] / times[2]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=2000)
    a = ap.parse_args(argv)
    r = measure(a.orders)
    print(f"pricing {r['orders']:,} orders of the 10k wave at random dual prices (one run, 2 shared cores):")
    print(f"  one-order path   {r['one_order_path_s'] * 1000:8.0f} ms")
    print(f"  kernel, 1 thread {r['kernel_1_thread_s'] * 1000:8.0f} ms  ({r['speedup_1_thread']:.1f}x)")
    print(f"  kernel, 2 threads{r['kernel_2_threads_s'] * 1000:8.0f} ms  ({r['speedup_2_threads']:.1f}x; "
          f"{r['threads_2_vs_1']:.2f}x one thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
