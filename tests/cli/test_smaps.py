"""``memsleuth smaps PID``: per-mapping rows whose totals equal smaps_rollup."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

pytestmark = pytest.mark.live


def test_totals_equal_smaps_rollup(run_cli: Callable[..., CliResult]) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import time\nb=bytearray(8*1024*1024)\nprint('ready',flush=True)\ntime.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        os.kill(child.pid, 19)  # stopped: smaps and smaps_rollup see the same process
        doc = run_cli("smaps", str(child.pid), "--json").json()
        totals, rollup = doc["totals_bytes"], doc["rollup_bytes"]
        for key in ("Rss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Anonymous", "Swap"):
            assert totals[key] == rollup[key], key
        # per-mapping Pss is rounded down to whole kB before summing
        assert 0 <= rollup["Pss"] - totals["Pss"] < 1024 * len(doc["mappings"])
        assert any(m["pathname"] == "[heap]" for m in doc["mappings"])
        text = run_cli("smaps", str(child.pid)).out
        assert "per-mapping totals agree" in text
    finally:
        child.kill()
        child.wait()


def test_missing_pid_is_exit_2(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("smaps", "999999999")
    assert res.code == 2
    assert "no process 999999999" in res.err


def test_kernel_thread_has_no_smaps(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("smaps", "2")  # kthreadd
    assert res.code == 2
    assert "kernel thread" in res.err


def test_address_selects_the_mapping_that_holds_it(run_cli: Callable[..., CliResult]) -> None:
    maps = Path(f"/proc/{os.getpid()}/maps").read_text().splitlines()
    heap = next(line for line in maps if "[heap]" in line)
    start, end = (int(x, 16) for x in heap.split()[0].split("-"))
    doc = run_cli("smaps", str(os.getpid()), f"{start + (end - start) // 2:x}", "--json").json()
    assert [m["pathname"] for m in doc["mappings"]] == ["[heap]"]
    res = run_cli("smaps", str(os.getpid()), "0x10")
    assert res.code == 2 and "no mapping" in res.err
    assert run_cli("smaps", str(os.getpid()), "zz").code == 2


def test_explain_says_what_each_column_means(run_cli: Callable[..., CliResult]) -> None:
    out = run_cli("smaps", str(os.getpid()), "--explain").out
    assert "What the columns mean:" in out and "pss: " in out and "PRIV_D" in out
