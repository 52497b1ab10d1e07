"""`dom route` stays quick to start: the Engine loads the batch half (scipy.optimize, ~0.4 s) only
when a batch is routed or the server warms up, never for one order."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from dom_engine.app.bootstrap import build_engine
from dom_engine.io.order_json import load_order
engine = build_engine()
plan = engine.route(load_order("examples/order-simple.json").order)
print(plan.status.name, "scipy.optimize" in sys.modules)
engine.warm_up()
print("scipy.optimize" in sys.modules)
"""


def test_routing_one_order_does_not_load_the_batch_half():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    assert out == ["OPTIMAL", "False", "True"]
