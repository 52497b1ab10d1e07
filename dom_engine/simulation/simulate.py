"""`simulate(scenario file) -> SimulationResult`: every scenario and the base replayed on the SAME
replications of the order stream (paired), KPIs per run and per day, and each scenario's KPI
deltas against the base with 95 % confidence intervals over the replications (Student t on the
paired differences). Deterministic for a seed; the result records what it ran on."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from .. import __version__
from ..app.bootstrap import load_components
from ..app.config import EngineConfig, load_config
from ..domain import ConfigError, Order
from ..inventory.memory import MemoryStore
from ..io.order_files import read_orders
from .demand import generated_stream, replication, scenario_stream
from .kpis import kpis, kpis_by_day, regret_kpis, run_kpis
from .policies import make_policy
from .receipts import Receipt, read_receipts
from .replay import Outcome, Run, replay
from .scenarios import ScenarioFile
from .world import Stock, World, build_world

# progress(scenario, replication, orders done, orders in all)
Progress = Callable[[str, int, int, int], None]


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
    """KPIs per scenario and replication, per day (first replication), deltas, provenance; and the
    per-order outcomes of the first replication (`outcomes[scenario]`)."""

    scenarios: tuple[str, ...]
    replications: int
    kpis: dict[str, list[dict[str, float]]]
    by_day: dict[str, dict[str, dict[str, float]]]
    deltas: tuple[Delta, ...]
    outcomes: dict[str, tuple[Outcome, ...]]
    meta: dict[str, str | int | float] = field(default_factory=dict)

    def mean(self, scenario: str, kpi: str) -> float:
        return float(np.mean([run[kpi] for run in self.kpis[scenario]]))


def simulate(spec: ScenarioFile, *, orders: Sequence[Order] | None = None, replications: int | None = None,
             progress: Progress | None = None, keep_runs: list[Run] | None = None) -> SimulationResult:
    """Replay the base and every scenario of `spec` (on `orders` when given, else the file's order
    stream or its generated demand). `keep_runs` collects the Run of every replay (tests)."""
    config = load_config(spec.config, env={}) if spec.config else EngineConfig()
    components = load_components(config)
    if not isinstance(components.store, MemoryStore):
        raise ConfigError("base.config", "simulation needs the stock in memory: use [store] backend = "
                                         '"memory" (the default) in the base config')
    skus, on_hand, _, safety = components.store.arrays()
    stock = Stock(skus, on_hand, safety)
    worlds = [build_world(s, components.network, stock, components.rate_card, components.policies)
              for s in (spec.base, *spec.scenarios)]      # every scenario checked before any replay
    receipts = read_receipts(spec.receipts, components.network, skus) if spec.receipts else ()
    stream = list(orders) if orders is not None else _stream(spec)
    if not stream:
        raise ConfigError("base.orders", "the order stream is empty")
    n_reps = replications or spec.replications
    runs: dict[str, list[dict[str, float]]] = {w.scenario.name: [] for w in worlds}
    by_day: dict[str, dict[str, dict[str, float]]] = {}
    outcomes: dict[str, tuple[Outcome, ...]] = {}
    for r in range(n_reps):
        base_stream = replication(stream, spec.seed, r)
        for world in worlds:
            run = _run(world, base_stream, spec, r, progress, receipts)
            if keep_runs is not None:
                keep_runs.append(run)
            values = run_kpis(run, world.network)
            if spec.hindsight:
                yardstick = (run if world.scenario.mode == "hindsight"
                             else _run(world, base_stream, spec, r, progress, receipts, "hindsight"))
                values.update(regret_kpis(values, kpis(yardstick.outcomes)))
            runs[world.scenario.name].append(values)
            if r == 0:
                by_day[world.scenario.name] = kpis_by_day(run.outcomes)
                outcomes[world.scenario.name] = run.outcomes
    names = tuple(runs)
    return SimulationResult(names, n_reps, runs, by_day, _deltas(runs, names), outcomes,
                            _meta(spec, n_reps, len(stream)))


def _run(world: World, stream: Sequence[Order], spec: ScenarioFile, r: int, progress: Progress | None,
         receipts: Sequence[Receipt], mode: str | None = None) -> Run:
    """One replay of `world` on replication r, in the scenario's mode (or `mode`: the hindsight
    yardstick is the same world and stream routed per day by the batch allocator)."""
    orders = scenario_stream(stream, world.scenario, spec.seed, r)
    name = world.scenario.name if mode is None else f"{world.scenario.name} ({mode})"
    report = None if progress is None else (lambda done, total: progress(name, r, done, total))
    policy = make_policy(mode or world.scenario.mode, world.scenario.wave_minutes, spec.batch_budget_ms)
    run = replay(world, orders, spec.time_budget_ms, report, receipts, policy)
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
