"""Great-circle distances, vectorised over nodes."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat: float | np.ndarray, lon: float | np.ndarray, lats: np.ndarray,
                 lons: np.ndarray) -> np.ndarray:
    """Distance in km from one point to many (arrays of degrees); broadcasts, so (n, 1) points
    against (1, N) nodes give all n x N distances at once."""
    p1, l1 = np.radians(lat), np.radians(lon)
    p2, l2 = np.radians(lats), np.radians(lons)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
