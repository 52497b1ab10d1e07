"""Benchmark harness for dom_engine: fixed-seed demo instances (`data`), per-order measurement and
Markdown tables (`measure`), pytest-benchmark suites (`test_*.py`) and `python -m benchmarks.report`."""
