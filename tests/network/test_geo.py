"""Great-circle distances against published city-to-city distances."""

from __future__ import annotations

import numpy as np
import pytest

from dom_engine.network.geo import haversine_km

NEW_YORK = (40.7128, -74.0060)
LOS_ANGELES = (34.0522, -118.2437)
LONDON = (51.5074, -0.1278)


@pytest.mark.parametrize(("a", "b", "km"), [
    (NEW_YORK, LOS_ANGELES, 3936.0),   # great-circle distance, +/- 0.5 %
    (NEW_YORK, LONDON, 5570.0),
])
def test_known_city_distances(a, b, km):
    d = float(haversine_km(a[0], a[1], np.array([b[0]]), np.array([b[1]]))[0])
    assert d == pytest.approx(km, rel=0.005)


def test_zero_symmetric_and_broadcast():
    lats, lons = np.array([NEW_YORK[0], LOS_ANGELES[0]]), np.array([NEW_YORK[1], LOS_ANGELES[1]])
    assert haversine_km(NEW_YORK[0], NEW_YORK[1], lats, lons)[0] == pytest.approx(0.0, abs=1e-9)
    there = haversine_km(NEW_YORK[0], NEW_YORK[1], lats[1:], lons[1:])[0]
    back = haversine_km(LOS_ANGELES[0], LOS_ANGELES[1], lats[:1], lons[:1])[0]
    assert there == pytest.approx(back)
    grid = haversine_km(lats[:, None], lons[:, None], lats[None, :], lons[None, :])
    assert grid.shape == (2, 2) and grid[0, 1] == pytest.approx(there)


def test_antipodes_are_half_the_circumference():
    d = float(haversine_km(0.0, 0.0, np.array([0.0]), np.array([180.0]))[0])
    assert d == pytest.approx(np.pi * 6371.0088)
