"""`simulate(scenario file) -> SimulationResult`: every scenario and the base replayed on the SAME
replications of the order stream (paired), KPIs per run and per day, and each scenario's KPI
deltas against the base with 95 % confidence intervals over the replications (Student t on the
paired differences). Deterministic for a seed; the result records what it ran on."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
from scipy import stats

from .. import __version__
from ..app.bootstrap import load_components
from ..app.config import EngineConfig, load_config
from ..domain import ConfigError, Order
from ..inventory.memory import MemoryStore
from ..io.order_files import read_orders
from .demand import generated_stream, replication, scenario_stream
from .kpis import RunTally, capacities, channel_key, regret_kpis
from .outcome_file import RETURN_SCHEMA, SCHEMA, OutcomeFile, OutcomeSpool, outcome_batch
from .policies import make_policy
from .receipts import Receipt, read_receipts
from .replay import Outcome, Run, Sink, replay
from .returns import return_kpis
from .scenarios import ScenarioFile
from .world import Stock, World, build_world

# progress(scenario, replication, orders done, orders in all)
Progress = Callable[[str, int, int, int], None]


class Executor(Protocol):
    """Runs simulation tasks (replication r, scenario k) elsewhere (executors.py): each worker
    prepares `spec` once and runs its share with run_task; results as they finish, in any order."""

    def run(self, spec: ScenarioFile, orders: Sequence[Order] | None, tasks: Sequence[tuple[int, int]],
            keep: bool, progress: Progress | None) -> Iterator[TaskResult]: ...


@dataclass(frozen=True)
class Delta:
    """A scenario's KPI against the base on the same replications: mean values, the mean paired
    difference and its 95 % interval (NaN with one replication)."""

    scenario: str
    kpi: str
    base: float
    value: float
    delta: float
    low: float
    high: float


@dataclass(frozen=True)
class SimulationResult:
    """KPIs per scenario and replication; per day, per channel and per node (first replication);
    deltas, provenance; and the per-order outcomes of the first replication, spooled to Parquet
    (`outcomes[scenario]` as Outcome objects, `outcomes.table(scenario)` as Arrow)."""

    scenarios: tuple[str, ...]
    replications: int
    kpis: dict[str, list[dict[str, float]]]
    by_day: dict[str, dict[str, dict[str, float]]]
    deltas: tuple[Delta, ...]
    outcomes: OutcomeFile
    meta: dict[str, str | int | float] = field(default_factory=dict)
    by_channel: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    by_node: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    # per scenario: shipments per day of its capped nodes (a scenario may change capacities)
    capacities: dict[str, dict[str, int]] = field(default_factory=dict)
    # first replication, per scenario: shipments per (node, day); orders by shipments 0, 1, 2, 3, 4+
    node_days: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    shipment_counts: dict[str, list[int]] = field(default_factory=dict)
    # first replication, per scenario with returns: one row per return (outcome_file.RETURN_SCHEMA)
    returns: dict[str, pa.Table] = field(default_factory=dict)

    def mean(self, scenario: str, kpi: str) -> float:
        return float(np.mean([run[kpi] for run in self.kpis[scenario]]))

    def rows(self, by: str = "run") -> list[dict[str, object]]:
        """A KPI table as rows, ready for a notebook (`pandas.DataFrame(result.rows("node"))` or
        `pyarrow.Table.from_pylist(...)`): "run" (scenario x replication), "day", "channel" or
        "node" (the first replication)."""
        if by == "run":
            return [{"scenario": n, "replication": r, **k}
                    for n in self.scenarios for r, k in enumerate(self.kpis[n])]
        tables = {"day": self.by_day, "channel": self.by_channel, "node": self.by_node}
        if by not in tables:
            raise ValueError(f"by must be one of {['run', *tables]}, got {by!r}")
        return [{"scenario": n, by: key, **k}
                for n in self.scenarios for key, k in tables[by].get(n, {}).items()]


def simulate(spec: ScenarioFile, *, orders: Sequence[Order] | None = None, replications: int | None = None,
             progress: Progress | None = None, keep_runs: list[Run] | None = None,
             executor: Executor | None = None) -> SimulationResult:
    """Replay the base and every scenario of `spec` (on `orders` when given, else the file's order
    stream or its generated demand). Runs (scenario x replication) are independent tasks: in this
    process by default, or on `executor` (a local process pool or Ray, see executors.py) with the
    same results. `keep_runs` collects the Run of every replay (tests)."""
    prepared = prepare(spec, orders)      # every scenario and file checked before any replay
    n_reps = replications or spec.replications
    tasks = [(r, k) for r in range(n_reps) for k in range(len(prepared.worlds))]
    keep = keep_runs is not None
    results: Iterator[TaskResult]
    if executor is None:
        results = _in_process(prepared, tasks, keep, progress)
    else:
        results = executor.run(spec, orders, tasks, keep, progress)
    worlds = prepared.worlds
    names = tuple(w.scenario.name for w in worlds)
    n_orders = len(prepared.stream)
    del prepared      # the stream: workers have their own
    by_run: dict[tuple[int, str], TaskResult] = {}
    spool = OutcomeSpool()
    for done in results:       # as they finish: each run's outcomes go to the spool at once
        if done.outcomes is not None:
            spool.write(done.scenario, done.outcomes)
        by_run[(done.replication, done.scenario)] = replace(done, outcomes=None)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    tables: dict[str, dict[str, dict[str, dict[str, float]]]] = {"day": {}, "channel": {}, "node": {}}
    node_days, shipment_counts, returns = {}, {}, {}
    for done in sorted(by_run.values(), key=lambda d: (d.replication, names.index(d.scenario))):
        runs[done.scenario].append(done.kpis)
        if done.tables is not None:
            for by, table in done.tables.items():
                tables[by][done.scenario] = table
            node_days[done.scenario] = done.node_days or {}
            shipment_counts[done.scenario] = done.shipment_counts or [0] * 5
            if done.returns is not None:
                returns[done.scenario] = done.returns
        if keep_runs is not None and done.run is not None:
            keep_runs.append(done.run)
    return SimulationResult(names, n_reps, runs, tables["day"], _deltas(runs, names), spool.close(names),
                            _meta(spec, n_reps, n_orders), tables["channel"], tables["node"],
                            {w.scenario.name: capacities(w.network) for w in worlds}, node_days,
                            shipment_counts, returns)


@dataclass(frozen=True)
class Prepared:
    """What every run of a simulation shares (built once per process): the scenarios' worlds, the
    receipts and the order stream."""

    spec: ScenarioFile
    worlds: tuple[World, ...]
    receipts: tuple[Receipt, ...]
    stream: tuple[Order, ...]


@dataclass(frozen=True)
class TaskResult:
    """One run's results: its KPIs, and for the first replication its KPI tables (by day, channel
    and node), its outcomes (Arrow, outcome_file.SCHEMA), shipments per (node, day) and the
    count of orders by shipments (0, 1, 2, 3, 4+) for the report."""

    scenario: str
    replication: int
    kpis: dict[str, float]
    tables: dict[str, dict[str, dict[str, float]]] | None
    outcomes: pa.Table | None
    run: Run | None = None
    node_days: dict[tuple[str, str], int] | None = None
    shipment_counts: list[int] | None = None
    returns: pa.Table | None = None     # first replication, with returns: one row per return


def prepare(spec: ScenarioFile, orders: Sequence[Order] | None = None) -> Prepared:
    """Load the base and check every scenario, the receipts and the stream (errors name them)."""
    config = load_config(spec.config, env={}) if spec.config else EngineConfig()
    components = load_components(config)
    if not isinstance(components.store, MemoryStore):
        raise ConfigError("base.config", "simulation needs the stock in memory: use [store] backend = "
                                         '"memory" (the default) in the base config')
    skus, on_hand, _, safety = components.store.arrays()
    stock = Stock(skus, on_hand, safety)
    worlds = tuple(build_world(s, components.network, stock, components.rate_card, components.policies,
                               config.returns) for s in (spec.base, *spec.scenarios))
    receipts = tuple(read_receipts(spec.receipts, components.network, skus)) if spec.receipts else ()
    stream = tuple(orders) if orders is not None else tuple(_stream(spec))
    if not stream:
        raise ConfigError("base.orders", "the order stream is empty")
    _check_ids(stream)
    _check_dates(worlds, receipts, stream)
    return Prepared(spec, worlds, receipts, stream)


def _check_ids(stream: Sequence[Order]) -> None:
    """Holds are per order id: a second order with the same id would get the first one's plan."""
    seen: dict[str, int] = {}
    for k, order in enumerate(stream):
        if order.order_id in seen:
            raise ConfigError("base.orders", f"order id {order.order_id!r} appears twice (orders "
                                             f"{seen[order.order_id] + 1} and {k + 1} of the stream)")
        seen[order.order_id] = k


def _check_dates(worlds: Sequence[World], receipts: Sequence[Receipt], stream: Sequence[Order]) -> None:
    """Dates a scenario or receipt names must fall within the stream, or they would silently
    change nothing (a closing after the last order, a receipt that never arrives)."""
    first = min(o.created_at for o in stream)
    last = max(o.created_at for o in stream)
    for world in worlds:
        for key in ("close_from", "open_from"):
            when = getattr(world.scenario, key)
            if when is not None and not first.date() <= when <= last.date():
                raise ConfigError(f"scenarios.{world.scenario.name}.{key}",
                                  f"{when} is outside the order stream ({first.date()} to {last.date()})")
    for receipt in receipts:
        if receipt.at > last:
            raise ConfigError(f"{receipt.where}, column 'at'",
                              f"{receipt.at.isoformat()} is after the order stream's last order "
                              f"({last.isoformat()}): it would never arrive")


def run_task(prepared: Prepared, k: int, r: int, keep: bool = False,
             progress: Progress | None = None) -> TaskResult:
    """Scenario k (0: the base) on replication r, with its hindsight yardstick when asked. The
    outcomes stream from the replay into the KPI tally (and, for the first replication, into Arrow
    batches); none is held as an object beyond a batch."""
    spec, world = prepared.spec, prepared.worlds[k]
    name, first = world.scenario.name, r == 0
    base_stream = replication(prepared.stream, spec.seed, r)
    tally, batches, kept = RunTally(), [], []

    def sink(outcomes: list[Outcome]) -> None:
        tally.add(outcomes)
        if first:
            batches.append(outcome_batch(name, outcomes))
        if keep:
            kept.extend(outcomes)

    run = _run(world, base_stream, spec, r, progress, prepared.receipts, None, sink)
    values = tally.run_kpis(len(run.stockouts), world.network)
    returns = None
    with_returns = any(s.returns is not None for s in (spec.base, *spec.scenarios))
    if with_returns:       # every run of the file has the same KPIs
        values.update(return_kpis(run.returns, values["cost_with_unserved"]))
        if first:
            returns = pa.Table.from_batches([outcome_batch(name, run.returns, RETURN_SCHEMA)], RETURN_SCHEMA)
    yardstick = None
    if spec.hindsight:
        yardstick = tally
        if world.scenario.mode != "hindsight":
            yardstick = RunTally()
            _run(world, base_stream, spec, r, progress, prepared.receipts, "hindsight", yardstick.add)
        values.update(regret_kpis(values, yardstick.kpis()))
    tables = {"day": tally.by_day(), "channel": tally.by_channel(),
              "node": tally.by_node(world.network)} if first else None
    if tables is not None and with_returns:       # the returns of each channel's orders
        for channel, row in tables["channel"].items():
            mine = [x for x in run.returns if channel_key(x.channel) == channel]
            row.update(return_kpis(mine, row["cost_with_unserved"]))
    if tables is not None and yardstick is not None:     # the regret day by day
        hindsight_days = yardstick.by_day()
        for day, row in tables["day"].items():
            if day in hindsight_days:
                row.update(regret_kpis(row, hindsight_days[day]))
    outcomes = pa.Table.from_batches(batches, SCHEMA) if first else None
    return TaskResult(name, r, values, tables, outcomes, replace(run, outcomes=tuple(kept)) if keep else None,
                      tally.node_day if first else None, tally.shipment_counts if first else None, returns)


def _in_process(prepared: Prepared, tasks: Sequence[tuple[int, int]], keep: bool,
                progress: Progress | None) -> Iterator[TaskResult]:
    for r, k in tasks:
        yield run_task(prepared, k, r, keep, progress)


def _run(world: World, stream: Sequence[Order], spec: ScenarioFile, r: int, progress: Progress | None,
         receipts: Sequence[Receipt], mode: str | None, sink: Sink) -> Run:
    """One replay of `world` on replication r, its outcomes to `sink`, in the scenario's mode (or
    `mode`: the hindsight yardstick is the same world and stream routed per day by the batch
    allocator)."""
    orders = scenario_stream(stream, world.scenario, spec.seed, r)
    name = world.scenario.name if mode is None else f"{world.scenario.name} ({mode})"
    report = None if progress is None else (lambda done, total: progress(name, r, done, total))
    policy = make_policy(mode or world.scenario.mode, world.scenario.wave_minutes, spec.batch_budget_ms,
                         world.scenario.ranking, world.scenario.price_refresh_days,
                         world.scenario.forecast_days)
    run = replay(world, orders, spec.time_budget_ms, report, receipts, policy, spec.seed, sink=sink)
    if progress is not None:
        progress(name, r, len(orders), len(orders))
    return run


def _stream(spec: ScenarioFile) -> list[Order]:
    if spec.orders is not None:
        return list(read_orders(spec.orders).orders)
    return generated_stream(spec.demand)


def _deltas(runs: dict[str, list[dict[str, float]]], names: tuple[str, ...]) -> tuple[Delta, ...]:
    base = runs[names[0]]
    out = []
    for name in names[1:]:
        for kpi in base[0]:
            diffs = np.array([s[kpi] - b[kpi] for s, b in zip(runs[name], base, strict=True)])
            mean = float(diffs.mean())
            if len(diffs) > 1:
                half = float(stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / math.sqrt(len(diffs)))
                low, high = mean - half, mean + half
            else:
                low = high = float("nan")
            out.append(Delta(name, kpi, float(np.mean([b[kpi] for b in base])),
                             float(np.mean([s[kpi] for s in runs[name]])), mean, low, high))
    return tuple(out)


def _meta(spec: ScenarioFile, n_reps: int, n_orders: int) -> dict[str, str | int | float]:
    return {"engine_version": __version__, "scenario_file": str(spec.source or ""),
            "scenario_file_sha256": _sha(spec.source), "config": str(spec.config or "demo"),
            "config_sha256": _sha(spec.config), "seed": spec.seed, "replications": n_reps,
            "orders": n_orders, "time_budget_ms": spec.time_budget_ms}


def _sha(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None and path.exists() else ""
