"""A simulation's results out: a text table for the terminal, a JSON summary, and files in an
output folder (summary.json, kpis.csv per scenario x replication, kpis_by_day.csv, outcomes.csv of
the first replication), written complete or not at all (into a temporary folder, then moved)."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .replay import Outcome
from .simulate import SimulationResult

SHOWN = ("total_cost", "cost_per_order", "shipments_per_order", "split_rate", "fill_rate", "on_time_rate",
         "mean_distance_km", "mean_delivery_days", "co2e_kg", "stockouts", "capped_node_utilisation")


def summary(result: SimulationResult) -> dict[str, Any]:
    """Everything but the per-order outcomes, JSON-ready (NaN intervals become null)."""
    return {
        "meta": result.meta,
        "scenarios": list(result.scenarios),
        "kpis": {name: {k: result.mean(name, k) for k in result.kpis[name][0]}
                 for name in result.scenarios},
        "deltas": [{k: _json(v) for k, v in dataclasses.asdict(d).items()} for d in result.deltas],
    }


def format_table(result: SimulationResult) -> str:
    """KPIs per scenario (means over the replications) with each scenario's delta to the base and
    its 95 % interval."""
    names = result.scenarios
    width = max(12, *(len(n) for n in names)) + 2
    lines = [f"{'KPI':<22}" + "".join(f"{n:>{width}}" for n in names)]
    deltas = {(d.scenario, d.kpi): d for d in result.deltas}
    for kpi in SHOWN:
        row = f"{kpi:<22}" + "".join(f"{result.mean(n, kpi):>{width},.3f}" for n in names)
        lines.append(row)
        cells = []
        for n in names[1:]:
            d = deltas[(n, kpi)]
            ci = "" if math.isnan(d.low) else f"±{(d.high - d.low) / 2:,.3f}"
            cells.append(" " + f"{d.delta:+,.3f}{ci}".rjust(width - 1))
        lines.append(f"{'  vs base':<22}" + " " * width + "".join(cells))
    lines.append(f"{result.replications} paired replication(s) of {result.meta.get('orders')} orders; "
                 "± is the 95 % interval of the paired difference")
    return "\n".join(lines)


def write_outputs(result: SimulationResult, out: str | Path) -> list[Path]:
    """Write the result files into `out` (created if needed); all of them or none."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".simulate-", dir=out))
    try:
        (tmp / "summary.json").write_text(json.dumps(summary(result), indent=2))
        _csv(tmp / "kpis.csv", [{"scenario": n, "replication": r, **k}
                                for n in result.scenarios for r, k in enumerate(result.kpis[n])])
        _csv(tmp / "kpis_by_day.csv", [{"scenario": n, "day": day, **k}
                                       for n in result.scenarios for day, k in result.by_day[n].items()])
        _csv(tmp / "outcomes.csv", [{"scenario": n, **dataclasses.asdict(o)}
                                    for n in result.scenarios for o in result.outcomes[n]],
             fields=["scenario", *(f.name for f in dataclasses.fields(Outcome))])
        written = []
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
            written.append(out / f.name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _csv(path: Path, rows: list[dict[str, Any]], fields: list[str] | None = None) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields or (list(rows[0]) if rows else []))
        writer.writeheader()
        writer.writerows(rows)


def _json(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value

