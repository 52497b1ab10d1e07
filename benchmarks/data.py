"""Fixed-seed benchmark instances on the bundled demo (100 nodes, 5,000 SKUs).

For each order size the orders come from one seeded generator, so a shorter run (quick mode,
`--orders N`) uses a prefix of exactly the orders of a full run. The clock is fixed (`BENCH_NOW`), so
promise dates, cut-offs and store capacity never depend on today's date. Stock views are read once
from the demo MemoryStore; timing `optimize.route` then excludes the store read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from dom_engine.app.engine import Engine
from dom_engine.domain import Network, Order, PolicyProfile, RateCard
from dom_engine.inventory.base import StockView
from dom_engine.inventory.memory import MemoryStore
from dom_engine.io.demo import (
    DEMO_SEED,
    demo_inventory,
    demo_network,
    demo_policies,
    demo_rate_card,
    random_order,
)

# Tuesday 2026-03-03, 10:00 UTC: before every node's cut-off, so same-day shipping is possible.
BENCH_NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
BENCH_SEED = DEMO_SEED
N_LINES = (1, 3, 5, 10, 20)
DELIVER_IN_DAYS = 5
POLICY = "default"
FULL_ORDERS = 200
QUICK_ORDERS = 30
# The target applies to orders of up to this many lines.
TARGET_MAX_LINES = 10
TARGET_P50_MS = 1.0
TARGET_P99_MS = 5.0


def _clock() -> datetime:
    return BENCH_NOW


def orders_per_size(quick: bool | None = None) -> int:
    """Orders per size: DOM_BENCH_ORDERS if set, else QUICK_ORDERS in quick mode (DOM_BENCH_QUICK=1),
    else FULL_ORDERS."""
    explicit = os.environ.get("DOM_BENCH_ORDERS")
    if explicit:
        n = int(explicit)
        if n < 1:
            raise ValueError(f"DOM_BENCH_ORDERS must be >= 1, got {n}")
        return n
    if quick is None:
        quick = os.environ.get("DOM_BENCH_QUICK", "") not in ("", "0", "false", "no")
    return QUICK_ORDERS if quick else FULL_ORDERS


@dataclass(frozen=True)
class Demo:
    """The demo network, rates, routing policy and stock, with the fixed clock."""

    network: Network
    rate_card: RateCard
    policy: PolicyProfile
    store: MemoryStore
    now: datetime


@dataclass(frozen=True)
class OrderSet:
    """Orders of one size and the stock view of each, read once."""

    n_lines: int
    orders: tuple[Order, ...]
    stocks: tuple[StockView, ...]

    def __len__(self) -> int:
        return len(self.orders)


@lru_cache(maxsize=1)
def demo() -> Demo:
    network = demo_network(BENCH_SEED)
    store = demo_inventory(network, BENCH_SEED, clock=_clock)
    return Demo(network, demo_rate_card(), demo_policies()[POLICY], store, BENCH_NOW)


@lru_cache(maxsize=16)
def order_set(n_lines: int, n_orders: int) -> OrderSet:
    """The first `n_orders` fixed-seed orders of `n_lines` distinct SKUs (promise in 5 days)."""
    import numpy as np

    d = demo()
    rng = np.random.default_rng([BENCH_SEED, 7, n_lines])
    orders = tuple(
        random_order(rng, n_lines, order_id=f"BENCH-{n_lines:02d}-{k:04d}", deliver_in_days=DELIVER_IN_DAYS,
                     today=BENCH_NOW.date(), created_at=BENCH_NOW)
        for k in range(n_orders)
    )
    stocks = tuple(d.store.read(list(dict.fromkeys(line.sku for line in o.lines))) for o in orders)
    return OrderSet(n_lines, orders, stocks)


def bench_engine() -> Engine:
    """A fresh demo Engine (its own store) with the clock fixed at BENCH_NOW, for the gRPC server."""
    network = demo_network(BENCH_SEED)
    return Engine(network=network, rate_card=demo_rate_card(),
                  store=demo_inventory(network, BENCH_SEED, clock=_clock),
                  policies=demo_policies(), default_policy=POLICY, clock=_clock)
