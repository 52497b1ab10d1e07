"""Nodes refusing shipments in a replay (a scenario's `reject_rate`, per node kind): after an
order's plan is held and before it ships, each node of its plan refuses with its kind's rate, and
the order is re-routed as RejectShipment does (Engine.reject: the node's units given back, the
node excluded, what it was to ship routed again into the same reservation), up to the engine's
max_rejects per order. Draws are seeded per (seed, order id, node), so a scenario replays
identically and paired scenarios see the same refusals."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..app.engine import Engine
from ..app.routing import skus_of
from ..domain import DomainError, Order, Plan


@dataclass(frozen=True)
class Rejections:
    """Refusal rate per node kind ("store": 0.1 = stores refuse 10 % of their shipments)."""

    rates: Mapping[str, float]
    seed: int = 0

    def refuses(self, order_id: str, node_id: str, kind: str) -> bool:
        rate = self.rates.get(kind, 0.0)
        if rate <= 0.0:
            return False
        draw = np.random.default_rng([self.seed, zlib.crc32(order_id.encode()),
                                      zlib.crc32(node_id.encode())])
        return bool(draw.random() < rate)

    def apply(self, engine: Engine, order: Order, plan: Plan) -> tuple[Plan, int]:
        """The order's plan after its nodes' refusals (the whole reservation as it stands), and how
        many nodes refused."""
        refused: set[str] = set()
        network = engine.network
        while len(refused) < engine.limits.max_rejects:
            node = next((s.node_id for s in plan.shipments if s.node_id not in refused
                         and self.refuses(order.order_id, s.node_id,
                                             str(network.kinds[network.index_of(s.node_id)]))), None)
            if node is None:
                break
            refused.add(node)
            try:
                engine.reject(order, node)
            except DomainError:
                break       # e.g. nothing left to route it to: the order keeps what it holds
            held = engine.store.reservation_for_order(order.order_id)
            if held is None:
                break
            plan = engine.routing.plan_of_reservation(order, held, skus_of(order), engine.policy_for(order))
        return plan, len(refused)
