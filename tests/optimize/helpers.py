"""Shared builders and checks for the optimizer tests: a scenario generator that varies every knob
of the model (on top of dom_engine.testing), a plan-invariant checker, and float comparison."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from dom_engine.domain import (
    Mode,
    Network,
    NodeKind,
    Order,
    OrderOptions,
    Penalties,
    Plan,
    PolicyProfile,
    RateCard,
    Weights,
)
from dom_engine.inventory.base import StockView
from dom_engine.testing import random_instance, random_stock


def close(a: float, b: float, rel: float = 1e-6, abs_: float = 1e-3) -> bool:
    """Objectives agree up to CP-SAT's 1e-5 cost scaling (a few rounding errors) or a relative 1e-6."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return a == b
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


@dataclass(frozen=True)
class Scenario:
    """Everything route() needs, plus the knobs that produced it (for failure messages)."""

    order: Order
    stock: StockView
    network: Network
    rate_card: RateCard
    policy: PolicyProfile
    now: datetime
    knobs: dict


def scenario(seed: int, *, n_nodes: int = 12, n_lines: int = 3, kit_probability: float = 0.0,
             backorder: bool = False, promise_days: int | None = None, max_shipments: int | None = None,
             mode: Mode = Mode.COST, split_penalty: float = 0.0, co2e_price: float = 0.0,
             delivery_day_weight: float = 0.0, store_buffer: int = 0, channel: str = "",
             store_only_channel: bool = False, penalties: Penalties | None = None,
             excluded: int = 0, density: float | None = None, depth: int = 6) -> Scenario:
    """A seeded random instance with the given policy knobs. `channel` set to "web" restricts that
    channel to warehouses (or to stores with `store_only_channel`); `excluded` excludes that many of
    the last nodes (stores); `store_buffer` keeps that many units per SKU at stores; `density` (with
    `depth`) redraws the stock, sparse stock forcing split shipments."""
    knobs = dict(locals())
    inst = random_instance(seed, n_nodes=n_nodes, n_lines=n_lines, kit_probability=kit_probability,
                           promise_days=promise_days, allow_backorder=backorder,
                           max_shipments=max_shipments)
    order, stock = inst.order, inst.stock
    if density is not None:
        stock = random_stock(np.random.default_rng(seed + 1_000_003), n_nodes, stock.skus, density, depth)
    ex = frozenset(inst.network.node_ids[len(inst.network) - excluded:])
    if channel or ex:
        order = replace(order, channel=channel,
                        options=replace(order.options, excluded_nodes=ex))
    kinds = {}
    if channel:
        allowed = NodeKind.STORE.value if store_only_channel else NodeKind.WAREHOUSE.value
        kinds = {channel: frozenset({allowed})}
    policy = PolicyProfile(
        name="t", mode=mode,
        weights=Weights(1.0, split_penalty, delivery_day_weight, co2e_price),
        penalties=penalties or Penalties(per_order=40.0, per_unit=20.0),
        channel_node_kinds=kinds,
        min_stock_buffer={NodeKind.STORE.value: store_buffer} if store_buffer else {},
    )
    return Scenario(order, stock, inst.network, inst.rate_card, policy, inst.now, knobs)


def effective_atp(sc: Scenario) -> np.ndarray:
    """(N, K) stock the plan may use: ATP minus the policy's per-kind buffers, clipped at 0."""
    atp = sc.stock.atp.astype(np.int64).copy()
    for k, node in enumerate(sc.network.nodes):
        atp[k] -= sc.policy.min_stock_buffer.get(node.kind.value, 0)
    return atp.clip(0)


def max_shipments_of(order: Order, policy: PolicyProfile) -> int:
    if order.options.ship_complete:
        return 1
    return order.options.max_shipments or policy.max_shipments


def check_plan(plan: Plan, sc: Scenario) -> None:
    """Assert every invariant a plan with shipments must satisfy (see test_plan_invariants)."""
    order, network, policy = sc.order, sc.network, sc.policy
    assert plan.status.has_plan, plan
    lines = {line.line_id: line for line in order.lines}
    shipped = dict.fromkeys(lines, 0)
    used_per_cell: dict[tuple[int, str], int] = {}
    for s in plan.shipments:
        assert s.units > 0, f"empty shipment from {s.node_id}"
        n = network.index_of(s.node_id)
        node = network.nodes[n]
        assert node.enabled, s.node_id
        assert s.node_id not in order.options.excluded_nodes, s.node_id
        allowed = policy.channel_node_kinds.get(order.channel)
        assert allowed is None or node.kind.value in allowed, (s.node_id, order.channel)
        if sc.stock.capacity_left is not None:
            assert sc.stock.capacity_left[n] > 0, s.node_id
        if order.deliver_by is not None:
            assert s.delivery_date <= order.deliver_by, (s, order.deliver_by)
        assert s.ship_date >= sc.now.date() and s.delivery_date >= s.ship_date
        for sl in s.lines:
            assert lines[sl.line_id].sku == sl.sku
            shipped[sl.line_id] += sl.quantity
            used_per_cell[n, sl.sku] = used_per_cell.get((n, sl.sku), 0) + sl.quantity
    assert len({s.node_id for s in plan.shipments}) == len(plan.shipments), "two shipments from one node"
    assert len(plan.shipments) <= max_shipments_of(order, policy)
    atp = effective_atp(sc)
    for (n, sku), qty in used_per_cell.items():
        assert qty <= atp[n, sc.stock.skus.index(sku)], f"node {network.nodes[n].node_id} over-ships {sku}"
    back = dict.fromkeys(lines, 0)
    for b in plan.backordered:
        assert lines[b.line_id].sku == b.sku
        back[b.line_id] += b.quantity
    for line_id, line in lines.items():
        assert shipped[line_id] + back[line_id] == line.quantity, line_id
    if not order.options.allow_backorder:
        assert not plan.backordered
    # Kits: every line of a ship_group complete, from one node, or entirely backordered.
    groups: dict[str, list[str]] = {}
    for line in order.lines:
        if line.ship_group:
            groups.setdefault(line.ship_group, []).append(line.line_id)
    for group, members in groups.items():
        sources = {s.node_id for s in plan.shipments for sl in s.lines if sl.line_id in members}
        assert len(sources) <= 1, f"kit {group} split over {sources}"
        if sources:
            assert all(shipped[m] == lines[m].quantity for m in members), f"kit {group} incomplete"
    money = sum(s.cost.total for s in plan.shipments)
    assert abs(plan.shipping_cost - money) <= 1e-6 * max(1.0, money)
    assert abs(plan.total_cost - (money + plan.penalty_cost)) <= 1e-6 * max(1.0, plan.total_cost)
    assert (plan.penalty_cost > 0) == bool(plan.backordered) or plan.penalty_cost == 0
    assert plan.lower_bound <= plan.objective + 1e-6 * max(1.0, abs(plan.objective))


def single_option_order(order: Order, **options) -> Order:
    """`order` with its OrderOptions replaced field by field."""
    return replace(order, options=replace(order.options or OrderOptions(), **options))
