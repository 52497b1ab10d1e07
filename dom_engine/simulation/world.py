"""The simulated world of one scenario: the base's network, stock, rate card and policies with the
scenario's changes applied. Every name a scenario uses (node, service) is checked here against the
base, and errors name the scenario and key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from ..app.returns_config import ReturnsConfig
from ..domain import ConfigError, Network, PolicyProfile, RateCard
from ..domain.rates import RateBand
from .returns import resolve_returns
from .scenarios import Scenario

# Money fields of a rate band that a rates_scale multiplies (distances and days stay).
_MONEY = ("per_package", "per_package_distance", "per_unit", "per_unit_distance", "per_kg", "per_kg_distance")


@dataclass(frozen=True)
class Stock:
    """Starting stock: SKUs and (nodes x SKUs) on-hand and safety matrices."""

    skus: tuple[str, ...]
    on_hand: np.ndarray
    safety: np.ndarray


@dataclass(frozen=True)
class World:
    """What one scenario routes against: `network` at the start, replaced by each of `changes` from
    its date (nodes closing or opening)."""

    scenario: Scenario
    network: Network
    stock: Stock
    rate_card: RateCard
    policies: Mapping[str, PolicyProfile]
    changes: tuple[tuple[date, Network], ...] = ()   # the network from each date on, in date order
    returns_config: ReturnsConfig = field(default_factory=ReturnsConfig)   # the base's [returns] sites


def build_world(scenario: Scenario, network: Network, stock: Stock, rate_card: RateCard,
                policies: Mapping[str, PolicyProfile], returns_config: ReturnsConfig | None = None) -> World:
    """The base with `scenario`'s changes (the base scenario changes nothing); returns go to the
    sites of `returns_config` (default: [returns]'s default sites)."""
    where = f"scenarios.{scenario.name}"
    returns_config = returns_config or ReturnsConfig()
    for node_id in scenario.ranking:
        if not network.has(node_id):
            raise ConfigError(f"{where}.ranking", f"unknown node {node_id!r}")
    named = (("close", scenario.close), ("open", scenario.open), ("capacity", tuple(scenario.capacity)))
    for key, node_ids in named:
        for node_id in node_ids:
            if not network.has(node_id):
                raise ConfigError(f"{where}.{key}", f"unknown node {node_id!r}")
    for node_id in scenario.open:
        if network.nodes[network.index_of(node_id)].enabled:
            raise ConfigError(f"{where}.open", f"node {node_id!r} is open already in the base")
    if scenario.capacity:
        network = Network(tuple(replace(n, daily_shipment_capacity=scenario.capacity.get(n.node_id,
                                                                                         n.daily_shipment_capacity))
                                for n in network.nodes), currency=network.currency)
    stock_now = _stock(scenario, network, stock, where)
    network, changes = _network_changes(scenario, network)
    if scenario.returns is not None:     # checked (and its centre chosen) on the network at the start
        returns = resolve_returns(scenario.returns, network, stock.skus, returns_config,
                                  "base" if scenario.name == "base" else where)
        scenario = replace(scenario, returns=returns)
    return World(scenario, network, stock_now, _rates(scenario, rate_card, where),
                 _policies(scenario, policies), changes, returns_config)


Changes = tuple[tuple[date, Network], ...]


def _network_changes(scenario: Scenario, network: Network) -> tuple[Network, Changes]:
    """The network at the start and from each dated change on (nodes closing or opening); a
    change without a date applies from the start."""
    edits = [(scenario.close_from, frozenset(scenario.close), False),
             (scenario.open_from, frozenset(scenario.open), True)]
    dated: list[tuple[date, frozenset[str], bool]] = []
    for when, node_ids, enabled in edits:
        if not node_ids:
            continue
        if when is None:
            network = _enabled(network, node_ids, enabled)
        else:
            dated.append((when, node_ids, enabled))
    changes, current = [], network
    for when, node_ids, enabled in sorted(dated, key=lambda e: e[0]):
        current = _enabled(current, node_ids, enabled)
        changes.append((when, current))
    return network, tuple(changes)


def _enabled(network: Network, node_ids: frozenset[str], enabled: bool) -> Network:
    return Network(tuple(replace(n, enabled=enabled) if n.node_id in node_ids else n for n in network.nodes),
                   currency=network.currency)


def _stock(scenario: Scenario, network: Network, stock: Stock, where: str) -> Stock:
    on_hand = stock.on_hand
    if scenario.stock_scale != 1.0:
        on_hand = np.floor(on_hand * scenario.stock_scale).astype(np.int64)
    for k, move in enumerate(scenario.stock_moves):
        for key, node_id in (("from", move.source), ("to", move.target)):
            if not network.has(node_id):
                raise ConfigError(f"{where}.stock_move[{k}].{key}", f"unknown node {node_id!r}")
        on_hand = on_hand.copy()
        i, j = network.index_of(move.source), network.index_of(move.target)
        moved = np.floor(on_hand[i] * move.share).astype(np.int64)
        on_hand[i] -= moved
        on_hand[j] += moved
    col = {sku: j for j, sku in enumerate(stock.skus)}
    for k, add in enumerate(scenario.stock_adds):
        if not network.has(add.node):
            raise ConfigError(f"{where}.stock_add[{k}].node", f"unknown node {add.node!r}")
        if add.sku is not None and add.sku not in col:
            raise ConfigError(f"{where}.stock_add[{k}].sku", f"unknown SKU {add.sku!r}")
        on_hand = on_hand.copy()
        i = network.index_of(add.node)
        cols = slice(None) if add.sku is None else col[add.sku]
        on_hand[i, cols] = np.maximum(on_hand[i, cols] + add.units, 0)
    unknown = [sku for sku in scenario.skus or () if sku not in col]
    if unknown:
        raise ConfigError(f"{where}.skus", f"unknown SKU(s) {unknown[:5]}")
    return Stock(stock.skus, on_hand, stock.safety)


def _rates(scenario: Scenario, card: RateCard, where: str) -> RateCard:
    names = {s.name for s in card.services}
    for name in scenario.rates_scale_services:
        if name not in names:
            raise ConfigError(f"{where}.rates_scale_services.{name}",
                              f"unknown carrier service; the rate card has {sorted(names)}")
    by_name = {s.name: s for s in card.services}
    band_factor: dict[tuple[str, int], float] = {}
    for k, scale in enumerate(scenario.rates_scale_bands):
        if scale.service not in by_name:
            raise ConfigError(f"{where}.rates_scale_bands[{k}].service",
                              f"unknown carrier service {scale.service!r}; the rate card has {sorted(names)}")
        n_bands = len(by_name[scale.service].bands)
        if scale.band >= n_bands:
            raise ConfigError(f"{where}.rates_scale_bands[{k}].band",
                              f"{scale.service!r} has {n_bands} bands (0 to {n_bands - 1}), got {scale.band}")
        key = (scale.service, scale.band)
        band_factor[key] = band_factor.get(key, 1.0) * scale.factor
    if scenario.rates_scale == 1.0 and not scenario.rates_scale_services and not band_factor:
        return card
    services = []
    for service in card.services:
        factor = scenario.rates_scale * scenario.rates_scale_services.get(service.name, 1.0)
        bands = tuple(_scaled(b, factor * band_factor.get((service.name, i), 1.0))
                      for i, b in enumerate(service.bands))
        services.append(replace(service, bands=bands))
    return replace(card, services=tuple(services))


def _scaled(band: RateBand, factor: float) -> RateBand:
    return replace(band, **{f: getattr(band, f) * factor for f in _MONEY})


def _policies(scenario: Scenario, policies: Mapping[str, PolicyProfile]) -> dict[str, PolicyProfile]:
    changes: dict[str, object] = {}
    if scenario.max_shipments is not None:
        changes["max_shipments"] = scenario.max_shipments
    if scenario.channel_node_kinds is not None:
        changes["channel_node_kinds"] = dict(scenario.channel_node_kinds)
    if scenario.min_stock_buffer is not None:
        changes["min_stock_buffer"] = dict(scenario.min_stock_buffer)
    out = {name: replace(policy, **changes) for name, policy in policies.items()}  # type: ignore[arg-type]
    if scenario.weights:
        out = {name: replace(p, weights=replace(p.weights, **scenario.weights)) for name, p in out.items()}
    return out
