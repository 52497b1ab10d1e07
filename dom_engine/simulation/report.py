"""The simulation's report: one self-contained HTML file a planner can send round (plotly.js is
inlined once, so it opens without a network): provenance, the KPI table with each scenario's paired
delta to the base and its 95 % interval, and charts (plotly) - total cost and fill rate per
scenario with intervals, cost over time, node utilisation per day, shipments per order."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots
from scipy import stats

from .kpis import BETTER, SHOWN
from .simulate import SimulationResult

CHARTS = ("chart-cost", "chart-cost-over-time", "chart-utilisation", "chart-shipments")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.better { background: #e3f4e3; } td.worse { background: #fbe3e3; }
.meta { color: #555; font-size: 0.85em; }
"""


Capacities = Mapping[str, Mapping[str, int]]     # scenario -> node -> shipments per day


def write_report(result: SimulationResult, path: Path, capacities: Capacities | None = None) -> None:
    path.write_text(render_report(result, capacities), encoding="utf-8")


def render_report(result: SimulationResult, capacities: Capacities | None = None) -> str:
    """The report as one HTML page; `capacities` (per scenario, node -> shipments per day; default:
    the result's) turn shipment counts into utilisation in the heatmap."""
    caps = result.capacities if capacities is None else capacities
    figures = [_cost_figure(result), _over_time_figure(result), _utilisation_figure(result, caps),
               _shipments_figure(result)]
    charts = "\n".join(f"<h2>{html.escape(title)}</h2>\n"
                       + fig.to_html(full_html=False, include_plotlyjs=False, div_id=div, config={
                           "displaylogo": False, "responsive": True})
                       for (div, title), fig in zip(_TITLES.items(), figures, strict=True))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dom_engine what-if simulation</title>
<style>{_STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>What-if simulation</h1>
{_meta_block(result)}
<h2>KPIs</h2>
<p>Means over {result.replications} paired replication(s); deltas are each scenario minus the base on
the same replications, with a 95 % Student-t interval (none with one replication). Green: better.</p>
{_kpi_table(result)}
{charts}
</body></html>
"""


_TITLES = {
    "chart-cost": "Total cost and fill rate per scenario (95 % interval over replications)",
    "chart-cost-over-time": "Total cost per day (first replication; dotted: hindsight, when run)",
    "chart-utilisation": "Node utilisation per day (first replication)",
    "chart-shipments": "Shipments per order (first replication)",
}


def _meta_block(result: SimulationResult) -> str:
    rows = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in result.meta.items())
    return f'<ul class="meta">{rows}</ul>'


def _kpi_table(result: SimulationResult) -> str:
    names = result.scenarios
    deltas = {(d.scenario, d.kpi): d for d in result.deltas}
    head = "<tr><th>KPI</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names)
    head += "".join(f"<th>&Delta; {html.escape(n)}</th>" for n in names[1:]) + "</tr>"
    rows = []
    for kpi in (k for k in SHOWN if k in result.kpis[names[0]][0]):
        cells = "".join(f"<td>{_number(result.mean(n, kpi))}</td>" for n in names)
        for n in names[1:]:
            d = deltas[(n, kpi)]
            interval = "" if math.isnan(d.low) else f" [{_number(d.low)}, {_number(d.high)}]"
            cells += f'<td class="{_verdict(kpi, d.low, d.high, d.delta)}">{_number(d.delta)}{interval}</td>'
        rows.append(f"<tr><td>{html.escape(kpi)}</td>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _verdict(kpi: str, low: float, high: float, delta: float) -> str:
    """better / worse when the interval excludes 0 (or, with one replication, the delta is not 0)."""
    sign = BETTER.get(kpi, 0)
    lo, hi = (delta, delta) if math.isnan(low) else (low, high)
    if sign == 0 or (lo <= 0 <= hi):
        return ""
    return "better" if (lo > 0) == (sign > 0) else "worse"


def _number(x: float) -> str:
    if math.isnan(x):
        return "&ndash;"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.3g}" if abs(x) < 1 else f"{x:,.2f}"


def _mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % half-width over replications (0 with one)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, 0.0
    return mean, float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values)))


def _cost_figure(result: SimulationResult) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Total cost", "Fill rate"))
    names = list(result.scenarios)
    for col, kpi in ((1, "total_cost"), (2, "fill_rate")):
        intervals = [_mean_interval([run[kpi] for run in result.kpis[n]]) for n in names]
        means, halves = [m for m, _ in intervals], [h for _, h in intervals]
        fig.add_trace(go.Bar(x=names, y=means, error_y={"type": "data", "array": halves},
                             name=kpi, showlegend=False), row=1, col=col)
    fig.update_layout(height=420, margin={"t": 60})
    return fig


def _over_time_figure(result: SimulationResult) -> go.Figure:
    fig = go.Figure()
    for name in result.scenarios:
        days = result.by_day.get(name, {})
        fig.add_trace(go.Scatter(x=list(days), y=[d["total_cost"] for d in days.values()],
                                 mode="lines+markers", name=name))
        if days and all("hindsight_cost" in d for d in days.values()):   # the clairvoyant yardstick
            fig.add_trace(go.Scatter(x=list(days), y=[d["hindsight_cost"] for d in days.values()],
                                     mode="lines", line={"dash": "dot"}, name=f"{name} (hindsight)"))
    fig.update_layout(height=420, xaxis_title="day", yaxis_title="total cost")
    return fig


def _utilisation_figure(result: SimulationResult, capacities: Capacities) -> go.Figure:
    """Nodes x days, one heatmap per scenario (a menu switches between them): shipments over the
    daily capacity of the scenario's capped nodes (its own capacities: a scenario may change
    them); a scenario without capped nodes shows every node's shipment count."""
    fig = go.Figure()
    names = list(result.scenarios)
    for k, name in enumerate(names):
        counts = result.node_days.get(name, {})
        caps = capacities.get(name, {})
        nodes = sorted(caps) if caps else sorted({n for n, _ in counts})
        days = sorted({d for _, d in counts})
        z = [[counts.get((n, d), 0) / caps[n] if caps else counts.get((n, d), 0) for d in days]
             for n in nodes]
        fig.add_trace(go.Heatmap(z=z, x=days, y=nodes, colorscale="Viridis", visible=k == 0, name=name,
                                 zmin=0, zmax=1 if caps else None))
    buttons = [{"label": n, "method": "update",
                "args": [{"visible": [j == k for j in range(len(names))]}]} for k, n in enumerate(names)]
    unit = ("shipments / daily shipment capacity of capped nodes (shipment counts where a scenario caps none)"
            if any(capacities.values()) else "shipments per day")
    fig.update_layout(height=max(420, 14 * _rows(fig)), title=unit,
                      updatemenus=[{"buttons": buttons, "x": 1.0, "y": 1.12, "xanchor": "right"}])
    return fig


def _rows(fig: go.Figure) -> int:
    return max((len(t.y) for t in fig.data if t.y is not None), default=0)


def _shipments_figure(result: SimulationResult) -> go.Figure:
    """Share of orders with 0, 1, 2, 3, 4+ shipments per scenario."""
    labels = ["0", "1", "2", "3", "4+"]
    fig = go.Figure()
    for name in result.scenarios:
        counts = np.array(result.shipment_counts.get(name, [0] * 5), dtype=float)
        fig.add_trace(go.Bar(x=labels, y=(counts / max(1.0, counts.sum())).tolist(), name=name))
    fig.update_layout(barmode="group", height=420, xaxis_title="shipments", yaxis_title="share of orders")
    return fig
