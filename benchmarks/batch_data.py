"""Fixed-seed scarce waves on the demo network for the batch benchmarks.

The demo network (10 real fulfillment centres + 90 city stores, dom_engine/io/demo.py, from
../shared/data/us_network) and its 5,000-SKU catalogue; orders from `demo.order_stream` (the
same destinations, line counts and Zipf popularity as the single-order benchmarks). Stock is
then re-drawn *for the wave* so that it is scarce:

- every SKU gets about `factor` x the units the wave asks for, factor ~ U(SUPPLY_LOW, SUPPLY_HIGH),
  so some SKUs are short overall (units stay unfilled) and the rest have a little slack;
- those units go to the nodes that hold the SKU in the demo (stores a popular subset, warehouses
  nearly everything), weighted by the demo's depths and by a regional factor: the West (longitude
  < -104) gets REGION_FACTORS[0] of its share, the centre [1], the East [2]; so demand exceeds
  supply near western customers, and an order routed early can take the last units near a later
  one's customer (what batch allocation is for);
- stores also keep the demo policy's shelf buffer (1 unit per SKU they hold), which is never
  shipped, and the demo's store shipment capacities (10-60 a day at a third of the stores) hold.

Per order, on a second seeded stream: a fifth of the orders go to the "marketplace" channel
(warehouses only), BACKORDER_SHARE accept backorders (the rest ship complete or not at all), and
promises are 2-7 days out. Everything is deterministic per (size, seed); a wave of n orders is
the first n of that seed's stream with stock drawn for those n orders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np

from dom_engine.domain import Network, NodeKind, Order, PolicyProfile, RateCard
from dom_engine.domain.batch import BatchSettings
from dom_engine.domain.stock import StockView
from dom_engine.io.demo import (
    DEMO_SEED,
    demo_network,
    demo_policies,
    demo_rate_card,
    demo_stock,
    order_stream,
)

# Tuesday 2026-03-03, 10:00 UTC (as benchmarks/data.py): before the cut-offs, same-day shipping.
BATCH_NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
BATCH_SEED = DEMO_SEED
SIZES = (1_000, 10_000, 50_000)
QUICK_SIZES = (300,)
# 50k orders is a scaling figure: only the batch optimizer and its bound are measured there.
BASELINE_MAX_ORDERS = 10_000
POLICY = "default"
LOST_SALE_PER_UNIT = 15.0
SUPPLY_LOW, SUPPLY_HIGH = 0.85, 1.5
REGION_FACTORS = (0.5, 1.0, 1.25)        # West, centre, East
WEST_OF, EAST_OF = -104.0, -87.0
BACKORDER_SHARE = 0.6
MARKETPLACE_SHARE = 0.2
PROMISE_DAYS = (4, 8)                     # deliver_by this many days out, uniform
UNCAPPED = 2**62                          # shipments left at a node without a daily cap (as stores)
# route_batch's budget per size (the target: 10k orders in <= 10 s).
BUDGET_MS = {300: 3_000.0, 1_000: 10_000.0, 10_000: 10_000.0, 50_000: 30_000.0, 100_000: 60_000.0}


def quick_mode() -> bool:
    return os.environ.get("DOM_BENCH_QUICK", "") not in ("", "0", "false", "no")


def batch_sizes(quick: bool | None = None) -> tuple[int, ...]:
    """QUICK_SIZES in quick mode (DOM_BENCH_QUICK=1), else SIZES; DOM_BENCH_BATCH_SIZES="1000,10000"
    overrides."""
    explicit = os.environ.get("DOM_BENCH_BATCH_SIZES")
    if explicit:
        return tuple(int(s) for s in explicit.split(",") if s.strip())
    return QUICK_SIZES if (quick_mode() if quick is None else quick) else SIZES


def budget_ms(n_orders: int) -> float:
    """route_batch's budget for a wave of this size; DOM_BENCH_BATCH_BUDGET_MS overrides it (e.g.
    how the gap closes with more time: `python -m benchmarks.batch_report --budget-ms 60000`)."""
    explicit = os.environ.get("DOM_BENCH_BATCH_BUDGET_MS")
    if explicit:
        return float(explicit)
    return BUDGET_MS.get(n_orders, max(3_000.0, n_orders))


@dataclass(frozen=True)
class Wave:
    """One batch: orders with their policies, the stock of every SKU (nodes x SKUs, with
    shipments left per node), the network, rates and the fixed clock."""

    orders: tuple[Order, ...]
    policies: tuple[PolicyProfile, ...]
    stock: StockView
    network: Network
    rate_card: RateCard
    settings: BatchSettings
    now: datetime

    def __len__(self) -> int:
        return len(self.orders)

    @property
    def units(self) -> int:
        return sum(o.total_units for o in self.orders)

    @property
    def supply(self) -> int:
        """Units the wave may ship (after the store shelf buffer)."""
        policy = self.policies[0]
        buffer = np.array([policy.min_stock_buffer.get(k, 0) for k in self.network.kinds])
        return int((self.stock.atp - buffer[:, None]).clip(0).sum())


def wave_orders(n_orders: int, seed: int = BATCH_SEED) -> tuple[Order, ...]:
    """The first `n_orders` of the seed's stream, with channels, backorder and promises drawn."""
    rng = np.random.default_rng([seed, 41])
    out = []
    for order in order_stream(seed, n_orders, today=BATCH_NOW.date(), created_at=BATCH_NOW):
        days = int(rng.integers(PROMISE_DAYS[0], PROMISE_DAYS[1] + 1))
        channel = "marketplace" if rng.random() < MARKETPLACE_SHARE else "web"
        backorder = bool(rng.random() < BACKORDER_SHARE)
        out.append(replace(order, order_id=f"W-{order.order_id[4:]}", channel=channel,
                           deliver_by=BATCH_NOW.date() + timedelta(days=days),
                           options=replace(order.options, allow_backorder=backorder)))
    return tuple(out)


def scarce_stock(network: Network, orders: tuple[Order, ...], policy: PolicyProfile,
                 seed: int = BATCH_SEED) -> tuple[tuple[str, ...], np.ndarray]:
    """(skus, on hand) for the wave: see the module docstring."""
    skus, demo_on_hand, _ = demo_stock(network, seed)
    col = {sku: j for j, sku in enumerate(skus)}
    demand = np.zeros(len(skus), dtype=np.int64)
    for order in orders:
        for line in order.lines:
            demand[col[line.sku]] += line.quantity
    rng = np.random.default_rng([seed, 43, len(orders)])
    factor = rng.uniform(SUPPLY_LOW, SUPPLY_HIGH, len(skus))
    target = factor * demand
    supply = np.floor(target).astype(np.int64) + (rng.random(len(skus)) < target % 1)
    lon = network.longitudes
    region = np.where(lon < WEST_OF, REGION_FACTORS[0], np.where(lon < EAST_OF, REGION_FACTORS[1],
                                                                  REGION_FACTORS[2]))
    weight = demo_on_hand.T.astype(np.float64) * region[None, :]          # (K, N)
    is_wh = network.kinds == NodeKind.WAREHOUSE.value
    empty = weight.sum(axis=1) == 0
    weight[empty] = is_wh.astype(np.float64) * region                     # nobody holds it: the FCs
    weight /= weight.sum(axis=1, keepdims=True)
    on_hand = rng.multinomial(supply, weight).T.astype(np.int64)          # (N, K)
    for kind, buffer in policy.min_stock_buffer.items():
        holds = (network.kinds == kind)[:, None] & (demo_on_hand > 0)
        on_hand += buffer * holds
    return skus, on_hand


def ships_left(network: Network) -> np.ndarray:
    """Shipments each node may take today: the demo stores' daily caps, else UNCAPPED."""
    return np.array([UNCAPPED if n.daily_shipment_capacity is None else n.daily_shipment_capacity
                     for n in network.nodes], dtype=np.int64)


def wave_policy() -> PolicyProfile:
    """The demo's default policy (least cost, marketplace from warehouses only, stores keep one
    unit on the shelf) with a lost-sale penalty: LOST_SALE_PER_UNIT per unfilled unit on top of
    the reference model's dummy-site rates. With the reference rates alone (about 3.8 per unit and
    17.5 per order), leaving an order's units unfilled is cheaper than a second package, so even
    the optimum leaves a fifth of the units of a scarce wave unshipped; a retailer values a lost
    unit above its shipping cost."""
    base = demo_policies()[POLICY]
    pen = base.penalties
    return replace(base, name="wave", penalties=replace(pen, per_unit=pen.per_unit + LOST_SALE_PER_UNIT))


@lru_cache(maxsize=4)
def wave(n_orders: int, seed: int = BATCH_SEED) -> Wave:
    """The fixed-seed scarce wave of `n_orders` orders (no priority tiers: every plan's objective
    is its money cost plus penalties, so sequential and batch totals compare like for like)."""
    network = demo_network(seed)
    policy = wave_policy()
    orders = wave_orders(n_orders, seed)
    skus, on_hand = scarce_stock(network, orders, policy, seed)
    stock = StockView(1, skus, on_hand, capacity_left=ships_left(network))
    return Wave(orders, (policy,) * len(orders), stock, network, demo_rate_card(), BatchSettings(), BATCH_NOW)
