"""``memsleuth vmstat``: oracle against procps vmstat, intervals, --mem."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest

from tests.conftest import HOSTS, CliResult

pytestmark = pytest.mark.live


def _procps_vmstat() -> dict[str, int]:
    out = subprocess.run(["vmstat", "-w"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    return dict(zip(lines[1].split(), (int(v) for v in lines[2].split()), strict=True))


@pytest.mark.skipif(shutil.which("vmstat") is None, reason="procps vmstat not installed")
def test_first_row_agrees_with_procps(run_cli: Callable[..., CliResult]) -> None:
    for _attempt in range(5):
        ours = run_cli("vmstat", "--json").json()["rows"][0]
        theirs = _procps_vmstat()
        checks = {
            "free": (ours["free_bytes"] // 1024, theirs["free"], 1024),
            "buff": (ours["buffers_bytes"] // 1024, theirs["buff"], 1024),
            "cache": (ours["cache_bytes"] // 1024, theirs["cache"], 1024),
            "swpd": (ours["swapped_bytes"] // 1024, theirs["swpd"], 1024),
            # since-boot averages: the uptime moves by a few ms between the reads
            "bi": (round(ours["block_in_kib_per_second"]), theirs["bi"], 1 + theirs["bi"] // 50),
            "bo": (round(ours["block_out_kib_per_second"]), theirs["bo"], 1 + theirs["bo"] // 50),
            "in": (round(ours["interrupts_per_second"]), theirs["in"], 1 + theirs["in"] // 50),
            "cs": (round(ours["context_switches_per_second"]), theirs["cs"], 1 + theirs["cs"] // 50),
            "id": (round(ours["cpu_idle_percent"]), theirs["id"], 1),
        }
        bad = {k: (a, b) for k, (a, b, tol) in checks.items() if abs(a - b) > tol}
        if not bad:
            return
    pytest.fail(f"vmstat columns differ (ours, procps) after 5 tries: {bad}")


def test_interval_rows_and_headers(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("vmstat", "0.2", "3")
    assert res.code == 0
    lines = res.out.splitlines()
    assert lines[0].startswith("procs") or "procs" in lines[0]
    assert lines[1].split()[:6] == ["r", "b", "swpd", "free", "buff", "cache"]
    assert len(lines) == 2 + 3


def test_mem_columns_report_slab_and_dentries(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("vmstat", "--mem", "0.2", "2", "--json").json()
    first, second = doc["rows"]
    assert first["slab_bytes"] > 0 and first["dentries"] > 0
    assert first["slab_change_bytes_per_second"] is None  # no previous reading
    assert second["slab_change_bytes_per_second"] is not None
    assert second["interval_seconds"] == pytest.approx(0.2, abs=0.15)
    text = run_cli("vmstat", "--mem").out
    assert "dent" in text and "slab" in text


def test_old_kernel_without_nr_negative_shows_a_dash(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("--root", str(HOSTS / "centos6-founding"), "vmstat", "--mem", "--json")
    # the founding fixture has no /proc/vmstat or /proc/stat: a clear error, not a crash
    assert doc.code in (0, 2)
    if doc.code == 0:
        row = doc.json()["rows"][0]
        assert row["negative_dentries"] is None
        assert row["dentries"] == 191599990
    else:
        assert "not available" in doc.err


def test_bad_interval_is_a_usage_error(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("vmstat", "0").code == 2
