"""A simulation's results out: a text table for the terminal, a JSON summary, and files in an
output folder, written complete or not at all (into a temporary folder, then moved):
summary.json, report.html (report.py), kpis.parquet / kpis.csv (scenario x replication),
kpis_by_day, kpis_by_channel, kpis_by_node (.parquet and .csv, first replication),
outcomes.parquet (one row per order of the first replication) and, with returns, returns.parquet
(one row per return of the first replication)."""

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

import pyarrow as pa
import pyarrow.parquet as pq

from .kpis import SHOWN
from .outcome_file import SCHEMA
from .report import write_report
from .simulate import SimulationResult


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
    for kpi in (k for k in SHOWN if k in result.kpis[names[0]][0]):
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
        write_report(result, tmp / "report.html")
        _table(tmp / "kpis", result.rows("run"))
        for by in ("day", "channel", "node"):
            _table(tmp / f"kpis_by_{by}", result.rows(by))
        _outcomes(tmp / "outcomes.parquet", result)
        if result.returns:
            tables = [result.returns[n] for n in result.scenarios if n in result.returns]
            pq.write_table(pa.concat_tables(tables), tmp / "returns.parquet")
        written = []
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
            written.append(out / f.name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _table(stem: Path, rows: list[dict[str, Any]]) -> None:
    """A KPI table as Parquet (typed, for notebooks) and CSV (for spreadsheets)."""
    _csv(stem.with_suffix(".csv"), rows)
    columns = list(rows[0]) if rows else []
    pq.write_table(pa.table({c: [row.get(c) for row in rows] for c in columns}), stem.with_suffix(".parquet"))


def _outcomes(path: Path, result: SimulationResult) -> None:
    """Every order of the first replication, one row each, scenario by scenario (read back from
    the result's spool one scenario at a time)."""
    with pq.ParquetWriter(path, SCHEMA) as writer:
        for name in result.scenarios:
            writer.write_table(result.outcomes.table(name))


def _csv(path: Path, rows: list[dict[str, Any]], fields: list[str] | None = None) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields or (list(rows[0]) if rows else []))
        writer.writeheader()
        writer.writerows(rows)


def _json(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value

