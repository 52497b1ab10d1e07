"""Rate-card pricing against prices worked out by hand from the card."""

from __future__ import annotations

import numpy as np
import pytest

from dom_engine.domain import CarrierService, Network, Node, NodeKind, RateBand, RateCard
from dom_engine.network.geo import haversine_km
from dom_engine.network.pricing import price

NEAR = RateBand(max_distance=500, per_package=5.0, per_package_distance=0.01, per_unit=1.0,
                per_unit_distance=0.001, per_kg=0.5, per_kg_distance=0.0002, transit_days=2)
FAR = RateBand(max_distance=3000, per_package=9.0, per_unit=2.0, per_kg=1.0, transit_days=4)
GROUND = CarrierService("ground", (FAR, NEAR))                     # bands sorted by the card
AIR_MI = CarrierService("air", (RateBand(max_distance=1000, per_package=20.0, transit_days=1),),
                        distance_unit="mi")
CARD = RateCard((GROUND, AIR_MI))
NETWORK = Network((
    Node("EWR", NodeKind.WAREHOUSE, 40.69, -74.17, handling_per_shipment=1.5, handling_per_unit=0.25),
    Node("ORD", NodeKind.WAREHOUSE, 41.97, -87.91),
    Node("LAX", NodeKind.WAREHOUSE, 33.94, -118.41),
))
DEST = (40.75, -73.99)   # Manhattan


def _prices(weights=(2.0,)):
    return price(CARD, NETWORK, np.arange(3), DEST[0], DEST[1], np.array(weights))


def test_near_band_by_hand():
    p = _prices()
    d = float(haversine_km(DEST[0], DEST[1], NETWORK.latitudes[:1], NETWORK.longitudes[:1])[0])
    assert d < 500
    fixed = 5.0 + 0.01 * d + 1.5                        # package + per-package distance + handling
    per_unit = 1.0 + 0.5 * 2.0 + (0.001 + 0.0002 * 2.0) * d + 0.25
    assert p.fixed[0, 0] == pytest.approx(fixed)
    assert p.per_unit[0, 0, 0] == pytest.approx(per_unit)
    assert p.transit_days[0, 0] == 2 and p.available[0, 0]


def test_far_band_and_out_of_range():
    p = _prices()
    assert 500 < p.distance_km[1] <= 3000                # Chicago: the far ground band
    assert p.fixed[1, 0] == pytest.approx(9.0)
    assert p.per_unit[1, 0, 0] == pytest.approx(2.0 + 1.0 * 2.0)
    assert p.transit_days[1, 0] == 4
    assert 3000 < p.distance_km[2]                       # Los Angeles: beyond every ground band
    assert not p.available[2, 0]


def test_miles_bands_use_miles():
    p = _prices()
    miles = p.distance_km / 1.609344
    assert miles[1] < 1000 < miles[2]
    assert p.available[1, 1] and not p.available[2, 1]
    assert p.fixed[1, 1] == pytest.approx(20.0)


def test_per_kg_fees_follow_each_lines_weight():
    p = _prices(weights=(0.0, 4.0))
    assert p.per_unit[1, 0, 1] - p.per_unit[1, 0, 0] == pytest.approx(4.0 * 1.0)
