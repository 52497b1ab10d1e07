"""Ship and delivery dates. Days are calendar days (carriers here deliver every day); a shipment
leaves `processing_days` after release, and an order placed after a node's cutoff hour is released
the next day. Cutoff hours are in UTC."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np


def ship_day_offsets(created_at: datetime, cutoff_hours: np.ndarray,
                     processing_days: np.ndarray) -> np.ndarray:
    """Days from the order date until each node ships (int array)."""
    hour = created_at.hour + created_at.minute / 60 + created_at.second / 3600
    late = (hour >= cutoff_hours).astype(np.int64)
    return late + processing_days


def offset_date(base: date, days: int) -> date:
    return base + timedelta(days=int(days))
