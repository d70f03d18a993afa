"""capture -o, then --root: the same numbers as the live host at capture time."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth.host import Host
from memsleuth.sources.meminfo import parse_meminfo
from tests.conftest import CliResult

pytestmark = pytest.mark.live


def test_capture_then_root_gives_the_captured_numbers(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    bundle = tmp_path / "x.tar.gz"
    before = run_cli("meminfo", "--json").json()
    res = run_cli("capture", "-o", str(bundle), "--json")
    assert res.code == 0, res.err
    live = run_cli("meminfo", "--json").json()
    summary = res.json()
    assert summary["processes"] > 0
    from_bundle = run_cli("--root", str(bundle), "meminfo", "--json").json()
    assert from_bundle["host"]["hostname"] == live["host"]["hostname"]
    # exactly the bytes the capture read ...
    captured = parse_meminfo(Host.open(bundle).read_text("proc/meminfo"))
    fields = {f["key"]: f["value"] for f in from_bundle["fields"]}
    assert fields == dict(captured.raw)
    # ... which are the live numbers of that moment: between a read just before
    # and one just after, give or take what other work on the host moved
    after = {f["key"]: f["value"] for f in live["fields"]}
    prior = {f["key"]: f["value"] for f in before["fields"]}
    assert fields["MemTotal"] == after["MemTotal"]
    slack = 16 * 1024 * 1024
    for key in ("MemFree", "MemAvailable", "Cached", "Slab", "AnonPages"):
        low, high = sorted((prior[key], after[key]))
        assert low - slack <= fields[key] <= high + slack, key


def test_bundle_never_contains_environ(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    bundle = tmp_path / "x.tar.gz"
    assert run_cli("capture", "-o", str(bundle)).code == 0
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith("/environ")]
    assert f"proc/{os.getpid()}/status" in names
    assert "memsleuth.json" in names
    meta = Host.open(bundle).bundle_meta
    assert meta is not None
    assert meta["page_size_bytes"] == os.sysconf("SC_PAGE_SIZE")
    assert meta["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_every_command_reads_a_bundle(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    bundle = tmp_path / "x.tar.gz"
    assert run_cli("capture", "-o", str(bundle)).code == 0
    for cmd in (["status"], ["free"], ["meminfo"], ["vmstat"], ["slab"], ["top"]):
        res = run_cli("--root", str(bundle), *cmd)
        assert res.code == 0, (cmd, res.err)
        assert res.out.strip()


def test_truncated_bundle_exits_2_with_a_message(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    bundle = tmp_path / "x.tar.gz"
    assert run_cli("capture", "-o", str(bundle)).code == 0
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 3])
    res = run_cli("--root", str(cut), "meminfo")
    assert res.code == 2
    assert "truncated" in res.err
    assert "Traceback" not in res.err


def test_a_bundle_keeps_the_smaps_of_its_largest_processes_and_of_asked_pids(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(8 << 20); time.sleep(60)"])
    try:
        bundle = tmp_path / "s.tar.gz"
        res = run_cli("capture", "-o", str(bundle), "--smaps-top", "2", "--smaps-pid", str(child.pid),
                      "--json")
        assert res.code == 0, res.err
        with_smaps = res.json()["processes_with_smaps"]
        assert child.pid in with_smaps and 2 <= len(with_smaps) <= 3
        smaps = run_cli("--root", str(bundle), "smaps", str(child.pid), "--json")
        assert smaps.code == 0, smaps.err
        assert smaps.json()["mappings"]
        assert run_cli("--root", str(bundle), "maps", str(child.pid)).code == 0
        # a process the bundle has no smaps of: say which capture option adds it
        host = Host.open(bundle)
        others = [p for p in host.pids() if p not in with_smaps and host.read_optional(f"proc/{p}/maps")]
        miss = run_cli("--root", str(bundle), "smaps", str(others[0]))
        assert miss.code == 2 and f"--smaps-pid {others[0]}" in miss.err
    finally:
        child.kill()
        child.wait(timeout=10)
