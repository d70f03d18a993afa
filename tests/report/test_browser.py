"""The report in a real browser: headless Chromium, nothing reachable, no errors, charts drawn.

Every host name resolves to nothing (``--host-resolver-rules``), so a page that fetched anything
would fail a request, which the probe (:data:`tests.report.browser.PROBE`) records along with script
errors and ``console.error``; the control page shows that the probe catches all three.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.report import browser

pytestmark = pytest.mark.skipif(not browser.available(),
                                reason=f"no {browser.CHROMIUM} (Debian's chromium; .ci/run installs it)")


def _check_clean(loaded: browser.Loaded) -> None:
    probe = loaded.probe
    assert probe["loaded"] is True
    assert probe["errors"] == [], probe["errors"]
    # nothing but the page itself was requested
    assert probe["resources"] == [], probe["resources"]
    assert "Uncaught" not in loaded.stderr
    assert not re.search(r"net::ERR_\w+", loaded.stderr), re.findall(r".*net::ERR_.*", loaded.stderr)


def test_probe_sees_errors_and_requests(tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><head></head><body><img src="https://example.invalid/x.png">'
                    "<script>console.error('boom'); undefinedFunction();</script></body></html>")
    probe = browser.load(page, tmp_path).probe
    errors = "\n".join(map(str, probe["errors"]))  # type: ignore[call-overload]
    assert "console.error: boom" in errors
    assert "undefinedFunction" in errors
    assert "resource: https://example.invalid/x.png" in errors
    assert "https://example.invalid/x.png" in probe["resources"]  # type: ignore[operator]


def test_founding_report_loads_clean_and_draws(founding: tuple[list[str], Path], tmp_path: Path) -> None:
    _, page = founding
    loaded = browser.load(page, tmp_path)
    _check_clean(loaded)
    # the tooltip script ran: the time under the pointer and each line's value there
    tip = str(loaded.probe["tooltip"])
    assert loaded.probe["tooltip_shown"] == "block", loaded.probe
    assert re.match(r"2019-11-0\d \d\d:\d\d:\d\d UTC", tip), tip
    assert "slab cache dentry: " in tip and "GiB" in tip
    points = browser.polyline_points(loaded.dom)
    assert len(points) >= 5 and all(n >= 2 for n in points)
    assert sum(points) == sum(browser.polyline_points(page.read_text()))
    # the chart of the finding, with its series (12 samples), fit and projection
    chart = re.search(r'<figure class="chart" id="chart-1">.*?</figure>', loaded.dom, re.S)
    assert chart is not None
    assert sorted(browser.polyline_points(chart.group(0))) == [2, 2, 12]
    png = tmp_path / "founding.png"
    browser.screenshot(page, png, tmp_path)
    assert png.stat().st_size > 10_000
    assert browser.png_size(png) == (1280, 2000)


@pytest.mark.live  # records this host
def test_report_from_a_recorded_store(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert run_cli("record", "--db", str(db), "--interval", "0.05", "--count", "10").code == 0
    out = tmp_path / "store.html"
    r = run_cli("report", "--db", str(db), "-o", str(out))
    assert r.code == 2 and "10 samples over" in r.err and "a trend needs" in r.err
    # the same live samples a minute apart (a trend needs two minutes)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE samples SET taken_at = 1700000000.0 + 60.0 * id")
    r = run_cli("report", "--db", str(db), "-o", str(out), "--json")
    assert r.code == 0, r.err
    doc = r.json()
    html = out.read_text()
    assert doc["charts"] >= 5 and doc["points"] > 0
    assert "Processes: the 8 largest by PSS" in html or "Processes: the" in html
    loaded = browser.load(out, tmp_path)
    _check_clean(loaded)
    assert sum(browser.polyline_points(loaded.dom)) == doc["points"]
    png = tmp_path / "store.png"
    browser.screenshot(out, png, tmp_path)
    assert png.stat().st_size > 10_000
