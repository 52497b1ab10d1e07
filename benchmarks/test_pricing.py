"""Batch pricing (benchmarks/pricing.py): the compiled kernel on one and two threads against the
one-order path, same orders and prices, figures and ratios to extra_info; answers checked equal."""

from __future__ import annotations

from benchmarks.batch_data import quick_mode
from benchmarks.pricing import measure


def test_compiled_pricing_against_the_one_order_path(benchmark):
    result = benchmark.pedantic(measure, args=(300 if quick_mode() else 2000,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["orders"] > 0
