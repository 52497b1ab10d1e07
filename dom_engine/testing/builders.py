"""Seeded instance builders for tests and benchmarks (no store or server needed).

`random_instance(seed, n_nodes, n_lines)` gives a network, a rate card, a stock view and an order
that exercise every part of the model: several services with distance bands, promise dates,
sparse stock, kits and backorders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np

from ..domain import (
    CarrierService,
    Destination,
    Line,
    Network,
    Node,
    NodeKind,
    Order,
    OrderOptions,
    Penalties,
    PolicyProfile,
    RateBand,
    RateCard,
    us_network_rate_card,
)
from ..inventory.base import StockView

FIXED_NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Instance:
    network: Network
    rate_card: RateCard
    stock: StockView
    order: Order
    now: datetime


def random_network(rng: np.random.Generator, n_nodes: int) -> Network:
    """Nodes scattered over the continental US: ~10% warehouses, the rest stores."""
    lat = rng.uniform(26.0, 48.0, n_nodes)
    lon = rng.uniform(-122.0, -71.0, n_nodes)
    n_wh = max(1, n_nodes // 10)
    nodes = []
    for i in range(n_nodes):
        wh = i < n_wh
        nodes.append(Node(
            node_id=f"{'DC' if wh else 'ST'}{i:03d}",
            kind=NodeKind.WAREHOUSE if wh else NodeKind.STORE,
            latitude=float(lat[i]), longitude=float(lon[i]),
            handling_per_shipment=float(rng.uniform(0.5, 1.5) if wh else rng.uniform(1.5, 4.0)),
            handling_per_unit=float(rng.uniform(0.05, 0.2) if wh else rng.uniform(0.3, 1.0)),
            processing_days=int(rng.integers(0, 2)),
            cutoff_hour=float(rng.choice([14.0, 16.0, 20.0])),
        ))
    return Network(tuple(nodes))


def banded_rate_card() -> RateCard:
    """The US reference card plus a banded, weight-priced service to exercise every rate field."""
    base = us_network_rate_card()
    regional = CarrierService("regional", (
        RateBand(300, 6.0, 0.001, 0.30, 0.0005, 0.20, 0.0001, 1),
        RateBand(800, 7.5, 0.002, 0.35, 0.0006, 0.25, 0.0001, 2),
    ), "km", co2e_per_unit_distance=0.0001, co2e_per_kg_distance=0.0002)
    return RateCard(base.services + (regional,), default_unit_weight_kg=1.0)


def random_stock(rng: np.random.Generator, n_nodes: int, skus: tuple[str, ...], density: float = 0.5,
                 depth: int = 6) -> StockView:
    present = rng.random((n_nodes, len(skus))) < density
    qty = rng.integers(1, depth + 1, (n_nodes, len(skus)))
    return StockView(version=1, skus=skus, atp=np.where(present, qty, 0).astype(np.int64))


def random_order(rng: np.random.Generator, skus: tuple[str, ...], n_lines: int, *, max_qty: int = 4,
                 kit_probability: float = 0.0, promise_days: int | None = None,
                 allow_backorder: bool = False, max_shipments: int | None = None,
                 order_id: str = "O-1", now: datetime = FIXED_NOW) -> Order:
    chosen = rng.choice(len(skus), size=n_lines, replace=False)
    lines = []
    kit_open = kit_probability > 0 and n_lines >= 2 and rng.random() < kit_probability
    for k, j in enumerate(chosen):
        group = "KIT-A" if kit_open and k < 2 else None
        weight = None if rng.random() < 0.5 else float(rng.uniform(0.1, 5.0))
        lines.append(Line(f"L{k + 1}", skus[j], int(rng.integers(1, max_qty + 1)), weight, group))
    deliver_by = None if promise_days is None else (now + timedelta(days=promise_days)).date()
    return Order(
        order_id=order_id,
        lines=tuple(lines),
        destination=Destination(float(rng.uniform(26.0, 48.0)), float(rng.uniform(-122.0, -71.0))),
        deliver_by=deliver_by,
        options=OrderOptions(max_shipments=max_shipments, allow_backorder=allow_backorder),
        created_at=now,
    )


def random_instance(seed: int, n_nodes: int = 20, n_lines: int = 3, n_skus: int = 10, **order_kw) -> Instance:
    rng = np.random.default_rng(seed)
    network = random_network(rng, n_nodes)
    skus = tuple(f"SKU-{k:05d}" for k in range(max(n_skus, n_lines)))
    stock = random_stock(rng, n_nodes, skus)
    order = random_order(rng, skus, n_lines, **order_kw)
    return Instance(network, banded_rate_card(), stock, order, FIXED_NOW)


@dataclass(frozen=True)
class BatchInstance:
    """Everything `solve_batch` needs (as a BatchProblem): orders with one policy each, stock of
    every SKU of the batch with shipments left per node, and units left per node (None = unlimited)."""

    network: Network
    rate_card: RateCard
    stock: StockView
    orders: tuple[Order, ...]
    policies: tuple[PolicyProfile, ...]
    now: datetime
    unit_capacity_left: np.ndarray | None


def random_batch(seed: int, n_orders: int = 10, n_nodes: int = 6, n_skus: int = 6, *,
                 max_lines: int = 3, max_qty: int = 3, supply_ratio: float = 0.7,
                 kit_probability: float = 0.3, no_backorder_probability: float = 0.3,
                 ship_complete_probability: float = 0.1, max_shipments: Sequence[int | None] = (None, 2),
                 promise_probability: float = 0.3, exclude_probability: float = 0.15,
                 tiers: Sequence[str] = ("", "gold"), ship_capacity_probability: float = 0.3,
                 unit_capacity_probability: float = 0.3, store_buffer: int = 0,
                 duplicate_sku_probability: float = 0.0, channels: Sequence[str] = ("",),
                 policies: Sequence[PolicyProfile] | None = None) -> BatchInstance:
    """A small wave with scarce stock: about `supply_ratio` x the units the orders ask for, spread
    over the nodes; each order draws kits, no-backorder, ship-complete, max_shipments, promise
    dates, excluded nodes, a channel and a customer tier at random (and, with
    `duplicate_sku_probability`, a second line of one of its SKUs); some nodes get a shipment or a
    unit cap. `policies` (default: one cost policy with a per-order penalty) go round robin."""
    rng = np.random.default_rng([seed, 17])
    network = random_network(rng, n_nodes)
    skus = tuple(f"SKU-{k:05d}" for k in range(n_skus))
    pols = tuple(policies) if policies else (PolicyProfile(
        name="t", penalties=Penalties(per_order=30.0, per_unit=15.0),
        min_stock_buffer={NodeKind.STORE.value: store_buffer} if store_buffer else {}),)
    orders = []
    for k in range(n_orders):
        n_lines = int(rng.integers(1, min(max_lines, n_skus) + 1))
        promise_days = int(rng.integers(2, 6)) if rng.random() < promise_probability else None
        base = random_order(rng, skus, n_lines, max_qty=max_qty, kit_probability=kit_probability,
                            promise_days=promise_days,
                            allow_backorder=rng.random() >= no_backorder_probability,
                            max_shipments=max_shipments[int(rng.integers(len(max_shipments)))],
                            order_id=f"B-{k:03d}")
        excluded = frozenset()
        if rng.random() < exclude_probability:
            excluded = frozenset({network.node_ids[int(rng.integers(n_nodes))]})
        options = replace(base.options, ship_complete=bool(rng.random() < ship_complete_probability),
                          excluded_nodes=excluded)
        lines = base.lines
        if rng.random() < duplicate_sku_probability:
            lines += (Line(f"L{len(lines) + 1}", lines[0].sku, int(rng.integers(1, max_qty + 1))),)
        orders.append(replace(base, lines=lines, options=options,
                              channel=str(channels[int(rng.integers(len(channels)))]),
                              customer_tier=str(tiers[int(rng.integers(len(tiers)))])))
    # Scarce stock: each SKU's supply is a share of its demand, scattered over a few nodes.
    demand = np.zeros(n_skus, dtype=np.int64)
    for order in orders:
        for line in order.lines:
            demand[skus.index(line.sku)] += line.quantity
    atp = np.zeros((n_nodes, n_skus), dtype=np.int64)
    for g in range(n_skus):
        supply = int(rng.binomial(max(int(np.ceil(demand[g] * supply_ratio * 1.3)), 1), 1 / 1.3))
        holders = rng.choice(n_nodes, size=int(rng.integers(1, n_nodes + 1)), replace=False)
        np.add.at(atp[:, g], rng.choice(holders, size=supply), 1)
    ships = np.where(rng.random(n_nodes) < ship_capacity_probability, rng.integers(0, 4, n_nodes), 10**6)
    has_cap = ships < 10**6
    stock = StockView(1, skus, atp, capacity_left=ships.astype(np.int64) if has_cap.any() else None)
    units = None
    if unit_capacity_probability > 0:
        u = np.where(rng.random(n_nodes) < unit_capacity_probability, rng.integers(1, 7, n_nodes), 10**6)
        units = u.astype(np.int64) if (u < 10**6).any() else None
    return BatchInstance(network, banded_rate_card(), stock, tuple(orders),
                         tuple(pols[k % len(pols)] for k in range(n_orders)), FIXED_NOW, units)


def promise(days: int, now: datetime = FIXED_NOW) -> date:
    return (now + timedelta(days=days)).date()




def thin_stock_instance(seed: int) -> Instance:
    """An order where stock is thin (issue 13's yardstick for the single-order optimizer): a random
    network of 20-100 nodes; each SKU stocked at 15-60 % of the nodes, 1-5 units deep; 1-10 lines
    of 1-12 units, so most orders need several nodes; a third capped at 1-3 shipments, half with
    backorders allowed, a third with a promise date of 2-6 days."""
    rng = np.random.default_rng([seed, 13])
    n_nodes = int(rng.integers(20, 101))
    network = random_network(rng, n_nodes)
    skus = tuple(f"SKU-{k:05d}" for k in range(30))
    present = rng.random((n_nodes, len(skus))) < rng.uniform(0.15, 0.60, len(skus))[None, :]
    atp = np.where(present, rng.integers(1, 6, (n_nodes, len(skus))), 0).astype(np.int64)
    n_lines = int(rng.integers(1, 11))
    max_shipments = int(rng.integers(1, 4)) if rng.random() < 1 / 3 else None
    promise_days = int(rng.integers(2, 7)) if rng.random() < 1 / 3 else None
    order = random_order(rng, skus, n_lines, max_qty=12, promise_days=promise_days,
                         allow_backorder=bool(rng.random() < 0.5), max_shipments=max_shipments,
                         order_id=f"THIN-{seed}")
    return Instance(network, banded_rate_card(), StockView(version=1, skus=skus, atp=atp), order, FIXED_NOW)
