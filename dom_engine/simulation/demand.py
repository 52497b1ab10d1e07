"""Order streams for a replay: read from a file, drawn from the demo generator, and resampled per
replication (with replacement, same size: the bootstrap of the stream), and a scenario's demand
changes (scaled or filtered by channel) applied to a replication's stream."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from ..domain import ConfigError, Order
from ..io.demo import demo_catalogue, random_order
from .scenarios import Demand, Scenario

# Day of the year when seasonal demand peaks (mid-December: the holiday peak).
PEAK_DAY_OF_YEAR = 349

# The demo stream's channel mix: a fifth of orders come from the marketplace.
CHANNELS = ("", "", "", "", "marketplace")


def day_weights(demand: Demand) -> np.ndarray:
    """Each day's share of the orders: its weekday's weight (`weekly`, Monday first) times the
    season (1 + seasonality x cos, highest on PEAK_DAY_OF_YEAR, mid-December)."""
    days = [demand.start + timedelta(days=d) for d in range(demand.days)]
    weekly = np.array([demand.weekly[d.weekday()] for d in days])
    doy = np.array([d.timetuple().tm_yday for d in days])
    season = 1.0 + demand.seasonality * np.cos(2 * np.pi * (doy - PEAK_DAY_OF_YEAR) / 365.25)
    weights = weekly * season
    return weights / weights.sum()


def generated_stream(demand: Demand) -> list[Order]:
    """Orders over `demand.days` from `demand.start`: days drawn by day_weights (weekly and
    seasonal pattern), times uniform within the day, destinations by city population and SKUs by
    popularity (the demo's generator: 1-6 lines, geometric), promised in 2 to 7 days."""
    rng = np.random.default_rng([demand.seed, 11])
    catalogue = demo_catalogue()
    start = datetime.combine(demand.start, time(0, 0), tzinfo=UTC)
    day = rng.choice(demand.days, size=demand.orders, p=day_weights(demand))
    seconds = np.sort(day * 86_400 + rng.uniform(0, 86_400, size=demand.orders))
    orders = []
    for k, s in enumerate(seconds.tolist()):
        n_lines = int(min(rng.geometric(0.5), 6))
        orders.append(random_order(rng, n_lines, order_id=f"SIM-{k + 1:07d}", catalogue=catalogue,
                                   deliver_in_days=int(rng.integers(2, 8)),
                                   channel=CHANNELS[int(rng.integers(len(CHANNELS)))],
                                   created_at=start + timedelta(seconds=s)))
    return orders


def replication(stream: Sequence[Order], seed: int, r: int) -> list[Order]:
    """Replication r of the stream: the stream itself for r = 0, else a resample with replacement
    (orders renamed "ID~rK-N" so ids stay unique), in arrival order."""
    if r == 0:
        return list(stream)
    return _resample(stream, np.random.default_rng([seed, r]), len(stream), f"r{r}-")


def scenario_stream(stream: Sequence[Order], scenario: Scenario, seed: int, r: int) -> list[Order]:
    """The scenario's demand on replication r: only its channels, regions and SKUs, then scaled (a
    resample to demand_scale times the size, the same for every scenario with that scale) - the
    whole stream, or only the orders placed from demand_from to demand_until (e.g. Q4 +30 %)."""
    orders = list(stream)
    where = f"scenarios.{scenario.name}"
    if scenario.channels is not None:
        keep = set(scenario.channels)
        orders = _kept(orders, lambda o: o.channel in keep, f"{where}.channels",
                       f"channels {list(scenario.channels)}")
    if scenario.regions is not None:
        regions = set(scenario.regions)
        orders = _kept(orders, lambda o: o.destination.region in regions, f"{where}.regions",
                       f"regions {list(scenario.regions)}")
    if scenario.skus is not None:
        skus = set(scenario.skus)
        orders = _kept(orders, lambda o: any(line.sku in skus for line in o.lines), f"{where}.skus",
                       f"an order line of SKUs {list(scenario.skus)[:5]}")
    if scenario.demand_scale != 1.0:
        first, last = scenario.demand_from or date.min, scenario.demand_until or date.max
        inside = [o for o in orders if first <= o.created_at.date() <= last]
        if not inside:
            raise ConfigError(f"{where}.demand_from",
                              f"no order of the stream was placed from {first} to {last}")
        size = max(1, int(round(len(inside) * scenario.demand_scale)))
        scaled = _resample(inside, np.random.default_rng([seed, r, 7]), size, "d")
        if len(inside) < len(orders):
            outside = [o for o in orders if not first <= o.created_at.date() <= last]
            scaled = sorted(outside + scaled, key=lambda o: o.created_at)
        orders = scaled
    return orders


def _kept(orders: list[Order], keep: Callable[[Order], bool], field: str, what: str) -> list[Order]:
    kept = [o for o in orders if keep(o)]
    if not kept:
        raise ConfigError(field, f"no order of the stream has {what}")
    return kept


def _resample(orders: Sequence[Order], rng: np.random.Generator, size: int, tag: str) -> list[Order]:
    """`size` orders drawn with replacement, kept in arrival order, renamed "ID~{tag}N" so that
    every order id stays unique (holds are per order id)."""
    picks = np.sort(rng.integers(0, len(orders), size=size))
    return [replace(orders[i], order_id=f"{orders[i].order_id}~{tag}{n}")
            for n, i in enumerate(picks.tolist())]
