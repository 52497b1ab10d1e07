"""Checks that depend on configuration: limits, known SKUs and nodes, dates relative to now."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime

from .errors import NotFoundError, ValidationError
from .network import Network
from .order import Order


@dataclass(frozen=True, slots=True)
class Limits:
    """Request limits (config section [limits]). Each bounds work a single request can cause."""

    max_lines: int = 200
    max_quantity: int = 1_000_000
    max_units: int = 10_000_000
    max_excluded_nodes: int = 10_000
    max_id_length: int = 128
    max_promise_days: int = 365
    time_budget_ms: float = 50.0
    max_rejects: int = 3            # nodes that may refuse one order's shipments before it needs a human


def validate_order(
    order: Order,
    limits: Limits,
    network: Network,
    known_skus: Container[str] | None,
    now: datetime,
    policies: Container[str] = (),
) -> None:
    """Raise ValidationError / NotFoundError naming the first offending field. `known_skus` None
    skips the SKU check (the engine checks SKUs with the stock read instead: see check_skus)."""
    if len(order.lines) > limits.max_lines:
        raise ValidationError("lines", f"{len(order.lines)} lines exceed the limit of {limits.max_lines}")
    if len(order.order_id) > limits.max_id_length:
        raise ValidationError("order_id", f"longer than {limits.max_id_length} characters")
    for i, line in enumerate(order.lines):
        if line.quantity > limits.max_quantity:
            raise ValidationError(
                f"lines[{i}].quantity", f"{line.quantity} exceeds the limit of {limits.max_quantity}"
            )
        if len(line.line_id) > limits.max_id_length:
            raise ValidationError(f"lines[{i}].line_id", f"longer than {limits.max_id_length} characters")
        if known_skus is not None and line.sku not in known_skus:
            raise NotFoundError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}")
    if order.total_units > limits.max_units:
        raise ValidationError("lines", f"{order.total_units} units exceed the limit of {limits.max_units}")
    excluded = order.options.excluded_nodes
    if len(excluded) > limits.max_excluded_nodes:
        raise ValidationError("options.excluded_nodes", f"more than {limits.max_excluded_nodes} entries")
    for node_id in sorted(excluded):
        if not network.has(node_id):
            raise NotFoundError("options.excluded_nodes", f"unknown node {node_id!r}")
    if order.options.policy and policies and order.options.policy not in policies:
        raise NotFoundError("options.policy", f"unknown policy profile {order.options.policy!r}")
    if order.deliver_by is not None:
        today = now.date()
        if order.deliver_by < today:
            raise ValidationError(
                "deliver_by", f"{order.deliver_by.isoformat()} is in the past (today is {today.isoformat()})"
            )
        if (order.deliver_by - today).days > limits.max_promise_days:
            raise ValidationError(
                "deliver_by", f"more than {limits.max_promise_days} days ahead"
            )


def check_skus(order: Order, unknown: Container[str]) -> None:
    """NotFoundError naming the first line whose SKU is in `unknown`."""
    for i, line in enumerate(order.lines):
        if line.sku in unknown:
            raise NotFoundError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}")
