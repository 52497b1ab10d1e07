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


_BANDS: dict[int, tuple[object, np.ndarray, np.ndarray]] = {}


def _band_arrays(service) -> tuple[np.ndarray, np.ndarray]:
    """A service's band edges and fee table as arrays, built once per service object (pricing
    runs per order; rebuilding them was a third of its time)."""
    cached = _BANDS.get(id(service))
    if cached is None or cached[0] is not service:
        bands = service.bands
        edges = np.array([b.max_distance for b in bands])
        table = np.array([[b.per_package, b.per_package_distance, b.per_unit, b.per_unit_distance,
                           b.per_kg, b.per_kg_distance, b.transit_days] for b in bands])
        if len(_BANDS) > 1024:   # rate cards are few; this only guards against unbounded growth
            _BANDS.clear()
        cached = _BANDS[id(service)] = (service, edges, table)
    return cached[1], cached[2]


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
    n, s, n_lines = len(node_idx), len(rate_card.services), len(unit_weights_kg)
    available = np.zeros((n, s), dtype=bool)
    transit = np.zeros((n, s), dtype=np.int64)
    package = np.zeros((n, s))
    package_distance = np.zeros((n, s))
    unit = np.zeros((n, s, n_lines))
    unit_distance = np.zeros((n, s, n_lines))
    co2e = np.zeros((n, s, n_lines))
    w = unit_weights_kg[None, :]
    for j, service in enumerate(rate_card.services):  # few services: a loop over services is fine
        d = dist_km / service.km_per_unit
        edges, bands_table = _band_arrays(service)
        band = np.searchsorted(edges, d, side="left")
        ok = band < len(edges)
        table = bands_table[np.minimum(band, len(edges) - 1)]
        available[:, j] = ok
        transit[:, j] = table[:, 6].astype(np.int64)
        package[:, j] = table[:, 0]
        package_distance[:, j] = table[:, 1] * d
        unit[:, j, :] = table[:, 2:3] + table[:, 4:5] * w
        unit_distance[:, j, :] = (table[:, 3:4] + table[:, 5:6] * w) * d[:, None]
        co2e[:, j, :] = d[:, None] * (service.co2e_per_unit_distance + service.co2e_per_kg_distance * w)
    return ServicePrices(
        distance_km=dist_km,
        available=available,
        transit_days=transit,
        package=package,
        package_distance=package_distance,
        handling_shipment=network.handling_per_shipment[node_idx][:, None],
        unit=unit,
        unit_distance=unit_distance,
        handling_unit=network.handling_per_unit[node_idx][:, None, None],
        co2e_unit=co2e,
    )
