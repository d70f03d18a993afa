"""``memsleuth free``: oracle against procps free, legacy view, flags."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest

from tests.conftest import HOSTS, CliResult

MIB = 1024 * 1024
KEYS = ("total", "used", "free", "shared", "buffers", "cache", "available")


def _procps_free() -> dict[str, int]:
    out = subprocess.run(["free", "-b", "-w"], capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("Mem:"))
    return dict(zip(KEYS, (int(v) for v in line.split()[1:]), strict=True))


@pytest.mark.live
@pytest.mark.skipif(shutil.which("free") is None, reason="procps free not installed")
def test_free_agrees_with_procps_within_one_mib(run_cli: Callable[..., CliResult]) -> None:
    worst: dict[str, int] = {}
    for _ in range(5):  # other work on the host moves a few pages between reads
        ours_doc = run_cli("free", "-b", "-w", "--json")
        theirs = _procps_free()
        assert ours_doc.code == 0
        mem = ours_doc.json()["mem"]
        ours = {k: mem[f"{k}_bytes"] for k in KEYS}
        worst = {k: abs(ours[k] - theirs[k]) for k in KEYS}
        if all(d <= MIB for d in worst.values()):
            break
    assert all(d <= MIB for d in worst.values()), f"differences in bytes: {worst}"


@pytest.mark.live
def test_free_table_has_procps_columns(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("free", "-w", "-t", "-m")
    assert res.code == 0
    header = res.out.splitlines()[0].split()
    assert header == ["total", "used", "free", "shared", "buffers", "cache", "available"]
    assert any(line.startswith("Total:") for line in res.out.splitlines())


def test_free_legacy_on_the_founding_case(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("--root", str(HOSTS / "centos6-founding"), "free", "--legacy", "-g")
    assert res.code == 0
    assert "86.3%" in res.out  # total - free: what CentOS 6 free said
    assert "estimated" in res.out  # no MemAvailable on 2.6.32
    assert "reclaimable slab" in res.out
    doc = run_cli("--root", str(HOSTS / "centos6-founding"), "free", "--json").json()
    assert doc["mem"]["available_method"] == "zoneinfo"
    assert doc["legacy"]["used_bytes"] == (65922868 - 9001452) * 1024
    assert doc["mem"]["cache_bytes"] == (3127520 + 38506072) * 1024


def test_free_rejects_a_zero_count(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("free", "-c", "0")
    assert res.code == 2
    assert "--count" in res.err
