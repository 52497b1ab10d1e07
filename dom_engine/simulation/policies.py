"""How the replay routes a stream: a `Policy` groups the orders into steps (one order for online
policies, a wave or a whole day for batch ones) and plans each step on the engine's stock, holding
every plan's units under its order id. A new policy (e.g. inventory-aware routing) is one class.

- `online`: the engine's exact single-order optimum on the stock left (what RouteOrder with
  reserve does: the same Engine.route call, not a copy).
- `nearest`: the nearest-node rule of optimize.baselines; `ranked`: its ranked-locations rule.
- `wave`: every N minutes, the batch allocator (Engine.route_batch, as RouteBatch) over the
  orders that arrived in the window, released when the window closes.
- `hindsight`: per day, the batch allocator over all of the day's orders from the day's starting
  stock (it knows the day's orders in advance: the clairvoyant yardstick). The online plans of the
  same day from the same stock are its incumbent, so it is never dearer than online on a day."""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from typing import Protocol

import numpy as np

from ..app.engine import Engine
from ..app.routing import plan_allocations, skus_of
from ..domain import DomainError, Order, Plan, PlanStatus, PolicyProfile
from ..domain.opportunity import Forecast, zone_of
from ..domain.reservation import ReservationConflict
from ..domain.stock import StockView
from ..domain.stop import Deadline
from ..inventory.memory import MemoryStore
from ..optimize import OrderProblem, solve_order
from ..optimize.baselines import route_nearest, route_ranked

# Money per unit that prices a node out of a SKU's rounding choice (far above any real cost).
ROUNDED_OUT = 1e4
# Holds are committed as soon as they are made; a long TTL keeps the clock jumps of the stream
# (hours between orders) from expiring one in between.
HOLD_TTL_S = 365 * 24 * 3600.0

# A step's result per order: its plan (held when it has a reservation_id) or why it was refused.
Routed = Plan | DomainError


class Policy(Protocol):
    """Routes the replay's stream step by step."""

    def steps(self, orders: Sequence[Order]) -> Iterator[tuple[datetime, list[Order]]]:
        """The stream (in arrival order) cut into steps: when each is routed, and its orders."""
        ...

    def route(self, engine: Engine, orders: Sequence[Order]) -> list[Routed]:
        """One result per order of the step, in order; plans hold their units in engine.store."""
        ...


class OnlinePolicy:
    """The engine's single-order router on the stock left, order by order as they arrive."""

    def steps(self, orders: Sequence[Order]) -> Iterator[tuple[datetime, list[Order]]]:
        return ((o.created_at, [o]) for o in orders)

    def route(self, engine: Engine, orders: Sequence[Order]) -> list[Routed]:
        return [_guarded(partial(engine.route, o, reserve=True)) for o in orders]


class InventoryAwarePolicy(OnlinePolicy):
    """The online router with opportunity prices (the replay makes the engine's cost policies
    inventory-aware): every `refresh_days` of the stream, the fluid LP of the orders of the last
    `forecast_days` (no look-ahead: the past as the forecast of as many days ahead) on the stock
    then. Until a day of orders has been seen there are no prices and orders route on cost."""

    def __init__(self, refresh_days: float = 1.0, forecast_days: float = 7.0) -> None:
        self.refresh = timedelta(days=refresh_days)
        self.window = timedelta(days=forecast_days)
        self.seen: deque[Order] = deque()
        self.next_refresh: datetime | None = None
        self.refreshes = 0

    def route(self, engine: Engine, orders: Sequence[Order]) -> list[Routed]:
        out: list[Routed] = []
        for order in orders:
            now = order.created_at
            if self.next_refresh is None:
                self.next_refresh = now + self.refresh
            elif now >= self.next_refresh:
                self._prices(engine, now)
                while self.next_refresh <= now:
                    self.next_refresh += self.refresh
            out.append(_guarded(partial(self._one, engine, order)))
            self.seen.append(order)
        return out

    def _one(self, engine: Engine, order: Order) -> Plan:
        return engine.route(order, reserve=True)

    def _prices(self, engine: Engine, now: datetime) -> None:
        while self.seen and self.seen[0].created_at < now - self.window:
            self.seen.popleft()
        if not self.seen:
            return
        days = self.window.total_seconds() / 86_400
        engine.refresh_prices(Forecast(tuple(self.seen), np.ones(len(self.seen)), days))
        self.refreshes += 1


class DilatedPolicy(InventoryAwarePolicy):
    """Ma (2023)'s dilated rounding of the fluid LP, for comparison: refreshed as the
    inventory-aware policy is; per order, every node (and "unfilled") opens at an exponential time
    drawn from the order id (deterministic), and each SKU ships from the node minimising time /
    its share of that (zone, SKU)'s units in the LP. The engine then plans the order with every
    other node of the SKU priced out (it may still use one where the chosen node is out of stock
    and the order cannot wait); a SKU the LP never saw in that zone is left to the engine."""

    def __init__(self, refresh_days: float = 1.0, forecast_days: float = 7.0) -> None:
        super().__init__(refresh_days, forecast_days)
        self.shares: dict[tuple[str, str], np.ndarray] = {}

    def _prices(self, engine: Engine, now: datetime) -> None:
        super()._prices(engine, now)
        self.shares = engine.opportunity.fractions()

    def _one(self, engine: Engine, order: Order) -> Plan:
        return _planned_and_held(engine, order, self._plan)

    def _plan(self, engine: Engine, order: Order, stock: StockView, policy: PolicyProfile) -> Plan:
        rng = np.random.default_rng(zlib.crc32(order.order_id.encode()))
        opening = rng.exponential(size=len(engine.network) + 1)
        zone = zone_of(order.destination, engine.opportunity_config.zoning)
        priced_out = np.zeros((len(engine.network), len(stock.skus)))
        for g, sku in enumerate(stock.skus):
            share = self.shares.get((zone, sku))
            if share is not None:
                with np.errstate(divide="ignore"):
                    chosen = int(np.argmin(opening / share))
                priced_out[:, g] = ROUNDED_OUT
                if chosen < len(engine.network):
                    priced_out[chosen, g] = 0.0
        problem = OrderProblem(order, stock, engine.network, engine.rate_card, policy, engine.clock(),
                               priced_out)
        return solve_order(problem, Deadline.after_ms(engine.limits.time_budget_ms))


class NearestPolicy(OnlinePolicy):
    """The nearest-node rule (optimize.baselines), holding what it plans."""

    def route(self, engine: Engine, orders: Sequence[Order]) -> list[Routed]:
        return [_guarded(partial(_planned_and_held, engine, o, self._plan)) for o in orders]

    def _plan(self, engine: Engine, order: Order, stock: StockView, policy: PolicyProfile) -> Plan:
        return route_nearest(order, stock, engine.network, engine.rate_card, policy, engine.clock())


@dataclass(frozen=True)
class RankedPolicy(NearestPolicy):
    """The ranked-locations rule (optimize.baselines): nodes in a fixed priority order, those
    not ranked last by distance, holding what it plans."""

    ranking: tuple[str, ...] = ()

    def _plan(self, engine: Engine, order: Order, stock: StockView, policy: PolicyProfile) -> Plan:
        return route_ranked(order, stock, engine.network, engine.rate_card, policy, engine.clock(),
                            self.ranking)


@dataclass(frozen=True)
class WavePolicy:
    """Every `minutes`, the batch allocator over the orders that arrived in the window. Windows
    are counted from midnight, so none spans two days (node capacities are per day); a wave is
    released when its window closes (or at the day's last instant)."""

    minutes: int = 60
    time_budget_ms: float | None = None   # per wave; None: the engine's [batch] time_budget_ms

    def steps(self, orders: Sequence[Order]) -> Iterator[tuple[datetime, list[Order]]]:
        width = timedelta(minutes=self.minutes)
        for (day, k), group in groupby(orders, key=lambda o: (o.created_at.date(), _window(o, width))):
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=orders[0].created_at.tzinfo)
            release = min(midnight + (k + 1) * width, midnight + timedelta(days=1, microseconds=-1))
            yield release, list(group)

    def route(self, engine: Engine, orders: Sequence[Order]) -> list[Routed]:
        valid, results = _checked(engine, orders)
        if valid:
            batch = engine.route_batch([orders[k] for k in valid], reserve=True,
                                       time_budget_ms=self.time_budget_ms)
            for k, plan in zip(valid, batch.plans, strict=True):
                results[k] = plan
        return results


@dataclass(frozen=True)
class HindsightPolicy:
    """Per day, the batch allocator over the day's orders from the day's starting stock, with the
    online plans of that day from the same stock as its incumbent (the cheaper of the two wins)."""

    time_budget_ms: float | None = None   # per day; None: the engine's [batch] time_budget_ms

    def steps(self, orders: Sequence[Order]) -> Iterator[tuple[datetime, list[Order]]]:
        for _, group in groupby(orders, key=lambda o: o.created_at.date()):
            day = list(group)
            yield day[0].created_at, day

    def route(self, engine: Engine, orders: Sequence[Order]) -> list[Routed]:
        valid, results = _checked(engine, orders)
        if not valid:
            return results
        todo = [orders[k] for k in valid]
        batch = list(engine.route_batch(todo, reserve=False, time_budget_ms=self.time_budget_ms).plans)
        online = _online_from(engine, todo)
        # An order the batch did not reach in its budget has no plan (objective 0, nothing shipped):
        # such a day plan is not comparable, and the online plans stand.
        unreached = any(o.status.has_plan and not b.status.has_plan
                        for o, b in zip(online, batch, strict=True))
        if unreached or sum(p.objective for p in online) < sum(p.objective for p in batch):
            batch = online
        for k, order, plan in zip(valid, todo, batch, strict=True):
            results[k] = _guarded(partial(_hold, engine, order, plan))
        return results


def _online_from(engine: Engine, orders: Sequence[Order]) -> list[Plan]:
    """The online plans of `orders` from the engine's stock now, on a copy (the real store is
    untouched): each order routed at its own arrival time on what the previous ones left."""
    assert isinstance(engine.store, MemoryStore)   # the replay's store
    skus, on_hand, _, safety = engine.store.arrays()
    clock = SimClock(orders[0].created_at)
    copy = MemoryStore.from_arrays(engine.network, skus, on_hand, safety, clock=clock,
                                   hold_ttl_s=HOLD_TTL_S)
    shadow = Engine(engine.network, engine.rate_card, copy, policies=engine.policies,
                    default_policy=engine.default_policy, limits=engine.limits, clock=clock,
                    batch=engine.batch, solver=engine.solver)
    plans = []
    for order in orders:
        clock.now = order.created_at
        plans.append(shadow.route(order, reserve=True))
    return plans


class SimClock:
    """The stream's clock, shared by an engine and its store: set to each step's time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _checked(engine: Engine, orders: Sequence[Order]) -> tuple[list[int], list[Routed]]:
    """The indices of the orders that pass routing's checks, and one result per order: the
    error of those that do not (a batch call would refuse the whole wave for one bad order),
    an empty plan for the others until they are routed."""
    results: list[Routed] = [_guarded(partial(_validated, engine, o)) for o in orders]
    return [k for k, r in enumerate(results) if isinstance(r, Plan)], results


def _validated(engine: Engine, order: Order) -> Plan:
    engine.validate(order)
    return Plan(order.order_id, PlanStatus.NO_PLAN_FOUND)


def _planned_and_held(engine: Engine, order: Order,
                      plan: Callable[[Engine, Order, StockView, PolicyProfile], Plan]) -> Plan:
    """A rule's plan of `order` (checked as routing checks it, on a fresh read of its stock),
    held."""
    engine.validate(order)
    stock = engine.store.read(skus_of(order))
    return _hold(engine, order, plan(engine, order, stock, engine.policy_for(order)))


def _hold(engine: Engine, order: Order, plan: Plan) -> Plan:
    """Hold a plan's units under its order id (with its policy's stock buffers); a plan whose
    units are gone by now is re-routed online."""
    if not plan.shipments:
        return plan
    buffers = engine.policy_for(order).min_stock_buffer
    try:
        allocations = engine.routing.with_buffers(plan_allocations(plan), buffers)
        held = engine.store.reserve(order.order_id, allocations)
    except ReservationConflict:
        return engine.route(order, reserve=True)
    return replace(plan, reservation_id=held.reservation_id)


def _guarded(route: Callable[[], Plan]) -> Routed:
    """A bad order in the stream is counted, not fatal."""
    try:
        return route()
    except DomainError as exc:
        return exc


def _window(order: Order, width: timedelta) -> int:
    t = order.created_at
    since_midnight = timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)
    return int(since_midnight // width)


def make_policy(mode: str, wave_minutes: int = 60, batch_budget_ms: float | None = None,
                ranking: Sequence[str] = (), refresh_days: float = 1.0,
                forecast_days: float = 7.0) -> Policy:
    """The policy of a scenario's `mode`."""
    factories: dict[str, Callable[[], Policy]] = {
        "online": OnlinePolicy, "nearest": NearestPolicy, "ranked": lambda: RankedPolicy(tuple(ranking)),
        "wave": lambda: WavePolicy(wave_minutes, batch_budget_ms),
        "hindsight": lambda: HindsightPolicy(batch_budget_ms),
        "inventory_aware": lambda: InventoryAwarePolicy(refresh_days, forecast_days),
        "dilated": lambda: DilatedPolicy(refresh_days, forecast_days),
    }
    return factories[mode]()

