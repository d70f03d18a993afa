"""``memsleuth faults``: rates, demand paging, and copy-on-write after a real fork."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IS_ROOT, TEXT, CliResult

MIB = 1 << 20
PAGE = 4096

FORKER = textwrap.dedent("""
    import ctypes, mmap, os, signal, sys, time
    SIZE = 64 << 20
    buf = mmap.mmap(-1, SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buf.madvise(mmap.MADV_NOHUGEPAGE)  # 4 KiB pages, so copies are counted page by page
    for off in range(0, SIZE, 4096):
        buf[off] = 1
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    pid = os.fork()
    if pid == 0:
        def write_half(signum, frame):
            for off in range(0, SIZE // 2, 4096):
                buf[off] = 2
            print("written", flush=True)
        signal.signal(signal.SIGUSR1, write_half)
        print("child", os.getpid(), flush=True)
        while True:
            signal.pause()
    print("parent", os.getpid(), addr, flush=True)
    while True:
        time.sleep(60)
""")


@pytest.fixture
def forked() -> Iterator[tuple[subprocess.Popen[str], int, int, int]]:
    # its own session, so cleanup kills parent and child together
    proc = subprocess.Popen([sys.executable, "-c", FORKER], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        got: dict[str, list[str]] = {}
        lines = []
        while not ("parent" in got and "child" in got) and len(lines) < 4:
            line = proc.stdout.readline()
            lines.append(line)
            words = line.split()
            if words:
                got[words[0]] = words[1:]
        assert "parent" in got and "child" in got, lines
        yield proc, int(got["parent"][0]), int(got["child"][0]), int(got["parent"][1])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _buffer_area(doc: dict[str, Any], child: int, addr: int) -> dict[str, Any]:
    (entry,) = [c for c in doc["children"] if c["pid"] == child]
    (area,) = [a for a in entry["areas"] if a["start"] <= addr < a["end"]]
    return area


@pytest.mark.live
@pytest.mark.skipif(not IS_ROOT, reason="needs root: pagemap frame numbers and kpagecount")
def test_cow_shared_then_half_copied(run_cli: Callable[..., CliResult],
                                     forked: tuple[subprocess.Popen[str], int, int, int]) -> None:
    proc, parent, child, addr = forked
    res = run_cli("faults", "--cow", str(parent), "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["schema"] == "memsleuth.faults.cow/1"
    assert [c["pid"] for c in doc["children"]] == [child]
    area = _buffer_area(doc, child, addr)
    assert area["end"] - area["start"] >= 64 * MIB
    assert area["shared_pages"] == 16384
    assert area["copied_pages"] == 0
    entry = doc["children"][0]
    # every shared frame is mapped by both page tables
    assert entry["shared_mapcount_confirmed"] >= entry["shared_pages"] - 8
    assert entry["shared_pages"] >= 16384

    os.kill(child, signal.SIGUSR1)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "written"
    doc2 = run_cli("faults", "--cow", str(parent), "--json").json()
    area2 = _buffer_area(doc2, child, addr)
    assert area2["shared_pages"] == 8192
    assert area2["copied_pages"] == 8192
    entry2 = doc2["children"][0]
    assert entry["shared_pages"] - entry2["shared_pages"] >= 8192
    assert entry2["copied_pages"] - entry["copied_pages"] >= 8192

    text = " ".join(run_cli("faults", "--cow", str(parent), "--explain").out.split())
    assert "copy-on-write" in text and f"Child {child} still shares" in text


def test_cow_of_a_process_without_children(run_cli: Callable[..., CliResult]) -> None:
    if not IS_ROOT:
        pytest.skip("needs root: pagemap frame numbers")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        res = run_cli("faults", "--cow", str(proc.pid), "--json")
        assert res.code == 0, res.err
        doc = res.json()
        assert doc["children"] == []
        assert any("no children" in n for n in doc["notes"])
    finally:
        proc.kill()
        proc.wait()


TOUCHER = textwrap.dedent("""
    import mmap, sys
    reserved = mmap.mmap(-1, 256 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    for off in range(0, 16 << 20, 4096):
        reserved[off] = 1
    print("ready", flush=True)
    while True:  # fault in fresh pages forever: map, touch 8 MiB, unmap
        m = mmap.mmap(-1, 8 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        for off in range(0, 8 << 20, 4096):
            m[off] = 1
        m.close()
""")


@pytest.fixture
def toucher() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", TOUCHER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.live
def test_fault_rates_and_demand_paging(run_cli: Callable[..., CliResult], toucher: int) -> None:
    res = run_cli("faults", "0.5", "2", "--limit", "5", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["schema"] == "memsleuth.faults/1"
    assert len(doc["samples"]) == 2
    for sample in doc["samples"]:
        system = sample["system"]
        assert 0.4 < system["seconds"] < 2.0
        # the toucher alone faults thousands of pages a second
        assert system["minor_per_second"] > 1000
        assert system["major_per_second"] >= 0
        assert system["faults_delta"] >= system["major_delta"] >= 0
        top = sample["processes"][0]
        assert top["pid"] == toucher
        assert top["minor_per_second"] > 1000
        # 256 MiB reserved, 16 MiB touched: at least 240 MiB never touched
        assert top["untouched_bytes"] >= 230 * MIB
        assert top["untouched_bytes"] == top["virt_bytes"] - top["rss_bytes"] - top["swap_bytes"]
        rates = [p["minor_per_second"] + p["major_per_second"] for p in sample["processes"]]
        assert rates == sorted(rates, reverse=True)


@pytest.mark.live
def test_faults_text_and_explain(run_cli: Callable[..., CliResult], toucher: int) -> None:
    res = run_cli("faults", "0.3", "--explain")
    assert res.code == 0, res.err
    assert "minor/s" in res.out and "MINFLT/s" in res.out
    assert str(toucher) in res.out
    assert "Demand paging" in " ".join(res.out.split())


def test_faults_from_a_directory_root_has_totals_not_rates(run_cli: Callable[..., CliResult],
                                                           tmp_path: Path) -> None:
    proc = tmp_path / "proc" / "7109"
    proc.mkdir(parents=True)
    for name in ("stat", "status"):
        shutil.copy(TEXT / "linux-6.18" / f"pid_{name}", proc / name)
    (proc / "cmdline").write_bytes(b"python3\0")
    (tmp_path / "proc" / "vmstat").write_text("pgfault 123456\npgmajfault 789\n")
    (tmp_path / "proc" / "meminfo").write_text((TEXT / "linux-6.18" / "proc_meminfo").read_text())
    res = run_cli("--root", str(tmp_path), "faults", "--json")
    assert res.code == 0, res.err
    (sample,) = res.json()["samples"]
    assert sample["system"]["pgfault"] == 123456 and sample["system"]["pgmajfault"] == 789
    assert sample["system"]["minor_per_second"] is None
    (row,) = sample["processes"]
    assert (row["pid"], row["minflt"], row["majflt"]) == (7109, 3010, 3)
    assert row["minor_per_second"] is None
    assert row["untouched_bytes"] == row["virt_bytes"] - row["rss_bytes"] - row["swap_bytes"]
    assert "no rates" in res.err


def test_faults_usage_errors(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("faults", "0").code == 2
    assert run_cli("faults", "1", "0").code == 2
    res = run_cli("faults", "--cow", "999999999")
    assert res.code == 2 and "999999999" in res.err
