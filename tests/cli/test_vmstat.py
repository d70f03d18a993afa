"""``memsleuth vmstat``: oracle against procps vmstat, intervals, --mem."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import HOSTS, IS_ROOT, TEXT, CliResult

live = pytest.mark.live
HAS_VMSTAT = shutil.which("vmstat") is not None
L618 = TEXT / "linux-6.18"


def _procps_vmstat() -> dict[str, int]:
    out = subprocess.run(["vmstat", "-w"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    return dict(zip(lines[1].split(), (int(v) for v in lines[2].split()), strict=True))


@live
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


@live
def test_interval_rows_and_headers(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("vmstat", "0.2", "3")
    assert res.code == 0
    lines = res.out.splitlines()
    assert lines[0].startswith("procs") or "procs" in lines[0]
    assert lines[1].split()[:6] == ["r", "b", "swpd", "free", "buff", "cache"]
    assert len(lines) == 2 + 3


@live
def test_mem_columns_report_slab_and_dentries(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("vmstat", "--mem", "0.2", "2", "--json").json()
    first, second = doc["rows"]
    assert first["slab_bytes"] > 0 and first["dentries"] > 0
    assert first["slab_change_bytes_per_second"] is None  # no previous reading
    assert second["slab_change_bytes_per_second"] is not None
    assert second["interval_seconds"] == pytest.approx(0.2, abs=0.15)
    text = run_cli("vmstat", "--mem").out
    assert "dent" in text and "slab" in text


@live
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


@live
def test_bad_interval_is_a_usage_error(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("vmstat", "0").code == 2


# -- the same /proc files for both: procps in a mount namespace, memsleuth on a root -------------

CAN_BIND = HAS_VMSTAT and IS_ROOT and shutil.which("unshare") is not None
BIND = {"meminfo": "proc_meminfo", "stat": "proc_stat", "vmstat": "proc_vmstat",
        "slabinfo": "proc_slabinfo"}


def _procps_on_fixture(*flags: str) -> str:
    """procps vmstat reading the 6.18 fixture's meminfo, stat, vmstat and slabinfo, bound over
    /proc in a private mount namespace."""
    mounts = " && ".join(f'mount --bind "{L618 / src}" /proc/{dst}' for dst, src in BIND.items())
    return subprocess.run(["unshare", "-m", "sh", "-c", mounts + ' && exec vmstat "$@"', "vmstat",
                           *flags], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def root618(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.cli.test_golden_views import L618_AT, _linux618

    root = tmp_path_factory.mktemp("vmstat") / "linux-6.18"
    _linux618(root)
    os.utime(root / "proc" / "meminfo", (L618_AT, L618_AT))  # the capture time memsleuth reads
    return root


@pytest.mark.skipif(not CAN_BIND, reason="needs root, unshare and procps vmstat")
@pytest.mark.parametrize("flags", [
    ("-s",), ("-s", "-S", "k"), ("-s", "-S", "m"), ("-s", "-S", "M"), ("-w",), ("-w", "-a"),
    ("-w", "-S", "m"), ("-w", "-a", "-S", "M"), ("-m", "-n"),
], ids=" ".join)
def test_identical_to_procps_on_the_same_files(flags: tuple[str, ...], root618: Path,
                                               run_cli: Callable[..., CliResult]) -> None:
    """-s, -m and the wide layout (-w, with -a and -S): procps's output, character for
    character, when both read the same files (the since-boot row included)."""
    ours = run_cli("--root", str(root618), "vmstat", *(f for f in flags if f != "-n"))
    assert ours.code == 0, ours.err
    assert ours.out == _procps_on_fixture(*flags)


@pytest.mark.skipif(not CAN_BIND, reason="needs root, unshare and procps vmstat")
def test_timestamp_column_is_procps_layout(root618: Path, run_cli: Callable[..., CliResult]) -> None:
    ours = run_cli("--root", str(root618), "vmstat", "-w", "-t").out.splitlines()
    theirs = _procps_on_fixture("-w", "-t").splitlines()
    assert ours[0] == theirs[0]  # ... -----timestamp-----
    assert len(ours[1]) == len(theirs[1]) and ours[1].split()[:-1] == theirs[1].split()[:-1]
    # the row ends in the reading's local time (procps: now; we: the capture time of the root)
    assert ours[2].split()[:-2] == theirs[2].split()[:-2]
    assert len(ours[2]) == len(theirs[2])
    from tests.cli.test_golden_views import L618_AT

    assert " ".join(ours[2].split()[-2:]) == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(L618_AT))


def test_unit_convert_rounds_through_a_c_float() -> None:
    """procps's unitConvert() holds the KiB count in a float: above 2^24 KiB (16 GiB) an odd
    count prints rounded to even."""
    from memsleuth.views.vmstat import unit_convert

    assert unit_convert(24683793 * 1024, "K") == 24683792
    assert unit_convert(16777215 * 1024, "K") == 16777215
    assert unit_convert(1024 * 1024, "M") == 1
    assert unit_convert(1000 * 1024, "k") == 1024
    assert unit_convert(2047 * 1024, "M") == 1


def test_stats_and_slabs_json(root618: Path, run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("--root", str(root618), "vmstat", "-s", "--json").json()
    assert doc["schema"] == "memsleuth.vmstat.stats/1"
    assert doc["stats"]["total_memory_bytes"] > 0 and doc["stats"]["boot_time_seconds"] > 0
    slabs = run_cli("--root", str(root618), "vmstat", "-m", "--json").json()
    assert slabs["schema"] == "memsleuth.vmstat.slabs/1"
    names = [c["name"] for c in slabs["caches"]]
    assert names == sorted(names, key=str.encode) and "dentry" in names


def test_stats_and_slabs_exclude_each_other(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("vmstat", "-s", "-m").code == 2
    assert run_cli("vmstat", "-S", "x").code == 2


def test_explain_says_what_each_column_means(root618: Path, run_cli: Callable[..., CliResult]) -> None:
    out = run_cli("--root", str(root618), "vmstat", "-a", "--mem", "--explain").out
    assert "What the columns mean:" in out
    for title in ("swpd", "inact", "active", "si", "neg", "first row"):
        assert f"  {title} " in out
    assert "negative-dentries:" in out


# -- live: procps vmstat on this host ----------------------------------------------------------

#: -s lines that do not move between two reads
STABLE_STATS = ("total memory", "total swap", "boot time")


@live
@pytest.mark.skipif(not HAS_VMSTAT, reason="procps vmstat not installed")
def test_stats_agree_with_procps_on_the_live_host(run_cli: Callable[..., CliResult]) -> None:
    def parse(out: str) -> dict[str, int]:
        rows = {}
        for line in out.splitlines():
            value, rest = line.split(None, 1)
            rows[rest.removeprefix("K ").removeprefix("M ")] = int(value)
        return rows

    for flags in (("-s",), ("-s", "-S", "M")):
        ours = parse(run_cli("vmstat", *flags).out)
        theirs = parse(subprocess.run(["vmstat", *flags], capture_output=True, text=True,
                                      check=True).stdout)
        assert list(ours) == list(theirs)
        for label in STABLE_STATS:
            assert ours[label] == theirs[label], label
        for label, value in theirs.items():
            # counters only grow, and only a little between the two reads
            if "ticks" in label or label in ("forks", "interrupts", "CPU context switches"):
                assert value - 10_000_000 <= ours[label] <= value, label


@live
@pytest.mark.skipif(not HAS_VMSTAT or not IS_ROOT, reason="needs procps vmstat and root (slabinfo)")
def test_slabs_agree_with_procps_on_the_live_host(run_cli: Callable[..., CliResult]) -> None:
    def parse(out: str) -> dict[str, tuple[str, str]]:
        return {ln[:24].strip(): (ln.split()[-2], ln.split()[-1]) for ln in out.splitlines()[1:]}

    ours = run_cli("vmstat", "-m").out
    theirs = subprocess.run(["vmstat", "-m", "-n"], capture_output=True, text=True, check=True).stdout
    assert ours.splitlines()[0] == theirs.splitlines()[0]
    a, b = parse(ours), parse(theirs)
    common = a.keys() & b.keys()
    assert len(common) >= 0.9 * len(b)  # caches come and go (per-cgroup, per-device)
    assert all(a[k] == b[k] for k in common)  # object size and objects per slab


@live
@pytest.mark.skipif(not HAS_VMSTAT, reason="procps vmstat not installed")
def test_wide_active_header_agrees_with_procps(run_cli: Callable[..., CliResult]) -> None:
    ours = run_cli("vmstat", "-w", "-a", "-t").out.splitlines()
    theirs = subprocess.run(["vmstat", "-w", "-a", "-t"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert ours[:2] == theirs[:2]


# -- goldens of the procps modes (rewritten by --update-golden, like test_golden_views) ----------

GOLDEN_CASES = {
    "vmstat-stats": ("-s",),
    "vmstat-stats-mib": ("-s", "-S", "M"),
    "vmstat-slabs": ("-m",),
    "vmstat-wide-active": ("-w", "-a"),
    "vmstat-explain": ("-a", "--mem", "--explain"),
}


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_golden(name: str, root618: Path, run_cli: Callable[..., CliResult],
                monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    from tests.cli.test_golden_views import _check

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    res = run_cli("--root", str(root618), "vmstat", *GOLDEN_CASES[name])
    assert res.code == 0, res.err
    _check(request, f"{name}.txt", res.out)
    if name in ("vmstat-stats", "vmstat-slabs"):
        doc = run_cli("--root", str(root618), "vmstat", *GOLDEN_CASES[name], "--json")
        _check(request, f"{name}.json", doc.out.replace(str(root618), "linux-6.18"))
