"""The replay's yardstick, kept apart from the product code it checks: a world's orders routed in
arrival order through a plain Engine over the world's stock, each held and committed (what an OMS
calling RouteOrder with reserve does). Used by the replay tests and the simulation benchmark."""

from __future__ import annotations

from collections.abc import Sequence

from dom_engine.app.engine import Engine
from dom_engine.domain import Limits, Order, Plan
from dom_engine.inventory.memory import MemoryStore
from dom_engine.simulation.policies import HOLD_TTL_S, SimClock
from dom_engine.simulation.world import World


def route_one_by_one(world: World, orders: Sequence[Order], time_budget_ms: float) -> list[Plan]:
    """The plan of every order of `orders` (in arrival order), each on what the previous left."""
    clock = SimClock(orders[0].created_at)
    stock = world.stock
    store = MemoryStore.from_arrays(world.network, stock.skus, stock.on_hand, stock.safety, clock=clock,
                                    hold_ttl_s=HOLD_TTL_S)
    engine = Engine(world.network, world.rate_card, store, policies=dict(world.policies),
                    limits=Limits(time_budget_ms=time_budget_ms), clock=clock)
    plans = []
    for order in orders:
        clock.now = order.created_at
        plan = engine.route(order, reserve=True)
        if plan.reservation_id:
            store.commit(plan.reservation_id)
        plans.append(plan)
    return plans
