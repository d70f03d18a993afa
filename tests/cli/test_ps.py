"""``memsleuth ps``: procps's -o fields, --sort, -C and -p, side by side with procps ps."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import CliResult

HAS_PS = shutil.which("ps") is not None
#: every field both tools know, in one listing
FIELDS = "pid,ppid,uid,user,rss,rsz,vsz,pss,uss,nlwp,min_flt,maj_flt,%mem,s,comm,args"
NAME = "msleuth-ps-t"  # a command name no other process has


@pytest.fixture
def children() -> Iterator[list[int]]:
    """Three stopped children named NAME with 8, 24 and 40 MiB touched: fixed values to compare."""
    procs = []
    for mib in (24, 8, 40):
        code = (f"open('/proc/self/comm','w').write({NAME!r})\n"
                f"b=bytearray({mib}*1024*1024)\nfor i in range(0,len(b),4096): b[i]=1\n"
                "print('ready',flush=True)\nimport time\ntime.sleep(60)\n")
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        os.kill(p.pid, signal.SIGSTOP)
        procs.append(p)
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _procps(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ps", *args], capture_output=True, text=True, check=False)


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


@pytest.mark.live
@pytest.mark.skipif(not HAS_PS, reason="procps ps not installed")
@pytest.mark.parametrize("sort", ["-rss", "pss", "-vsz,pid", "-uss"])
def test_same_rows_as_procps(sort: str, children: list[int], run_cli: Callable[..., CliResult]) -> None:
    """-p, -o with every common field and --sort: procps's rows, value for value, in its order.
    The children are stopped; only PSS and USS move, when another process sharing python's pages
    starts or exits between the two reads (a page shared with one process less is counted
    differently, or becomes private): they are within 1% (on a quiet host, equal)."""
    pids = ",".join(map(str, children))
    args = ("-p", pids, "-o", FIELDS, f"--sort={sort}")
    fields = FIELDS.split(",")
    moving = {fields.index("pss"), fields.index("uss")}
    for _ in range(5):
        ours = run_cli("ps", *args)
        theirs = _procps("-ww", *args)  # -ww: no width limit, as memsleuth's piped output
        assert ours.code == 0 and theirs.returncode == 0, ours.err
        if _rows(ours.out) == _rows(theirs.stdout):
            break
    a, b = _rows(ours.out), _rows(theirs.stdout)
    assert a[0] == b[0]
    # the order of a PSS/USS sort may swap two children whose sizes moved past each other
    if sort.lstrip("-") in ("pss", "uss"):
        a[1:], b[1:] = sorted(a[1:]), sorted(b[1:])
    for x, y in zip(a[1:], b[1:], strict=True):
        still = [i for i in range(len(x)) if i not in moving]
        assert [x[i] for i in still] == [y[i] for i in still]
        for i in moving:
            assert abs(int(x[i]) - int(y[i])) <= int(y[i]) // 100, (fields[i], x[i], y[i])
    got = [int(r[0]) for r in a[1:]]
    assert sorted(got) == sorted(children)


@pytest.mark.live
@pytest.mark.skipif(not HAS_PS, reason="procps ps not installed")
def test_command_name_selects_like_procps(children: list[int], run_cli: Callable[..., CliResult]) -> None:
    ours = run_cli("ps", "-C", NAME, "-o", "pid,comm", "--sort=-rss")
    theirs = _procps("-C", NAME, "-o", "pid,comm", "--sort=-rss")
    assert _rows(ours.out) == _rows(theirs.stdout)
    assert len(_rows(ours.out)) == 4
    # the 40 MiB child first
    assert int(_rows(ours.out)[1][0]) == children[2]


@pytest.mark.live
@pytest.mark.skipif(not HAS_PS, reason="procps ps not installed")
def test_headers_renamed_and_hidden_like_procps(children: list[int],
                                                run_cli: Callable[..., CliResult]) -> None:
    pid = str(children[0])
    for args in (("-o", "pid=ID,rss=RESIDENT"), ("-o", "pid=,rss="), ("--no-headers", "-o", "pid,rss"),
                 ("-o", "pid", "-o", "comm=NAME"), ("-o", "thcount,rsz,minflt,ucomm")):
        ours = run_cli("ps", "-p", pid, *args)
        theirs = _procps("-p", pid, *args)
        assert _rows(ours.out) == _rows(theirs.stdout), args


@pytest.mark.live
@pytest.mark.skipif(not HAS_PS, reason="procps ps not installed")
def test_nothing_selected_exits_1_like_procps(run_cli: Callable[..., CliResult]) -> None:
    assert _procps("-C", "no-such-command-x").returncode == 1
    res = run_cli("ps", "-C", "no-such-command-x")
    assert res.code == 1 and res.out == ""


@pytest.mark.live
def test_json_has_bytes_from_the_same_declarations(children: list[int],
                                                  run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("ps", "-p", str(children[2]), "-o", "pid,rss,pss,comm", "--json").json()
    assert doc["schema"] == "memsleuth.ps/1" and doc["fields"] == ["pid", "rss", "pss", "comm"]
    (row,) = doc["processes"]
    assert list(row) == ["pid", "res_bytes", "pss_bytes", "comm"]  # top's JSON keys
    assert row["comm"] == NAME and row["res_bytes"] >= 40 * 1024 * 1024
    text = run_cli("ps", "-p", str(children[2]), "-o", "rss", "--no-headers").out
    assert int(text) == row["res_bytes"] // 1024


# -- on a fixture root: no host needed ----------------------------------------------------------


@pytest.fixture(scope="module")
def root618(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.cli.test_golden_views import _linux618

    root = tmp_path_factory.mktemp("ps") / "linux-6.18"
    _linux618(root)
    return root


def test_fixture_root_listing(root618: Path, run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("--root", str(root618), "ps", "-o", "pid,rss,pss,uss,vsz,nlwp,comm", "--sort=-pid")
    assert res.code == 0, res.err
    rows = _rows(res.out)
    assert rows[0] == ["PID", "RSS", "PSS", "USS", "VSZ", "NLWP", "COMMAND"]
    assert [r[0] for r in rows[1:]] == ["7109", "2"]  # descending pid; the kernel thread listed
    assert rows[2][1:6] == ["0", "0", "0", "0", "1"]  # a kernel thread has no user memory
    status = (root618 / "proc/7109/status").read_text()
    vmrss = next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:"))
    assert rows[1][1] == vmrss
    doc = run_cli("--root", str(root618), "ps", "--json").json()
    assert [p["pid"] for p in doc["processes"]] == [2, 7109]


def test_percent_mem_truncates_like_procps(root618: Path, run_cli: Callable[..., CliResult]) -> None:
    meminfo = (root618 / "proc/meminfo").read_text()
    total = int(next(ln.split()[1] for ln in meminfo.splitlines() if ln.startswith("MemTotal:")))
    rss = int(run_cli("--root", str(root618), "ps", "-p", "7109", "-o", "rss", "--no-headers").out)
    pmem = rss * 1000 // total
    out = run_cli("--root", str(root618), "ps", "-p", "7109", "-o", "%mem", "--no-headers").out
    assert out.strip() == f"{pmem // 10}.{pmem % 10}"


@pytest.mark.parametrize("args", [("-o", "nosuchfield"), ("--sort=-nosuch",), ("-p", "x"),
                                  ("-p", "0"), ("-C", ",")])
def test_bad_fields_are_usage_errors(args: tuple[str, ...], root618: Path,
                                     run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("--root", str(root618), "ps", *args)
    assert res.code == 2
    assert "error:" in res.err.splitlines()[-1]


def test_ps_is_its_own_command() -> None:
    from memsleuth.cli.main import COMMANDS

    assert COMMANDS["ps"][0] == "memsleuth.cli.commands.ps"
