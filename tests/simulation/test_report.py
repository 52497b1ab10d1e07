"""The report opens in a real headless browser without a network: it renders, every chart is drawn
by plotly (its SVG is in the page), and the page logs nothing to the console (no errors)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dom_engine.simulation import load_scenarios, simulate
from dom_engine.simulation.report import CHARTS, render_report, write_report

FILE = """
[base]
replications = 2
seed = 1
time_budget_ms = 100
[base.demand]
orders = 150
days = 3
seed = 2
[scenarios.rates_up]
rates_scale = 1.2
[scenarios.warehouses_only]
channel_node_kinds = { "" = ["warehouse"], marketplace = ["warehouse"] }
[scenarios.ont6_capped]
capacity = { ONT6 = 5 }
"""

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
# Headless flags that work here as root (REFERENCES.md), and every host name unresolvable: a page
# that needs the network fails to draw and logs errors.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom"]


def open_in_browser(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """The page's DOM after its scripts ran, and the lines it logged to the console."""
    if CHROMIUM is None:
        if os.environ.get("DOM_REQUIRE_CHROMIUM"):       # CI installed it: a skip would hide a failure
            pytest.fail("chromium is required (DOM_REQUIRE_CHROMIUM) but not found")
        pytest.skip("chromium is not installed (.ci/run installs it)")
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return done.stdout, console


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "whatif.toml"
    path.write_text(FILE)
    return simulate(load_scenarios(path))


def test_each_scenario_has_its_own_capacities(result):
    """A scenario's capacity change is its own: the heatmap divides by that scenario's caps."""
    assert result.capacities["ont6_capped"]["ONT6"] == 5
    assert result.capacities["base"].get("ONT6") != 5


def test_the_report_is_self_contained(result):
    page = render_report(result)
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page)   # nothing fetched
    assert page.count("<script") >= len(CHARTS) + 1
    for name in result.scenarios:
        assert f"<th>{name}</th>" in page
    for chart in CHARTS:
        assert f'id="{chart}"' in page


def test_the_report_renders_its_charts_in_a_browser_without_console_errors(result, tmp_path):
    page = tmp_path / "report.html"
    write_report(result, page)
    dom, console = open_in_browser(page, tmp_path)
    assert console == []
    assert "What-if simulation" in dom and "total_cost" in dom
    starts = sorted((dom.index(f'id="{chart}"'), chart) for chart in CHARTS)
    for (start, chart), (end, _) in zip(starts, [*starts[1:], (len(dom), "")], strict=True):
        drawn = dom[start:end]
        assert "main-svg" in drawn, f"{chart} was not drawn"
    assert dom.count('class="main-svg"') >= len(CHARTS)


def test_the_browser_check_sees_console_errors_and_undrawn_pages(tmp_path):
    """The check above can fail: a page that throws is seen, and so is one needing the network."""
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script src="https://cdn.plot.ly/plotly-2.35.2.min.js"></script>'
                    '<div id="x"></div><script>Plotly.newPlot("x", []);</script></body></html>')
    dom, console = open_in_browser(page, tmp_path)
    assert any("Uncaught" in line for line in console)
    assert "main-svg" not in dom
