"""Thin-stock single orders (benchmarks/thin_stock.py): the engine against the plain CP-SAT model
of the same orders, figures to extra_info. Behaviour checked: every answer is a plan or a proof
(no NO_PLAN_FOUND), and no OPTIMAL / INFEASIBLE answer contradicts a proven CP-SAT result."""

from __future__ import annotations

from benchmarks.data import orders_per_size
from benchmarks.thin_stock import measure, summary


def test_thin_stock_orders(benchmark):
    result = benchmark.pedantic(measure, args=(min(orders_per_size(), 60), 2.0), rounds=1, iterations=1)
    s = summary(result)
    benchmark.extra_info.update(s)
    assert not result["bad"], result["bad"]
    assert "NO_PLAN_FOUND" not in s["statuses"]
