"""Ready-made engines for users' tests and benchmarks: the demo, in process, no server or Redis."""

from __future__ import annotations

from typing import Any

from ..app.engine import Engine
from ..io.demo import DEMO_SEED, demo_inventory, demo_network, demo_policies, demo_rate_card


def demo_engine(seed: int = DEMO_SEED, **engine_kwargs: Any) -> Engine:
    """The full demo Engine: demo network, stock, US rate card and demo policies (memory store)."""
    network = demo_network(seed)
    return Engine(network=network, rate_card=demo_rate_card(), store=demo_inventory(network, seed),
                  policies=demo_policies(), **engine_kwargs)
