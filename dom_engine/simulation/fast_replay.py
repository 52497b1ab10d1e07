"""The online replay's fast path: the same decisions as Engine.route(reserve=True) order by order,
at a fraction of the cost. Orders are checked by the engine's own checks, priced a chunk at a
time (optimize.order_chunk: the stock-independent part of build_problem, vectorised) and routed
one at a time on live stock arrays by a compiled kernel (optimize.stream_kernel: the rest of
build_problem, the exact set search, the plan's effects). No Plan, reservation or store call per
order; an order the kernel does not model (kits, shared SKUs, very long orders, a search that
gives up, no plan) goes through solve_order — the optimizer RouteOrder runs — on a read of the
same arrays.

Used by replay() for the `online` mode without node refusals; the equality with Engine.route is
tested order by order (tests/simulation/test_fast_replay.py) and benchmarked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta

import numpy as np

from ..app.engine import Engine
from ..app.routing import skus_of
from ..domain import DomainError, Order, Plan, PolicyProfile, check_skus
from ..domain.stock import StockView
from ..domain.stop import Deadline
from ..inventory.memory import MemoryStore
from ..network.geo import haversine_km
from ..optimize import OrderProblem, solve_order
from ..optimize.order_chunk import price_chunk
from ..optimize.stream_kernel import UNLIMITED, ChunkOutcomes, StreamState, route_chunk
from .receipts import Receipt
from .world import World

CHUNK_ORDERS = 256    # orders priced at once: (orders x nodes x services x lines) arrays stay small


def fast_replay_applies(world: World, orders: Sequence[Order]) -> bool:
    """The fast path models the online policy without refusals, for streams of distinct order ids
    (a repeated id is a retry to Engine.route: it answers the held plan)."""
    return not world.scenario.reject_rate and len({o.order_id for o in orders}) == len(orders)


class FastReplay:
    """One online replay over arrays; `run` returns what replay.replay returns."""

    def __init__(self, world: World, engine: Engine, time_budget_ms: float) -> None:
        self.world, self.engine, self.time_budget_ms = world, engine, time_budget_ms
        stock = world.stock
        self.col = {sku: j for j, sku in enumerate(stock.skus)}
        assert isinstance(engine.store, MemoryStore)
        left = engine.store.capacity_left()      # a fresh store: each node's whole daily capacity
        caps = np.full(len(world.network), UNLIMITED) if left is None else left
        self.state = StreamState(stock.on_hand, stock.safety, caps)
        self.received = np.zeros_like(self.state.on_hand)
        self.first_day: date | None = None
        self.out = ChunkOutcomes(0, 1)

    def replenish(self) -> None:
        """Every node x SKU back up to its starting on-hand level (what is above it stays)."""
        short = (self.world.stock.on_hand - self.state.on_hand).clip(0)
        self.state.on_hand += short
        self.received += short

    def receive(self, receipt: Receipt) -> None:
        cell = self.world.network.index_of(receipt.node_id), self.col[receipt.sku]
        self.state.on_hand[cell] += receipt.units
        self.received[cell] += receipt.units

    def route(self, orders: Sequence[Order]) -> list[tuple[Order, Plan | DomainError | int]]:
        """Route a chunk (in arrival order, no event due inside it). Per order, in order: its plan
        when solve_order routed it, or why it was refused, or its position in `self.out` where
        the kernel wrote its outcome."""
        if self.first_day is None and orders:
            self.first_day = orders[0].created_at.date()
        results: list[tuple[Order, Plan | DomainError | int]] = []
        valid: list[Order] = []
        policies: list[PolicyProfile] = []
        for order in orders:
            self.engine.clock.now = order.created_at          # type: ignore[attr-defined]
            try:
                self.engine.routing.check_request(order)
                check_skus(order, frozenset(line.sku for line in order.lines if line.sku not in self.col))
                policies.append(self.engine.policy_for(order))
            except DomainError as exc:
                results.append((order, exc))
                continue
            results.append((order, len(valid)))
            valid.append(order)
        assert self.first_day is not None
        days = np.array([(o.created_at.date() - self.first_day).days for o in valid], dtype=np.int64)
        chunk = price_chunk(valid, policies, [o.created_at for o in valid],
                            self._distances(valid), self.engine.network, self.engine.rate_card,
                            self.col, (self.state.on_hand, self.state.safety),
                            self.engine.solver.search.fast_search_max_sets)
        self.out = ChunkOutcomes(len(valid), int(chunk.max_shipments.max(initial=1)))
        exact: dict[int, Plan] = {}
        k = 0
        while k < len(valid):
            k = route_chunk(chunk, days, self.state, self.out, k)
            if k < len(valid):
                self.state.roll_to(int(days[k]))
                exact[k] = self._exact(valid[k], policies[k], int(days[k]))
                k += 1
        return [(o, exact.get(r, r)) if isinstance(r, int) else (o, r) for o, r in results]

    def _distances(self, orders: Sequence[Order]) -> np.ndarray:
        """(B, N) km from each order's destination to every node: the haversine build_problem
        computes per order, broadcast over the chunk (element by element the same operations;
        numpy's transcendental loops give the same bits either way, which the equality tests
        check)."""
        network = self.engine.network
        lat = np.array([o.destination.latitude for o in orders])[:, None]
        lon = np.array([o.destination.longitude for o in orders])[:, None]
        return haversine_km(lat, lon, network.latitudes[None, :], network.longitudes[None, :])

    def _exact(self, order: Order, policy: PolicyProfile, day: int) -> Plan:
        """solve_order on a read of the arrays (as Engine.route reads the store), then its effects."""
        state = self.state
        skus = skus_of(order)
        cols = [self.col[s] for s in skus]
        atp = (state.on_hand[:, cols] - state.safety[:, cols]).clip(0)
        view = StockView(int(day), tuple(skus), atp, 0.0, state.capacity_left())
        plan = solve_order(OrderProblem(order, view, self.engine.network, self.engine.rate_card, policy,
                                        order.created_at),
                           Deadline.after_ms(self.time_budget_ms), self.engine.solver.search)
        index_of = self.engine.network.index_of
        for node in {s.node_id for s in plan.shipments}:
            state.shipments_today[index_of(node)] += 1
        for shipment in plan.shipments:
            n = index_of(shipment.node_id)
            for line in shipment.lines:
                j = self.col[line.sku]
                state.on_hand[n, j] -= line.quantity
                state.shipped[n, j] += line.quantity
                if state.on_hand[n, j] == 0 and state.stockout_day[n, j] < 0:
                    state.stockout_day[n, j] = day
        return plan

    def stockouts(self) -> dict[tuple[str, str], str]:
        """(node, SKU) that ran out -> the first day it did."""
        if self.first_day is None:
            return {}
        nodes, skus = self.world.network.nodes, self.world.stock.skus
        first = self.first_day
        return {(nodes[n].node_id, skus[j]): (first + timedelta(days=int(d))).isoformat()
                for n, j, d in zip(*np.nonzero(self.state.stockout_day >= 0),
                                   self.state.stockout_day[self.state.stockout_day >= 0], strict=True)}


def chunks(orders: Sequence[Order], receipts: Sequence[Receipt], dated: Sequence[Sequence[date]],
           size: int = CHUNK_ORDERS) -> Iterator[tuple[list[Receipt], list[int], list[Order]]]:
    """The stream cut into chunks of at most `size` orders with no event due inside one: per chunk,
    the receipts due before its first order, how many of each list of dated events (network
    changes, replenishments: each in date order, due from the day's first order) fall due, and
    its orders."""
    arriving = list(receipts)
    r = 0
    passed = [0] * len(dated)
    current: list[Order] = []
    due: list[Receipt] = []
    counts = [0] * len(dated)
    for order in orders:
        new_r = r
        while new_r < len(arriving) and arriving[new_r].at <= order.created_at:
            new_r += 1
        day = order.created_at.date()
        now = [next((k for k in range(p, len(dates)) if dates[k] > day), len(dates))
               for p, dates in zip(passed, dated, strict=True)]
        if current and (new_r > r or now != passed or len(current) >= size):
            yield due, counts, current
            current, due, counts = [], [], [0] * len(dated)
        due.extend(arriving[r:new_r])
        counts = [c + n - p for c, n, p in zip(counts, now, passed, strict=True)]
        r, passed = new_r, now
        current.append(order)
    if current:
        yield due, counts, current
