"""What is left to route when a node rejects its shipment of a reserved order."""

from __future__ import annotations

from dataclasses import replace

from ..domain import Order
from ..domain.reservation import Reservation


def remaining_order(order: Order, held: Reservation, default_max_shipments: int) -> Order | None:
    """The part of `order` that `held` no longer covers, as an order of its own (None if nothing):
    same id and destination, every rejected node excluded, and the shipments already held counted
    against max_shipments. Held units are matched to lines by SKU, in line order."""
    left: dict[str, int] = {}
    for a in held.allocations:
        left[a.sku] = left.get(a.sku, 0) + a.quantity
    lines = []
    for line in order.lines:
        take = min(line.quantity, left.get(line.sku, 0))
        left[line.sku] = left.get(line.sku, 0) - take
        if line.quantity > take:
            lines.append(replace(line, quantity=line.quantity - take))
    if not lines:
        return None
    nodes_held = len({a.node_id for a in held.allocations})
    cap = order.options.max_shipments or default_max_shipments
    options = replace(
        order.options,
        excluded_nodes=order.options.excluded_nodes | frozenset(held.rejected_nodes),
        max_shipments=max(1, cap - nodes_held),
    )
    return replace(order, lines=tuple(lines), options=options)


__all__ = ["remaining_order"]
