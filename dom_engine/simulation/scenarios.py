"""Scenario files for what-if simulation (TOML): a `[base]` setup and one `[scenarios.NAME]` table
per scenario, each a set of changes to the base. Everything is checked up front: an error names
the scenario and the key (`scenarios.close_ont.close: unknown node 'X'`), and unknown keys are
errors anywhere, so a typo never silently simulates the base.

    [base]
    config = "dom.toml"          # optional: network, stock, rates and policies (default: the demo)
    orders = "orders.jsonl"      # optional: the order stream (JSONL / CSV / Parquet, as dom batch)
    receipts = "receipts.csv"    # optional: replenishment, columns at, node_id, sku, units
    replications = 3             # paired replications (resampled streams), default 1
    seed = 0                     # seed of the resampling
    time_budget_ms = 50          # per order, as RouteOrder's default budget
    hindsight = false            # also replay each run in hindsight mode: regret KPIs
    replenish_every_days = 7     # every 7 days at midnight, stock back up to its starting level
    batch_budget_ms = 2000       # per wave / hindsight day (default: the config's [batch] budget)
    [base.returns]               # optional: shipped units come back (return_spec.py for the keys)
    rate = 0.1
    [base.demand]                # without `orders`: demand drawn from the demo generator
    orders = 2000                # orders in all
    days = 7                     # spread over this many days from `start`
    start = "2026-03-02"
    seed = 1
    weekly = [1.15, 1.1, 1.05, 1.0, 0.95, 0.8, 0.95]   # Monday..Sunday
    seasonality = 0.3            # yearly cycle, peak mid-December

    [simulation]                 # optional: where the runs go (the command line overrides it)
    executor = "local"           # or "ray"
    jobs = 2                     # local worker processes
    address = "10.0.0.5:6379"    # with "ray": the cluster's head (default: a local Ray instance)

    [scenarios.close_ont]
    close = ["WH-ONTARIO-CA"]    # nodes closed (from `close_from`, else from the start)
    close_from = "2026-03-04"
    [scenarios.rates_up]
    rates_scale = 1.08           # every money rate of every service (or: rates_scale_services)
    [scenarios.stores_off_marketplace]
    channel_node_kinds = { marketplace = ["warehouse", "dropship"] }
    [scenarios.rebalance]
    stock_move = [{ from = "WH-EDISON-NJ", to = "WH-RENO-NV", share = 0.2 }]

Scenario keys: close, close_from, open, open_from (nodes disabled in the base config that open),
capacity ({NODE = shipments per day}), stock_scale,
stock_move (list of {from, to, share}), rates_scale, rates_scale_services ({SERVICE = factor}),
max_shipments, weights ({cost_weight, split_penalty, delivery_day_weight, co2e_price} of every
policy), channel_node_kinds ({CHANNEL = [kinds]}), min_stock_buffer ({KIND = units}),
demand_scale (resample the stream to this share of its size; only the days from demand_from to
demand_until when given, e.g. Q4 +30 %), channels (keep only these),
rates_scale_bands (list of {service, band (0: its shortest distance band), factor}),
stock_add (list of {node, sku (default: every SKU), units}), reject_rate ({KIND = share of its
shipments a node of that kind refuses; re-routed as RejectShipment}), regions / skus (keep only
orders to these destination regions / with a line of these SKUs), replenish_every_days (the
base's replenishment changed: 0 turns it off),
mode ("online": the engine's single-order router, as RouteOrder; "nearest": the nearest-node rule;
"ranked": the ranked-locations rule over `ranking` (node ids, first preferred); "wave": the batch
allocator every wave_minutes (default 60); "hindsight": the batch allocator per day over the day's
orders from the day's starting stock; "inventory_aware": the online router with opportunity
prices, re-computed every price_refresh_days (default 1) from the orders of the last
forecast_days (default 7) as the forecast of as many days ahead; "dilated": Ma's dilated rounding
of the same fluid LP, for comparison; see policies.py), returns (a table: the base's returns with
these keys changed, e.g. `[scenarios.to_centre.returns] routing = "centre"`; see return_spec.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from ..domain import ConfigError
from ..io.tables import Table, read_toml
from .return_spec import ReturnsSpec, parse_returns
from .scenario_values import (
    NODE_KINDS,
    BandScale,
    StockAdd,
    StockMove,
    band_scales,
    channel_kinds,
    date_of,
    factor_map,
    int_map,
    kind_rates,
    positive,
    stock_adds,
    strings,
    weights,
)

MODES = ("online", "nearest", "ranked", "wave", "hindsight", "inventory_aware", "dilated")
EXECUTORS = ("local", "ray")
BASE = "base"
# Bounds on what a file may ask for: beyond them a typo (an extra zero) would run for days.
MAX_REPLICATIONS = 1000
MAX_DEMAND_ORDERS = 10_000_000
MAX_DAYS = 3660
MAX_JOBS = 256
MAX_ORDER_BUDGET_MS = 60_000.0
MAX_BATCH_BUDGET_MS = 3_600_000.0
MAX_DEMAND_SCALE = 100.0
MAX_REPLENISH_DAYS = 366


@dataclass(frozen=True)
class Scenario:
    """Changes to the base; the base itself is the Scenario with nothing set."""

    name: str
    close: tuple[str, ...] = ()
    close_from: date | None = None
    open: tuple[str, ...] = ()                   # disabled nodes of the base that open ...
    open_from: date | None = None                # ... from this day (else from the start)
    capacity: dict[str, int] = field(default_factory=dict)
    stock_scale: float = 1.0
    stock_moves: tuple[StockMove, ...] = ()
    rates_scale: float = 1.0
    rates_scale_services: dict[str, float] = field(default_factory=dict)
    max_shipments: int | None = None
    channel_node_kinds: dict[str, frozenset[str]] | None = None
    min_stock_buffer: dict[str, int] | None = None
    demand_scale: float = 1.0
    demand_from: date | None = None             # demand_scale applies from this day ...
    demand_until: date | None = None            # ... to this day (inclusive; default: all)
    channels: tuple[str, ...] | None = None
    mode: str = "online"
    wave_minutes: int = 60
    stock_adds: tuple[StockAdd, ...] = ()
    reject_rate: dict[str, float] = field(default_factory=dict)   # node kind -> share refused
    regions: tuple[str, ...] | None = None      # keep only orders to these destination regions
    skus: tuple[str, ...] | None = None         # keep only orders with a line of these SKUs
    ranking: tuple[str, ...] = ()               # mode "ranked": nodes in priority order
    rates_scale_bands: tuple[BandScale, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)   # policy objective weights changed
    # Every N days at midnight (from the stream's first day) each node x SKU is raised back to its
    # starting on-hand level (a periodic order-up-to replenishment; 0: never; None: the base's).
    replenish_every_days: int | None = None
    price_refresh_days: float = 1.0             # mode "inventory_aware": prices re-computed this often
    forecast_days: float = 7.0                  # ... from the orders of this many days before
    returns: ReturnsSpec | None = None          # shipped units that come back (None: none do)


@dataclass(frozen=True)
class Demand:
    """The demo demand generator's settings (used when no order file is given)."""

    orders: int = 2000
    days: int = 7
    start: date = date(2026, 3, 2)
    seed: int = 1
    # Relative demand Monday..Sunday (online retail: early week high, Saturday low).
    weekly: tuple[float, ...] = (1.15, 1.1, 1.05, 1.0, 0.95, 0.8, 0.95)
    seasonality: float = 0.3      # amplitude of the yearly cycle (peak mid-December), in [0, 1)


@dataclass(frozen=True)
class ScenarioFile:
    """A parsed scenario file: where the base comes from, how to replicate, and the scenarios."""

    source: Path | None
    config: Path | None
    orders: Path | None
    demand: Demand
    replications: int
    seed: int
    time_budget_ms: float
    base: Scenario
    scenarios: tuple[Scenario, ...]
    receipts: Path | None = None
    hindsight: bool = False                 # also replay every run in hindsight mode: regret KPIs
    executor: str = "local"                 # [simulation]: where runs go ("local" or "ray")
    jobs: int = 1                           # local worker processes
    address: str | None = None              # the Ray head ("host:port"; None: a local instance)
    batch_budget_ms: float | None = None    # per wave / hindsight day (None: [batch] time_budget_ms)


def load_scenarios(path: str | Path) -> ScenarioFile:
    """Read and check a scenario file (relative paths resolve against its folder)."""
    path = Path(path)
    return parse_scenarios(read_toml(path), path.resolve().parent, path)


def parse_scenarios(data: dict[str, Any], folder: Path, source: Path | None = None) -> ScenarioFile:
    root = Table(data, "")
    b = root.table(BASE)
    config = _path(b.get("config", str, None), folder)
    orders = _path(b.get("orders", str, None), folder)
    receipts = _path(b.get("receipts", str, None), folder)
    replications = b.get("replications", int, 1)
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise ConfigError(b.key("replications"), f"must be 1 to {MAX_REPLICATIONS}, got {replications}")
    seed = _seed(b)
    budget = b.get("time_budget_ms", float, 50.0)
    if not (math.isfinite(budget) and 0 < budget <= MAX_ORDER_BUDGET_MS):
        raise ConfigError(b.key("time_budget_ms"),
                          f"must be > 0 and <= {MAX_ORDER_BUDGET_MS:g}, got {budget!r}")
    hindsight = b.get("hindsight", bool, False)
    batch_budget = b.get("batch_budget_ms", float, None)
    if batch_budget is not None and not (math.isfinite(batch_budget)
                                         and 0 < batch_budget <= MAX_BATCH_BUDGET_MS):
        raise ConfigError(b.key("batch_budget_ms"),
                          f"must be > 0 and <= {MAX_BATCH_BUDGET_MS:g}, got {batch_budget!r}")
    every = _replenish_every_days(b) or 0
    returns, returns_keys = parse_returns(b.table("returns")) if "returns" in b.data else (None, None)
    demand = _demand(b.table("demand"))
    b.done()
    sim = root.table("simulation")
    executor, jobs = sim.get("executor", str, "local"), sim.get("jobs", int, 1)
    address = sim.get("address", str, None)
    sim.done()
    if executor not in EXECUTORS:
        raise ConfigError(sim.key("executor"), f"must be one of {list(EXECUTORS)}, got {executor!r}")
    if not 1 <= jobs <= MAX_JOBS:
        raise ConfigError(sim.key("jobs"), f"must be 1 to {MAX_JOBS}, got {jobs}")
    s = root.table("scenarios")
    scenarios = tuple(_scenario(name, s.table(name), returns, returns_keys) for name in list(s.data))
    scenarios = tuple(sc if sc.replenish_every_days is not None else replace(sc, replenish_every_days=every)
                      for sc in scenarios)
    s.done()
    root.done()
    if not scenarios:
        raise ConfigError("scenarios", "define at least one [scenarios.NAME] table")
    return ScenarioFile(source, config, orders, demand, replications, seed, budget,
                        Scenario(BASE, replenish_every_days=every, returns=returns),
                        scenarios, receipts, hindsight=hindsight, batch_budget_ms=batch_budget,
                        executor=executor, jobs=jobs, address=address)


def _demand(t: Table) -> Demand:
    d = Demand()
    start_text = t.get("start", str, d.start.isoformat())
    try:
        start = date.fromisoformat(start_text)
    except ValueError:
        raise ConfigError(t.key("start"), f'must be a date "YYYY-MM-DD", got {start_text!r}') from None
    raw = t.get("weekly", list, list(d.weekly))
    numbers = all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
                  for w in raw)
    if len(raw) != 7 or not numbers or not sum(raw):
        raise ConfigError(t.key("weekly"), f"must be 7 weights >= 0, Monday first, not all 0; got {raw!r}")
    weekly = tuple(float(w) for w in raw)
    seasonality = t.get("seasonality", float, d.seasonality)
    if not (math.isfinite(seasonality) and 0 <= seasonality < 1):
        raise ConfigError(t.key("seasonality"), f"must be within [0, 1), got {seasonality!r}")
    demand = Demand(t.get("orders", int, d.orders), t.get("days", int, d.days), start,
                    _seed(t, d.seed), weekly, seasonality)
    t.done()
    for key, most in (("orders", MAX_DEMAND_ORDERS), ("days", MAX_DAYS)):
        if not 1 <= getattr(demand, key) <= most:
            raise ConfigError(t.key(key), f"must be 1 to {most:,}, got {getattr(demand, key)}")
    return demand


def _replenish_every_days(t: Table) -> int | None:
    every = t.get("replenish_every_days", int, None)
    if every is not None and not 0 <= every <= MAX_REPLENISH_DAYS:
        raise ConfigError(t.key("replenish_every_days"),
                          f"must be 0 (never) to {MAX_REPLENISH_DAYS} days, got {every}")
    return every


def _seed(t: Table, default: int = 0) -> int:
    seed = t.get("seed", int, default)
    if seed < 0:
        raise ConfigError(t.key("seed"), f"must be >= 0, got {seed}")
    return seed


def _scenario(name: str, t: Table, returns: ReturnsSpec | None = None,
              returns_keys: dict[str, Any] | None = None) -> Scenario:
    """Scenario `name` of table `t`; its returns are the base's (`returns`, from `returns_keys`)
    with the keys of its own returns table laid over them."""
    if name == BASE:
        raise ConfigError(t.where, '"base" is the name of the unchanged setup; choose another')
    close = tuple(strings(t, "close"))
    close_from = t.get("close_from", str, None)
    moves = []
    for k, raw in enumerate(t.get("stock_move", list, [])):
        m = Table(raw, f"{t.key('stock_move')}[{k}]")
        source, target, share = m.get("from", str, ""), m.get("to", str, ""), m.get("share", float, None)
        m.done()
        if share is None or not (math.isfinite(share) and 0 < share <= 1):
            raise ConfigError(m.key("share"), f"must be within (0, 1], got {share!r}")
        moves.append(StockMove(source, target, share))
    kinds = t.table("channel_node_kinds") if "channel_node_kinds" in t.data else None
    buffers = t.table("min_stock_buffer") if "min_stock_buffer" in t.data else None
    scenario = Scenario(
        name=name,
        close=close,
        close_from=date_of(t, "close_from", close_from),
        open=tuple(strings(t, "open")),
        open_from=date_of(t, "open_from", t.get("open_from", str, None)),
        capacity=int_map(t.table("capacity"), minimum=0),
        stock_scale=positive(t, "stock_scale", 1.0, zero=True),
        stock_moves=tuple(moves),
        rates_scale=positive(t, "rates_scale", 1.0),
        rates_scale_services=factor_map(t.table("rates_scale_services")),
        max_shipments=t.get("max_shipments", int, None),
        channel_node_kinds=None if kinds is None else channel_kinds(kinds),
        min_stock_buffer=None if buffers is None else int_map(buffers, minimum=0, keys=NODE_KINDS),
        demand_scale=positive(t, "demand_scale", 1.0, most=MAX_DEMAND_SCALE),
        demand_from=date_of(t, "demand_from", t.get("demand_from", str, None)),
        demand_until=date_of(t, "demand_until", t.get("demand_until", str, None)),
        channels=tuple(strings(t, "channels")) if "channels" in t.data else None,
        mode=t.get("mode", str, "online"),
        wave_minutes=t.get("wave_minutes", int, 60),
        stock_adds=stock_adds(t),
        reject_rate=kind_rates(t.table("reject_rate")),
        regions=tuple(strings(t, "regions")) if "regions" in t.data else None,
        skus=tuple(strings(t, "skus")) if "skus" in t.data else None,
        ranking=tuple(strings(t, "ranking")),
        rates_scale_bands=band_scales(t),
        weights=weights(t.table("weights")),
        replenish_every_days=_replenish_every_days(t),
        price_refresh_days=positive(t, "price_refresh_days", 1.0),
        forecast_days=positive(t, "forecast_days", 7.0),
        returns=parse_returns(t.table("returns"), returns_keys)[0] if "returns" in t.data else returns,
    )
    t.done()
    if scenario.mode not in MODES:
        raise ConfigError(t.key("mode"), f"must be one of {list(MODES)}, got {scenario.mode!r}")
    if not 1 <= scenario.wave_minutes <= 1440:
        raise ConfigError(t.key("wave_minutes"), f"must be within [1, 1440], got {scenario.wave_minutes}")
    if (scenario.mode == "ranked") != bool(scenario.ranking):
        raise ConfigError(t.key("ranking"), 'mode = "ranked" needs `ranking` (node ids, first preferred), '
                                            "and `ranking` needs that mode")
    if "wave_minutes" in t.data and scenario.mode != "wave":
        raise ConfigError(t.key("wave_minutes"), 'only applies with mode = "wave"')
    for key in ("price_refresh_days", "forecast_days"):
        if key in t.data and scenario.mode not in ("inventory_aware", "dilated"):
            raise ConfigError(t.key(key), 'only applies with mode = "inventory_aware" or "dilated"')
    if scenario.max_shipments is not None and scenario.max_shipments < 1:
        raise ConfigError(t.key("max_shipments"), f"must be >= 1, got {scenario.max_shipments}")
    if (scenario.demand_from or scenario.demand_until) and scenario.demand_scale == 1.0:
        raise ConfigError(t.key("demand_from" if scenario.demand_from else "demand_until"),
                          "needs demand_scale (the change to the demand of those days)")
    if scenario.demand_from and scenario.demand_until and scenario.demand_from > scenario.demand_until:
        raise ConfigError(t.key("demand_until"), f"must not be before demand_from ({scenario.demand_from})")
    if scenario.close_from is not None and not scenario.close:
        raise ConfigError(t.key("close_from"), "needs `close` (the nodes that close on that date)")
    if scenario.open_from is not None and not scenario.open:
        raise ConfigError(t.key("open_from"), "needs `open` (the nodes that open on that date)")
    both = set(scenario.open) & set(scenario.close)
    if both:
        raise ConfigError(t.key("open"), f"nodes both opened and closed: {sorted(both)}")
    return scenario


def _path(value: str | None, folder: Path) -> Path | None:
    if value is None or value == "demo":
        return None
    p = Path(value)
    return p if p.is_absolute() else folder / p
