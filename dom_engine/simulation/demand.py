"""Order streams for a replay: read from a file, drawn from the demo generator, and resampled per
replication (with replacement, same size: the bootstrap of the stream), and a scenario's demand
changes (scaled or filtered by channel) applied to a replication's stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import numpy as np

from ..domain import ConfigError, Order
from ..io.demo import demo_catalogue, random_order
from .scenarios import Demand, Scenario

# The demo stream's channel mix: a fifth of orders come from the marketplace.
CHANNELS = ("", "", "", "", "marketplace")


def generated_stream(demand: Demand) -> list[Order]:
    """Orders over `demand.days` from `demand.start`, arrival times uniform, destinations by city
    population and SKUs by popularity (the demo's generator), promised in 2 to 7 days."""
    rng = np.random.default_rng([demand.seed, 11])
    catalogue = demo_catalogue()
    start = datetime.combine(demand.start, time(0, 0), tzinfo=UTC)
    seconds = np.sort(rng.uniform(0, demand.days * 86_400, size=demand.orders))
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
    """The scenario's demand on replication r: only its channels, then scaled (a resample to
    demand_scale times the size, the same for every scenario with that scale)."""
    orders = list(stream)
    if scenario.channels is not None:
        orders = [o for o in orders if o.channel in scenario.channels]
        if not orders:
            raise ConfigError(f"scenarios.{scenario.name}.channels",
                              f"no order of the stream is in channels {list(scenario.channels)}")
    if scenario.demand_scale != 1.0:
        size = max(1, int(round(len(orders) * scenario.demand_scale)))
        orders = _resample(orders, np.random.default_rng([seed, r, 7]), size, "d")
    return orders


def _resample(orders: Sequence[Order], rng: np.random.Generator, size: int, tag: str) -> list[Order]:
    """`size` orders drawn with replacement, kept in arrival order, renamed "ID~{tag}N" so that
    every order id stays unique (holds are per order id)."""
    picks = np.sort(rng.integers(0, len(orders), size=size))
    return [replace(orders[i], order_id=f"{orders[i].order_id}~{tag}{n}")
            for n, i in enumerate(picks.tolist())]
