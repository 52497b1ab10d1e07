"""Order routing, the use case behind RouteOrder and RejectShipment: validate an order, read its
stock, optimise, optionally hold the units (re-planning when stock moved), and re-route what a node
refused. The batch use case (batch_routing.py) builds on the public methods here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from ..domain import (
    Limits,
    Network,
    NotFoundError,
    Order,
    Plan,
    PlanStatus,
    PolicyProfile,
    PreconditionError,
    RateCard,
    check_skus,
    validate_order,
)
from ..domain.errors import under_field
from ..domain.reservation import Allocation, Reservation, ReservationConflict
from ..domain.stock import StockView
from ..domain.stop import Deadline, Stopped
from ..inventory.base import SnapshotStore
from ..optimize import OrderProblem, solve_order
from ..optimize.params import SolverParams
from .rejects import remaining_order
from .tracing import span


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OrderRouting:
    """Routes one order at a time over a network, a rate card, policies and a stock store."""

    network: Network
    rate_card: RateCard
    store: SnapshotStore
    policies: Mapping[str, PolicyProfile]
    default_policy: str
    limits: Limits
    clock: Callable[[], datetime] = utc_now
    solver: SolverParams = field(default_factory=SolverParams)
    # Opportunity prices older than this are stale: inventory-aware policies route on cost alone.
    prices_max_age_s: float = 86_400.0

    def __post_init__(self) -> None:
        if self.default_policy not in self.policies:
            raise NotFoundError("default_policy", f"unknown policy profile {self.default_policy!r}")

    def policy_for(self, order: Order) -> PolicyProfile:
        name = order.options.policy or self.default_policy
        try:
            return self.policies[name]
        except KeyError:
            raise NotFoundError("options.policy", f"unknown policy profile {name!r}") from None

    def validate(self, order: Order) -> None:
        """Every check routing makes, SKUs included (which costs one stock read)."""
        self.check_request(order)
        check_skus(order, self.store.read(skus_of(order)).unknown)

    def check_request(self, order: Order) -> None:
        """The checks that need no stock: SKUs are checked against the order's own stock read,
        so no process keeps (or refreshes) the whole catalogue."""
        validate_order(order, self.limits, self.network, None, self.clock(), self.policies.keys())

    def route(self, order: Order, *, reserve: bool = False, time_budget_ms: float | None = None,
              stop: Deadline | None = None) -> Plan:
        """Validate, read stock of the order's SKUs, and return the optimal plan (or the best within
        the time budget). With `reserve`, hold the planned units; if stock moved since the read,
        re-plan on fresh stock, up to three attempts.

        The budget ([limits] time_budget_ms by default) runs from this call and covers every step;
        `stop` (the caller's deadline and cancellation, e.g. a gRPC call's) cuts it shorter. A
        cancelled call holds nothing: Stopped is raised instead."""
        budget = Deadline.after_ms(self.limits.time_budget_ms if time_budget_ms is None else time_budget_ms,
                                   stop)
        self.check_request(order)
        policy = self.policy_for(order)
        if not reserve:
            return self.route_and_hold(order, policy, budget, None)
        # Optimistic: route first. A retried order meets its own hold inside store.reserve (which
        # is idempotent per order id and answers the reservation), and route_and_hold then answers
        # the plan of what is held; only a plan with nothing to hold (its own held units are not
        # in the stock read, so a retry may find none left) looks the reservation up. This saves
        # the lookup's round trip on every first attempt, which is nearly every call.
        plan = self.route_and_hold(order, policy, budget,
                                   lambda allocations: self.store.reserve(order.order_id, allocations),
                                   whole=True)
        if plan.reservation_id:
            return plan
        existing = self.confirmed_hold(order.order_id, policy)
        if existing is not None:
            return self.plan_of_reservation(order, existing, skus_of(order), policy)
        return plan

    def confirmed_hold(self, order_id: str, policy: PolicyProfile) -> Reservation | None:
        """The order's reservation when a retried request finds one. Reserving its own units again
        is idempotent and lets the store finish what a lost reply cut short (a Cluster counts the
        shipment against the day's capacity then); if the day turned out full, the store gave the
        untouched units back (ReservationConflict) and the order is routed afresh."""
        with span("store.reservation_lookup"):
            existing = self.store.reservation_for_order(order_id)
        if existing is None or existing.committed or not existing.allocations:
            return existing
        try:
            again = self.with_buffers(existing.allocations, policy.min_stock_buffer)
            return self.store.reserve(order_id, again)
        except ReservationConflict:
            return self.store.reservation_for_order(order_id)

    def reject(self, order: Order, node_id: str, *, time_budget_ms: float | None = None,
               stop: Deadline | None = None) -> Plan:
        """A node refused its shipment of a reserved order: give its units back, remember the node,
        and re-route what it was to ship (every node that rejected excluded) into the same
        reservation. Returns the plan of the re-routed units; shipments held elsewhere stand.
        PreconditionError once the order has been rejected `limits.max_rejects` times.

        Idempotent per (order, node): a retry (the node is among `rejected_nodes` already) finishes
        a reject cut short (units still held at the node) and re-routes what is still not held; if
        the first call's re-route holds everything already, it returns the plan of the whole
        reservation as it stands. The extension carries a token derived from reservation id and
        node, so duplicate calls re-routing the same units hold them once.

        The order is validated once and its stock read once, before anything changes (errors name
        `order.<field>`); the re-route plans on that read — the units given back are at the node
        that refused, which it excludes — and re-reads only if stock moved (ReservationConflict)."""
        budget = Deadline.after_ms(self.limits.time_budget_ms if time_budget_ms is None else time_budget_ms,
                                   stop)
        with under_field("order"):
            self.check_request(order)
            stock = self.store.read(skus_of(order))
            check_skus(order, stock.unknown)
        self.network.index_of(node_id, "node_id")
        policy = self.policy_for(order)
        held = self.store.reservation_for_order(order.order_id)
        if held is None:
            raise NotFoundError("reservation_id", f"order {order.order_id!r} holds no reservation")
        retry = node_id in held.rejected_nodes
        if not retry and len(held.rejected_nodes) >= self.limits.max_rejects:
            raise PreconditionError("node_id", f"order {order.order_id!r} was already rejected by "
                                    f"{len(held.rejected_nodes)} nodes (limit {self.limits.max_rejects}); "
                                    "route it by hand")
        if not retry or any(a.node_id == node_id for a in held.allocations):
            try:
                held = self.store.reject(held.reservation_id, node_id)
            except NotFoundError as exc:  # a duplicate call may have rejected the node meanwhile
                again = self.store.reservation_for_order(order.order_id)
                if exc.field != "node_id" or again is None or node_id not in again.rejected_nodes:
                    raise
                held, retry = again, True
        rest = remaining_order(order, held, policy.max_shipments)
        if rest is None:
            if retry:
                return self.plan_of_reservation(order, held, skus_of(order), policy)
            return Plan(order.order_id, PlanStatus.OPTIMAL, snapshot_version=self.store.version,
                        reservation_id=held.reservation_id)
        token = f"reject:{held.reservation_id}:{node_id}"
        return self.route_and_hold(rest, policy, budget,
                                   lambda allocations: self.store.extend(held.reservation_id, allocations,
                                                                         token=token),
                                   first_read=stock.narrowed(skus_of(rest)))

    def route_and_hold(self, order: Order, policy: PolicyProfile, stop: Deadline,
                       hold: Callable[[list[Allocation]], Reservation] | None, whole: bool = False,
                       first_read: StockView | None = None) -> Plan:
        """Route on fresh stock and, with `hold`, hold the plan's units; when stock moved since the
        read (ReservationConflict), re-plan on fresh stock, up to three attempts in all. With
        `whole` (the hold is the order's whole reservation), a reservation that holds other units
        than the plan's (another request of the same order held first) answers the plan of what it
        holds: the answer is always what is held. `first_read`: the order's stock, read already by
        the caller (SKUs checked), for the first attempt."""
        skus = skus_of(order)
        attempts = 1 if hold is None else 3
        for attempt in range(attempts):
            if attempt == 0 and first_read is not None:
                stock = first_read
            else:
                with span("store.read", skus=len(skus), attempt=attempt):
                    stock = self.store.read(skus)
                check_skus(order, stock.unknown)
            problem = OrderProblem(order, stock, self.network, self.rate_card, policy, self.clock(),
                                   opportunity := self.opportunity_for(policy, stock))
            with span("solve", lines=len(order.lines)) as solving:
                plan = solve_order(problem, stop, self.solver.search)
                if policy.inventory_aware and opportunity is None:
                    plan = replace(plan, explanation=replace(plan.explanation, binding=(
                        *plan.explanation.binding, "inventory-aware: no fresh opportunity prices, "
                                                   "routed on cost alone")))
                if solving is not None:
                    solving.set_attributes({"status": plan.status.name, "solver": plan.solver or "",
                                            "gap": plan.gap})
            if hold is None or not plan.status.has_plan or not plan.shipments:
                return plan
            allocations = self.with_buffers(plan_allocations(plan), policy.min_stock_buffer)
            if stop.cancelled:   # the caller is gone: a hold now would never be seen
                raise Stopped("the call was cancelled before its plan was reserved", cancelled=True)
            try:
                with span("store.reserve", allocations=len(allocations)):
                    reservation = hold(allocations)
            except ReservationConflict:
                if attempt == attempts - 1:
                    raise
                continue
            if whole and units_of(reservation.allocations) != units_of(allocations):
                return self.plan_of_reservation(order, reservation, skus, policy)
            return replace(plan, reservation_id=reservation.reservation_id)
        raise AssertionError("unreachable")

    def opportunity_for(self, policy: PolicyProfile, stock: StockView) -> np.ndarray | None:
        """The opportunity prices of `stock`'s SKUs at every node, times the policy's weight, when
        the policy is inventory-aware and the store has fresh prices; else None (route on cost)."""
        if not policy.inventory_aware:
            return None
        prices = self.store.current_prices()
        if prices is None or not prices.is_fresh(self.clock(), self.prices_max_age_s, stock.version):
            return None
        return policy.opportunity_weight * prices.for_stock(self.network.node_ids, stock.skus)

    def with_buffers(self, allocations: Sequence[Allocation], buffers: Mapping[str, int]) -> list[Allocation]:
        """`allocations` carrying the stock buffer each node's kind keeps under `buffers` (a policy's
        min_stock_buffer): the store then refuses a hold that would break the buffer the plan was
        made with, atomically (two servers planning on cached stock cannot both spend it)."""
        if not buffers:
            return list(allocations)
        kinds = self.network.kinds
        return [replace(a, keep=buffers.get(str(kinds[self.network.index_of(a.node_id)]), 0))
                for a in allocations]

    def plan_of_reservation(self, order: Order, reservation: Reservation, skus: list[str],
                             policy: PolicyProfile) -> Plan:
        """A retried reserve request: the plan over exactly the units already held. That plan was
        optimal on more stock, so it is optimal on its own units and comes back unchanged."""
        fresh = self.store.read(skus)
        held = np.zeros_like(fresh.atp)
        col = {sku: j for j, sku in enumerate(fresh.skus)}
        for a in reservation.allocations:
            if a.sku in col:
                held[self.network.index_of(a.node_id), col[a.sku]] += a.quantity
        stock = replace(fresh, atp=held, capacity_left=None)
        # Buffers and capacity were applied when the units were reserved.
        # The units are held whatever is left of the caller's budget, and their plan is the only
        # true answer (never NO_PLAN_FOUND for a hold that exists): it gets a budget of its own.
        grace = Deadline.after_ms(self.limits.time_budget_ms)
        unbuffered = replace(policy, min_stock_buffer={})
        plan = solve_order(OrderProblem(order, stock, self.network, self.rate_card, unbuffered, self.clock()),
                           grace, self.solver.search)
        return replace(plan, reservation_id=reservation.reservation_id)


def skus_of(order: Order) -> list[str]:
    return list(dict.fromkeys(line.sku for line in order.lines))


def units_of(allocations: Sequence[Allocation]) -> dict[tuple[str, str], int]:
    """(node, SKU) -> units, however the allocations are split or ordered."""
    out: dict[tuple[str, str], int] = {}
    for a in allocations:
        out[(a.node_id, a.sku)] = out.get((a.node_id, a.sku), 0) + a.quantity
    return out


def plan_allocations(plan: Plan) -> list[Allocation]:
    """The units a plan takes from each node, merged per (node, SKU)."""
    merged: dict[tuple[str, str], int] = {}
    for shipment in plan.shipments:
        for line in shipment.lines:
            key = (shipment.node_id, line.sku)
            merged[key] = merged.get(key, 0) + line.quantity
    return [Allocation(node, sku, qty) for (node, sku), qty in merged.items()]
