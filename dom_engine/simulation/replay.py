"""Replay an order stream against live simulated stock: orders in time order, each routed when it
arrives and its units taken from stock at once (held and committed through the same store and
Engine RouteOrder uses: one code path, not a copy), node daily capacities resetting at midnight
(the store's clock is the stream's clock), a closing node leaving the network on its date.

Policies are pluggable (`Policy`): `online` is the engine's exact single-order optimum on the
stock left, `nearest` the nearest-node rule of the baselines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from ..app.engine import Engine
from ..app.routing import plan_allocations, skus_of
from ..domain import DomainError, Limits, Order, Plan
from ..inventory.memory import MemoryStore
from ..optimize.baselines import route_nearest
from .receipts import Receipt
from .world import Stock, World

# Holds are committed as soon as they are made; a long TTL keeps the clock jumps of the stream
# (hours between orders) from expiring one in between.
HOLD_TTL_S = 365 * 24 * 3600.0


class SimClock:
    """The stream's clock, shared by the engine and the store: set to each order's arrival."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class Policy(Protocol):
    """How an order is routed in the replay: its plan, with the units held under the order id."""

    def route(self, engine: Engine, order: Order) -> Plan: ...


class OnlinePolicy:
    """The engine's single-order router on the stock left (what RouteOrder with reserve does)."""

    def route(self, engine: Engine, order: Order) -> Plan:
        return engine.route(order, reserve=True)


class NearestPolicy:
    """The nearest-node rule (optimize.baselines), holding what it plans."""

    def route(self, engine: Engine, order: Order) -> Plan:
        policy = engine.policy_for(order)
        stock = engine.store.read(skus_of(order))
        plan = route_nearest(order, stock, engine.network, engine.rate_card, policy, engine.clock())
        if not plan.shipments:
            return plan
        held = engine.store.reserve(order.order_id, plan_allocations(plan))
        return replace(plan, reservation_id=held.reservation_id)


POLICIES: dict[str, Callable[[], Policy]] = {"online": OnlinePolicy, "nearest": NearestPolicy}


@dataclass(frozen=True)
class Outcome:
    """What happened to one order (the KPIs are sums and means of these)."""

    order_id: str
    day: str
    channel: str
    status: str
    units_ordered: int
    units_shipped: int
    shipments: int
    total_cost: float
    shipping_cost: float
    penalty_cost: float
    co2e_kg: float
    distance_km: float
    on_time: bool
    delivery_days: float
    nodes: str = ""          # the nodes that shipped, ";"-separated in shipment order


@dataclass(frozen=True)
class Run:
    """One replay: the outcomes in stream order and the stock before and after
    (start + received = end + shipped, per node and SKU)."""

    outcomes: tuple[Outcome, ...]
    start: Stock
    end_on_hand: np.ndarray
    shipped: np.ndarray      # units shipped per (node, SKU), the same shape as the stock
    received: np.ndarray     # units received per (node, SKU)
    stockouts: dict[tuple[str, str], str]   # (node, SKU) that ran out -> the first day it did


class _Ledger:
    """Units in and out per (node, SKU), and where and when stock first ran out."""

    def __init__(self, world: World) -> None:
        self.network = world.network
        self.start = world.stock.on_hand
        self.col = {sku: j for j, sku in enumerate(world.stock.skus)}
        self.shipped = np.zeros_like(self.start)
        self.received = np.zeros_like(self.start)
        self.stockouts: dict[tuple[str, str], str] = {}

    def receive(self, receipt: Receipt) -> None:
        self.received[self.network.index_of(receipt.node_id), self.col[receipt.sku]] += receipt.units

    def ship(self, plan: Plan, day: str) -> None:
        for shipment in plan.shipments:
            i = self.network.index_of(shipment.node_id)
            for line in shipment.lines:
                j = self.col[line.sku]
                self.shipped[i, j] += line.quantity
                if self.start[i, j] + self.received[i, j] == self.shipped[i, j]:    # nothing left
                    self.stockouts.setdefault((shipment.node_id, line.sku), day)


def replay(world: World, orders: Sequence[Order], time_budget_ms: float,
           progress: Callable[[int, int], None] | None = None, receipts: Sequence[Receipt] = ()) -> Run:
    """Route `orders` (sorted by arrival here) through `world` and account for every unit;
    `receipts` (in time order) arrive before the first order placed at or after their time."""
    orders = sorted(orders, key=lambda o: o.created_at)
    clock = SimClock(orders[0].created_at if orders else datetime.now(UTC))
    stock = world.stock
    store = MemoryStore.from_arrays(world.network, stock.skus, stock.on_hand, stock.safety, clock=clock,
                                    hold_ttl_s=HOLD_TTL_S)
    engine = Engine(world.network, world.rate_card, store, policies=dict(world.policies),
                    default_policy=_default_policy(world), limits=Limits(time_budget_ms=time_budget_ms),
                    clock=clock)
    policy = POLICIES[world.scenario.mode]()
    closes = world.scenario.close_from
    ledger = _Ledger(world)
    arriving = iter(receipts)
    pending = next(arriving, None)
    outcomes = []
    for k, order in enumerate(orders):
        clock.now = order.created_at
        while pending is not None and pending.at <= order.created_at:
            store.adjust(pending.node_id, pending.sku, pending.units)
            ledger.receive(pending)
            pending = next(arriving, None)
        if world.closed_network is not None and closes is not None and order.created_at.date() >= closes:
            engine = Engine(world.closed_network, world.rate_card, store, policies=dict(world.policies),
                            default_policy=engine.default_policy, limits=engine.limits, clock=clock)
            closes = None    # switched once
        try:
            plan = policy.route(engine, order)
        except DomainError as exc:      # a bad order in the stream is counted, not fatal
            outcomes.append(_invalid(order, exc))
            continue
        if plan.reservation_id:
            store.commit(plan.reservation_id)
            ledger.ship(plan, order.created_at.date().isoformat())
        outcomes.append(_outcome(order, plan))
        if progress is not None and k % 500 == 499:
            progress(k + 1, len(orders))
    _, on_hand, _, _ = store.arrays()
    return Run(tuple(outcomes), stock, on_hand[:, :len(stock.skus)], ledger.shipped, ledger.received,
               ledger.stockouts)


def _default_policy(world: World) -> str:
    return "default" if "default" in world.policies else next(iter(world.policies))


def _outcome(order: Order, plan: Plan) -> Outcome:
    shipped = sum(line.quantity for s in plan.shipments for line in s.lines)
    last = max((s.delivery_date for s in plan.shipments), default=None)
    on_time = (last is not None and shipped == order.total_units
               and (order.deliver_by is None or last <= order.deliver_by))
    return Outcome(order.order_id, order.created_at.date().isoformat(), order.channel, plan.status.name,
                   order.total_units, shipped, len(plan.shipments), plan.total_cost, plan.shipping_cost,
                   plan.penalty_cost, plan.co2e_kg, sum(s.distance_km for s in plan.shipments), on_time,
                   float((last - order.created_at.date()).days) if last is not None else float("nan"),
                   ";".join(s.node_id for s in plan.shipments))


def _invalid(order: Order, exc: DomainError) -> Outcome:
    return Outcome(order.order_id, order.created_at.date().isoformat(), order.channel, "INVALID",
                   order.total_units, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, False, float("nan"))
