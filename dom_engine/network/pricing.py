"""Rate-card pricing of (node, carrier service) options for one destination, vectorised.

For every candidate node and service the cost of a shipment is linear:
    fixed(node, service) + sum over lines of units x per_unit(node, service, line)
which is what lets the optimiser treat a (node, service) pair as one option. Components are kept
apart (package / units / handling / distance) for the plan's cost breakdown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..domain import Network, RateCard
from .geo import haversine_km


@dataclass(frozen=True)
class ServicePrices:
    """Prices of one destination over nodes (rows) and services (columns); lines on the last axis.

    Arrays are float64 unless noted; `available` is False where the distance exceeds every band.
    """

    distance_km: np.ndarray          # (N,)
    available: np.ndarray            # (N, S) bool
    transit_days: np.ndarray         # (N, S) int64
    package: np.ndarray              # (N, S) per-package fee
    package_distance: np.ndarray     # (N, S) per-package distance fee
    handling_shipment: np.ndarray    # (N, 1) node handling per shipment
    unit: np.ndarray                 # (N, S, L) per-unit + per-kg fees (no distance part)
    unit_distance: np.ndarray        # (N, S, L) per-unit and per-kg distance fees
    handling_unit: np.ndarray        # (N, 1, 1) node handling per unit
    co2e_unit: np.ndarray            # (N, S, L) kg CO2e per unit

    @property
    def fixed(self) -> np.ndarray:
        """Money per shipment, (N, S)."""
        return self.package + self.package_distance + self.handling_shipment

    @property
    def per_unit(self) -> np.ndarray:
        """Money per unit, (N, S, L)."""
        return self.unit + self.unit_distance + self.handling_unit


_CARDS: dict[int, tuple] = {}


def _card_arrays(card: RateCard) -> tuple[np.ndarray, ...]:
    """A rate card as arrays, built once per card object (pricing runs per order; rebuilding the
    band tables was a third of its time): band edges (S, B) padded with inf, fee tables (S, B, 7),
    distance unit per service, CO2e per unit and per kg distance."""
    cached = _CARDS.get(id(card))
    if cached is None or cached[0] is not card:
        services = card.services
        width = max(len(s.bands) for s in services)
        edges = np.full((len(services), width), np.inf)
        tables = np.zeros((len(services), width, 7))
        for j, service in enumerate(services):
            for k, b in enumerate(service.bands):
                edges[j, k] = b.max_distance
                tables[j, k] = (b.per_package, b.per_package_distance, b.per_unit, b.per_unit_distance,
                                b.per_kg, b.per_kg_distance, b.transit_days)
        n_bands = np.array([len(s.bands) for s in services], dtype=np.int64)
        arrays = (edges, n_bands, tables, np.array([s.km_per_unit for s in services], dtype=np.float64),
                  np.array([s.co2e_per_unit_distance for s in services], dtype=np.float64),
                  np.array([s.co2e_per_kg_distance for s in services], dtype=np.float64))
        if len(_CARDS) > 64:   # cards are few; this only guards against unbounded growth
            _CARDS.clear()
        cached = _CARDS[id(card)] = (card, *arrays)
    return cached[1:]


def price(
    rate_card: RateCard,
    network: Network,
    node_idx: np.ndarray,
    lat: float,
    lon: float,
    unit_weights_kg: np.ndarray,
    distance_km: np.ndarray | None = None,
) -> ServicePrices:
    """Price every service from the nodes `node_idx` to (lat, lon) for lines of the given weights.
    `distance_km` (to every node of the network) may be passed when the caller has it already."""
    if distance_km is None:
        dist_km = haversine_km(lat, lon, network.latitudes[node_idx], network.longitudes[node_idx])
    else:
        dist_km = distance_km[node_idx]
    return _priced(rate_card, network, node_idx, dist_km, unit_weights_kg)


def price_destinations(rate_card: RateCard, network: Network, node_idx: np.ndarray, distance_km: np.ndarray,
                       unit_weights_kg: np.ndarray) -> ServicePrices:
    """`price` for many destinations at once: nodes `node_idx` (..., n) at `distance_km` (..., n)
    from destinations whose lines weigh `unit_weights_kg` (..., L) (pad as you like); every array
    of the result gains the leading axes. Element by element the same arithmetic as `price`, so
    the same bits: a stream router prices a chunk of orders in one go and still takes the
    decisions one order at a time would."""
    return _priced(rate_card, network, node_idx, distance_km, unit_weights_kg)


def _priced(rate_card: RateCard, network: Network, node_idx: np.ndarray, dist_km: np.ndarray,
            unit_weights_kg: np.ndarray) -> ServicePrices:
    """Prices over nodes `node_idx` at distances `dist_km` (..., n) for line weights (..., L)."""
    edges, n_bands, tables, km_per_unit, co2e_unit_km, co2e_kg_km = _card_arrays(rate_card)
    d = dist_km[..., None] / km_per_unit                                     # (..., n, S) rate-card units
    # All services at once: bands are padded with +inf edges, so "first edge >= d" is a count.
    band = (edges < d[..., None]).sum(axis=-1)                               # (..., n, S)
    available = band < n_bands
    band = np.minimum(band, edges.shape[1] - 1)
    table = tables[np.arange(len(km_per_unit)), band]                        # (..., n, S, 7)
    w = unit_weights_kg[..., None, None, :]
    transit = table[..., 6].astype(np.int64)
    package = table[..., 0]
    package_distance = table[..., 1] * d
    unit = table[..., 2:3] + table[..., 4:5] * w
    unit_distance = (table[..., 3:4] + table[..., 5:6] * w) * d[..., None]
    co2e = d[..., None] * (co2e_unit_km[:, None] + co2e_kg_km[:, None] * w)
    return ServicePrices(
        distance_km=dist_km,
        available=available,
        transit_days=transit,
        package=package,
        package_distance=package_distance,
        handling_shipment=network.handling_per_shipment[node_idx][..., None],
        unit=unit,
        unit_distance=unit_distance,
        handling_unit=network.handling_per_unit[node_idx][..., None, None],
        co2e_unit=co2e,
    )
