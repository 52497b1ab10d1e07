"""Fulfillment nodes and the network they form. A Network is immutable; arrays derived from it
(coordinates, handling costs) are built once so routing never loops over nodes in Python."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import ConfigError, NotFoundError


class NodeKind(enum.Enum):
    WAREHOUSE = "warehouse"
    STORE = "store"
    DROPSHIP = "dropship"


@dataclass(frozen=True, slots=True)
class Node:
    """A place that ships orders. Costs are in the network's currency.

    `processing_days` is how many days after release a shipment leaves; orders released after
    `cutoff_hour` (UTC, 0-24) are released the next day. `daily_shipment_capacity` None = unlimited.
    `daily_unit_capacity` (None = unlimited) caps the units a node ships per day; only batch
    allocation uses it, and the stores do not count units, so it caps the units of one batch.
    """

    node_id: str
    kind: NodeKind
    latitude: float
    longitude: float
    handling_per_shipment: float = 0.0
    handling_per_unit: float = 0.0
    processing_days: int = 0
    cutoff_hour: float = 24.0
    daily_shipment_capacity: int | None = None
    enabled: bool = True
    tags: frozenset[str] = frozenset()
    name: str = ""
    daily_unit_capacity: int | None = None

    def __post_init__(self) -> None:
        where = f"nodes[{self.node_id!r}]"
        if not self.node_id:
            raise ConfigError("nodes.node_id", "must not be empty")
        if not (math.isfinite(self.latitude) and -90 <= self.latitude <= 90):
            raise ConfigError(f"{where}.latitude", f"must be within [-90, 90], got {self.latitude}")
        if not (math.isfinite(self.longitude) and -180 <= self.longitude <= 180):
            raise ConfigError(f"{where}.longitude", f"must be within [-180, 180], got {self.longitude}")
        if self.handling_per_shipment < 0 or self.handling_per_unit < 0:
            raise ConfigError(f"{where}.handling", "handling costs must be >= 0")
        if self.processing_days < 0:
            raise ConfigError(f"{where}.processing_days", "must be >= 0")
        if not 0 <= self.cutoff_hour <= 24:
            raise ConfigError(f"{where}.cutoff_hour", "must be within [0, 24]")
        if self.daily_shipment_capacity is not None and self.daily_shipment_capacity < 0:
            raise ConfigError(f"{where}.daily_shipment_capacity", "must be >= 0")
        if self.daily_unit_capacity is not None and self.daily_unit_capacity < 0:
            raise ConfigError(f"{where}.daily_unit_capacity", "must be >= 0")


@dataclass(frozen=True)
class Network:
    """The set of nodes, in a fixed order: node i of every stock array is `nodes[i]`."""

    nodes: tuple[Node, ...]
    currency: str = "USD"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        if not self.nodes:
            raise ConfigError("nodes", "a network needs at least one node")
        index: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            if node.node_id in index:
                raise ConfigError("nodes.node_id", f"duplicate node id {node.node_id!r}")
            index[node.node_id] = i
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.nodes)

    def index_of(self, node_id: str, field_name: str = "node_id") -> int:
        try:
            return self._index[node_id]
        except KeyError:
            raise NotFoundError(field_name, f"unknown node {node_id!r}") from None

    def has(self, node_id: str) -> bool:
        return node_id in self._index

    @property
    def node_ids(self) -> list[str]:
        return [n.node_id for n in self.nodes]

    @cached_property
    def latitudes(self) -> np.ndarray:
        return np.array([n.latitude for n in self.nodes], dtype=np.float64)

    @cached_property
    def longitudes(self) -> np.ndarray:
        return np.array([n.longitude for n in self.nodes], dtype=np.float64)

    @cached_property
    def handling_per_shipment(self) -> np.ndarray:
        return np.array([n.handling_per_shipment for n in self.nodes], dtype=np.float64)

    @cached_property
    def handling_per_unit(self) -> np.ndarray:
        return np.array([n.handling_per_unit for n in self.nodes], dtype=np.float64)

    @cached_property
    def processing_days(self) -> np.ndarray:
        return np.array([n.processing_days for n in self.nodes], dtype=np.int64)

    @cached_property
    def cutoff_hours(self) -> np.ndarray:
        return np.array([n.cutoff_hour for n in self.nodes], dtype=np.float64)

    @cached_property
    def enabled(self) -> np.ndarray:
        return np.array([n.enabled for n in self.nodes], dtype=bool)

    @cached_property
    def daily_unit_capacities(self) -> np.ndarray:
        """Units each node may ship per day (float; inf where unlimited)."""
        return np.array([np.inf if n.daily_unit_capacity is None else float(n.daily_unit_capacity)
                         for n in self.nodes], dtype=np.float64)

    @cached_property
    def kinds(self) -> np.ndarray:
        """Node kinds as an array of their string values, for vectorised policy filters."""
        return np.array([n.kind.value for n in self.nodes])

    def without(self, node_ids: set[str]) -> Network:
        """A copy with the given nodes disabled (what-if: close a DC)."""
        from dataclasses import replace

        return Network(
            tuple(replace(n, enabled=False) if n.node_id in node_ids else n for n in self.nodes),
            currency=self.currency,
        )
