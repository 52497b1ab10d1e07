"""Ship days: an order after a node's cutoff hour (UTC) is released the next day, then the node
needs its processing days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from dom_engine.network.calendar import offset_date, ship_day_offsets


def test_before_and_after_the_cutoff():
    cutoffs = np.array([14.0, 14.0, 9.5, 24.0])
    processing = np.array([0, 2, 1, 0])
    at = datetime(2026, 3, 2, 13, 59, tzinfo=UTC)
    assert ship_day_offsets(at, cutoffs, processing).tolist() == [0, 2, 2, 0]
    at = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)      # exactly at the cutoff: too late
    assert ship_day_offsets(at, cutoffs, processing).tolist() == [1, 3, 2, 0]


def test_minutes_and_seconds_count():
    cutoffs = np.array([9.5])
    assert ship_day_offsets(datetime(2026, 3, 2, 9, 29, 59, tzinfo=UTC), cutoffs, np.array([0]))[0] == 0
    assert ship_day_offsets(datetime(2026, 3, 2, 9, 30, 0, tzinfo=UTC), cutoffs, np.array([0]))[0] == 1


def test_offsets_cross_months_and_years():
    assert offset_date(date(2026, 2, 27), 2) == date(2026, 3, 1)
    assert offset_date(date(2026, 12, 31), np.int64(1)) == date(2027, 1, 1)
