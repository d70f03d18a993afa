"""``memsleuth top``: top's VIRT/RES/SHR, smem's PSS/USS, grouping and filters."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import CliResult

pytestmark = pytest.mark.live

MIB = 1024 * 1024


@pytest.fixture
def hog() -> Iterator[subprocess.Popen[str]]:
    """A child with 48 MiB of private, touched anonymous memory."""
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time\nb=bytearray(48*1024*1024)\n"
         "for i in range(0,len(b),4096): b[i]=1\n"
         "print('ready',flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    yield child
    child.kill()
    child.wait()


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def test_top_columns_match_status_and_rollup(hog: subprocess.Popen[str],
                                            run_cli: Callable[..., CliResult]) -> None:
    os.kill(hog.pid, 19)  # SIGSTOP: freeze it so both reads see the same process
    try:
        doc = run_cli("top", "--pid", str(hog.pid), "--json").json()
        (row,) = doc["processes"]
        assert row["virt_bytes"] == _status_kb(hog.pid, "VmSize") * 1024
        assert row["res_bytes"] == _status_kb(hog.pid, "VmRSS") * 1024
        assert row["shr_bytes"] == (_status_kb(hog.pid, "RssFile")
                                    + _status_kb(hog.pid, "RssShmem")) * 1024
        statm = Path(f"/proc/{hog.pid}/statm").read_text().split()
        assert row["shr_bytes"] == int(statm[2]) * os.sysconf("SC_PAGE_SIZE")  # as top does
        assert row["uss_bytes"] >= 48 * MIB
        assert row["uss_bytes"] <= row["pss_bytes"] <= row["res_bytes"]
        assert row["threads"] == 1
        assert row["minflt"] >= 48 * MIB // 4096 * 0.9
    finally:
        os.kill(hog.pid, 18)


def test_sort_filter_and_limit(hog: subprocess.Popen[str], run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("top", "--sort", "uss", "--limit", "3", "--json").json()
    assert len(doc["processes"]) <= 3
    uss = [p["uss_bytes"] or 0 for p in doc["processes"]]
    assert uss == sorted(uss, reverse=True)
    only = run_cli("top", "--command", "bytearray", "--json").json()["processes"]
    assert [p["pid"] for p in only] == [hog.pid]
    mine = run_cli("top", "--user", "root", "--all", "--json").json()["processes"]
    assert all(p["uid"] == 0 for p in mine)
    assert not any(p["kernel_thread"] for p in mine)


def test_group_by_command_sums_members(run_cli: Callable[..., CliResult]) -> None:
    children = [subprocess.Popen(["sleep", "30"]) for _ in range(3)]
    try:
        time.sleep(0.1)
        doc = run_cli("top", "--group-by", "command", "--all", "--json").json()
        group = next(g for g in doc["groups"] if g["key"] == "sleep")
        assert group["processes"] >= 3
        procs = run_cli("top", "--command", "^sleep", "--all", "--json").json()["processes"]
        assert group["res_bytes"] == sum(p["res_bytes"] for p in procs) or group["processes"] != len(procs)
        assert run_cli("top", "--group-by", "user").code == 0
        assert run_cli("top", "--group-by", "cgroup").code == 0
    finally:
        for c in children:
            c.kill()
            c.wait()


def test_bad_regex_is_a_usage_error(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("top", "--command", "(")
    assert res.code == 2
    assert "regular expression" in res.err
