"""Small named networks the store and routing tests share (one definition instead of a literal
copied into every test file)."""

from __future__ import annotations

from ..domain import Network, Node, NodeKind


def row_network(n_nodes: int, first_node_capacity: int | None = None) -> Network:
    """Warehouses "N0".."N{n-1}" one degree of longitude apart on the 40th parallel (New Jersey
    westwards); N0 may have a daily shipment capacity (the others are unlimited)."""
    return Network(tuple(
        Node(f"N{i}", NodeKind.WAREHOUSE, 40.0, -75.0 + i,
             daily_shipment_capacity=first_node_capacity if i == 0 else None)
        for i in range(n_nodes)))


def abc_network(store_capacity: int | None = None) -> Network:
    """Warehouse A (Philadelphia area), store B (Chicago area, with `store_capacity` shipments a
    day) and warehouse C (Los Angeles area)."""
    return Network((
        Node("A", NodeKind.WAREHOUSE, 40.0, -75.0),
        Node("B", NodeKind.STORE, 41.0, -87.0, daily_shipment_capacity=store_capacity),
        Node("C", NodeKind.WAREHOUSE, 34.0, -118.0),
    ))


def numbered_skus(n: int) -> list[str]:
    """"SKU-000", "SKU-001", ...: enough SKUs to spread over every shard of a Redis Cluster."""
    return [f"SKU-{j:03d}" for j in range(n)]
