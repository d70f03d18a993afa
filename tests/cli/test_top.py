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


# -- procps flags: -b -n, -o FIELD, -p LIST, against procps top in the same run ----------------


def _procps_top(pids: list[int], field: str) -> list[dict[str, int]]:
    """``top -b -n 1 -e k -p PIDS -o FIELD``: the task rows, in top's order, memory in KiB."""
    out = subprocess.run(["top", "-b", "-n", "1", "-e", "k", "-w", "200", "-o", field,
                          "-p", ",".join(map(str, pids))],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    start = next(i for i, ln in enumerate(out) if ln.split()[:1] == ["PID"])
    head = out[start].split()
    rows = []
    for line in out[start + 1:]:
        parts = line.split()
        if not parts:
            continue
        rows.append({k: int(parts[head.index(k)]) for k in ("PID", "VIRT", "RES", "SHR")})
    return rows


@pytest.mark.skipif(__import__("shutil").which("top") is None, reason="procps top not installed")
def test_batch_once_with_pid_list_and_top_sort_field_agree_with_procps(
        hog: subprocess.Popen[str], run_cli: Callable[..., CliResult]) -> None:
    small = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.1)
        pids = [small.pid, hog.pid]
        for pid in pids:
            os.kill(pid, 19)  # frozen: both tools read the same numbers
        theirs = _procps_top(pids, "%MEM")
        doc = run_cli("top", "-b", "-n", "1", "-o", "%MEM", "-p", f"{pids[0]},{pids[1]}", "--json").json()
        ours = doc["processes"]
        assert doc["sort"] == "res"
        # same rows, same order (largest %MEM first: the 48 MiB hog), same numbers in KiB
        assert [p["pid"] for p in ours] == [r["PID"] for r in theirs] == [hog.pid, small.pid]
        for p, r in zip(ours, theirs, strict=True):
            assert p["virt_bytes"] // 1024 == r["VIRT"]
            assert p["res_bytes"] // 1024 == r["RES"]
            assert p["shr_bytes"] // 1024 == r["SHR"]
        by_res = run_cli("top", "-o", "RES", "-p", str(small.pid), "-p", str(hog.pid), "--json").json()
        assert [p["pid"] for p in by_res["processes"]] == [hog.pid, small.pid]
        smallest = run_cli("top", "-o=-RES", "-p", f"{hog.pid},{small.pid}", "--json").json()
        assert [p["pid"] for p in smallest["processes"]] == [small.pid, hog.pid]
        # batch text: one header per iteration, two iterations
        text = run_cli("top", "-b", "-n", "2", "-d", "0.2", "-o", "%MEM", "-p", f"{hog.pid},{small.pid}")
        assert text.code == 0 and "\x1b[" not in text.out
        assert text.out.count("memsleuth top - ") == 2
        assert text.out.count(f"{hog.pid} ") >= 2
    finally:
        for pid in (small.pid, hog.pid):
            os.kill(pid, 18)
        small.kill()
        small.wait()


def test_repeating_json_is_one_document_per_line(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("top", "-n", "2", "-d", "0.1", "-p", str(os.getpid()), "--json")
    lines = res.out.splitlines()
    assert len(lines) == 2
    import json

    assert [json.loads(ln)["processes"][0]["pid"] for ln in lines] == [os.getpid()] * 2


def test_bad_procps_flags(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("top", "-o", "NOSUCH").code == 2
    assert run_cli("top", "-p", "1,x").code == 2
    assert run_cli("top", "-d", "0").code == 2
    assert run_cli("top", "-n", "0").code == 2
    assert run_cli("top", "-s", "res", "-o", "RES").code == 2
