"""report --fleet: a saved fleet result as the same self-contained page, in a real browser."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.fleet.test_view import _host, _report
from tests.report import browser


def _fleet_doc() -> dict[str, object]:
    found = (_host("lb002.lb-bj:9100", "lb-bj", rule="negative-dentries-lookups", rate=60 * 2**20, h90=3.5),
             _host("lb004.lb-bj:9100", "lb-bj", rule="negative-dentries-lookups", rate=40 * 2**20, h90=9.0),
             _host("<img src=x onerror=alert(1)>", "web", rule=None, rate=2**20, h90=None,
                   key="meminfo.AnonPages", cls="leak"))
    return _report(found).to_json()


def test_a_fleet_result_renders_its_hosts_groups_and_drain_list(
        tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    src = tmp_path / "fleet.json"
    src.write_text(json.dumps(_fleet_doc()))
    page = tmp_path / "fleet.html"
    res = run_cli("report", "--fleet", str(src), "-o", str(page), "--json")
    assert res.code == 0, res.err
    assert res.json()["schema"] == "memsleuth.report/1"
    html = page.read_text()
    for want in ("Hosts that grow (3)", "lb002.lb-bj:9100", "Drain list", "Same growth, several hosts",
                 "2 hosts of lb-bj", "old:9100"):
        assert want in html, want
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html  # data, not markup
    # the drain list is in crossing order
    assert html.index("3.5 h") < html.index("9.0 h")
    if not browser.available():
        pytest.skip(f"no {browser.CHROMIUM} for the browser half")
    loaded = browser.load(page, tmp_path)
    assert loaded.probe["loaded"] is True and loaded.probe["errors"] == [] and loaded.probe["resources"] == []
    assert "<td>lb002.lb-bj:9100</td>" in loaded.dom
    png = tmp_path / "fleet.png"
    browser.screenshot(page, png, tmp_path)
    assert browser.png_size(png) == (1280, 2000) and png.stat().st_size > 10_000


def test_fleet_input_that_is_not_a_fleet_result_is_refused(tmp_path: Path,
                                                         run_cli: Callable[..., CliResult]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"schema": "memsleuth.top/1"}')
    res = run_cli("report", "--fleet", str(bad), "-o", str(tmp_path / "x.html"))
    assert res.code == 2 and "not a 'memsleuth fleet --json' result" in res.err
    assert not (tmp_path / "x.html").exists()
    res = run_cli("report", "--fleet", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.html"))
    assert res.code == 2 and "cannot read" in res.err
