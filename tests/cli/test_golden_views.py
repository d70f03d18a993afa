"""Golden output of every view, run through the CLI on fixture roots.

Each case is compared three ways: piped text (stdout not a terminal: plain
columns, no value cut), terminal text (``TTY_COMPATIBLE=1``: the rich table,
escape codes stripped) and ``--json``.  ``COLUMNS`` is fixed so the width does
not depend on the machine; the roots' capture time (the mtime of
``proc/meminfo``) is set, so nothing depends on the clock.

Rewrite the files after an intended change with
``python3 -m pytest tests/cli/test_golden_views.py --update-golden`` and read
the diff.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from memsleuth.host import HostMeta
from tests.cli.test_translate import make_translate_root
from tests.conftest import HOSTS, TEXT, CliResult
from tests.knowledge.conftest import founding_roots

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
L618 = TEXT / "linux-6.18"
PAGE = 4096
WIDTH = "80"
#: capture times (Unix seconds) given to the roots: the founding alarm, the 6.18 VM's capture
FOUNDING_AT = 1574251200  # 2019-11-20 12:00 UTC
L618_AT = 1764066361  # 2026-11-25 10:26:01 UTC (PROVENANCE-kstate.md)
ANSI = re.compile(r"\x1b\[[0-9;]*m")

#: /proc/7109/cmdline of the 6.18 root; long on purpose, to show that piped output is not cut
L618_CMDLINE = ("/root/.pyenv/versions/3.11.7/bin/python3.11", "fixture.py", "--hold-pages", "4096",
                "--threads", "2", "--label", "golden-output-of-every-memsleuth-view")


# -- roots ---------------------------------------------------------------------


def _centos6(dest: Path) -> None:
    shutil.copytree(HOSTS / "centos6-founding", dest)


def _numa(dest: Path) -> None:
    shutil.copytree(HOSTS / "numa-2node", dest)


def _linux618(dest: Path) -> None:
    """The 6.18 VM's captured files (PROVENANCE-*.md there) as one root, pid 7109 the python3.11."""
    proc = dest / "proc"
    for name in ("meminfo", "vmstat", "stat", "buddyinfo", "pagetypeinfo", "zoneinfo", "slabinfo",
                 "vmallocinfo", "loadavg"):
        (proc / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(L618 / f"proc_{name}", proc / name)
    for name in ("fs/dentry-state", "fs/inode-nr", "fs/file-nr", "vm/min_free_kbytes"):
        (proc / "sys" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(L618 / f"proc_sys_{name.replace('/', '_')}", proc / "sys" / name)
    (proc / "sys/kernel").mkdir(parents=True)
    (proc / "sys/kernel/hostname").write_text("devvm-6-18\n")
    (proc / "version").write_text("Linux version 6.18.44 (fixture@memsleuth) #1 SMP PREEMPT_DYNAMIC\n")
    pid = proc / "7109"
    pid.mkdir()
    for name in ("stat", "status", "statm", "smaps", "smaps_rollup", "maps"):
        shutil.copy(L618 / f"pid_{name}", pid / name)
    (pid / "cmdline").write_bytes(b"\0".join(a.encode() for a in L618_CMDLINE) + b"\0")
    kthread = proc / "2"  # a kernel thread: no user memory, shown with --kernel-threads
    kthread.mkdir()
    for name in ("stat", "status"):
        shutil.copy(L618 / f"pid_{name}_kthread", kthread / name)
    (kthread / "cmdline").write_bytes(b"")


def _translate(dest: Path) -> None:
    make_translate_root(dest)


ROOTS: dict[str, tuple[Callable[[Path], None], int | None]] = {
    "centos6": (_centos6, FOUNDING_AT),
    "numa": (_numa, FOUNDING_AT),
    "linux-6.18": (_linux618, L618_AT),
    "translate": (_translate, None),
}


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every root under one directory; the CLI is given the name, so ``host.source`` is stable."""
    top = tmp_path_factory.mktemp("golden-roots")
    for name, (build, at) in ROOTS.items():
        build(top / name)
        if at is not None:
            os.utime(top / name / "proc" / "meminfo", (at, at))
    return top


# -- cases ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    root: str
    args: tuple[str, ...]
    json: bool = True
    #: exit status the command gives on this root (translate without frame numbers is 2)
    code: int = 0


CASES = (
    Case("free", "centos6", ("free",)),
    Case("free-legacy", "centos6", ("free", "--legacy", "-h", "-w", "-t"), json=False),
    Case("free-6.18", "linux-6.18", ("free", "-h")),
    Case("meminfo", "centos6", ("meminfo",)),
    Case("meminfo-explain", "linux-6.18", ("meminfo", "--explain")),
    Case("vmstat", "linux-6.18", ("vmstat",)),
    Case("vmstat-mem", "linux-6.18", ("vmstat", "--mem")),
    Case("slab", "centos6", ("slab", "--limit", "8")),
    Case("slab-6.18", "linux-6.18", ("slab", "--limit", "12", "--sort", "waste", "--aliases")),
    Case("top", "linux-6.18", ("top", "--wide", "--kernel-threads")),
    Case("top-group", "linux-6.18", ("top", "--group-by", "command", "--kernel-threads")),
    Case("ps", "linux-6.18", ("ps", "-o", "pid,ppid,rss,pss,uss,nlwp,comm,args", "--sort=-rss")),
    Case("smaps", "linux-6.18", ("smaps", "7109", "--sort", "rss")),
    Case("maps", "linux-6.18", ("maps", "7109", "--explain")),
    Case("numa", "numa", ("numa", "--explain")),
    Case("buddy", "linux-6.18", ("buddy", "--order", "4", "--explain")),
    Case("status", "centos6", ("status",)),
    Case("status-6.18", "linux-6.18", ("status",)),
    Case("faults", "linux-6.18", ("faults", "--explain")),
    Case("translate", "translate", ("translate", "42", "0x7f0000000abc", "--explain")),
    Case("reclaim", "centos6", ("reclaim", "--both")),
)


def _run(run_cli: Callable[..., CliResult], roots: Path, monkeypatch: pytest.MonkeyPatch, case: Case,
         *extra: str, columns: str = WIDTH, tty: bool = False) -> CliResult:
    monkeypatch.chdir(roots)
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    if tty:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich's switch: treat stdout as a terminal
    else:
        monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    res = run_cli("--root", case.root, *case.args, *extra)
    assert res.code == case.code, res.err
    return res


def _check(request: pytest.FixtureRequest, name: str, got: str) -> None:
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got)
        return
    assert path.exists(), f"{path} is missing: run pytest with --update-golden"
    assert got == path.read_text(), f"{name} differs from its golden file (--update-golden rewrites it)"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_piped_text(case: Case, run_cli: Callable[..., CliResult], roots: Path,
                    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    res = _run(run_cli, roots, monkeypatch, case)
    assert "\x1b[" not in res.out
    _check(request, f"{case.name}.txt", res.out)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_terminal_text(case: Case, run_cli: Callable[..., CliResult], roots: Path,
                       monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    res = _run(run_cli, roots, monkeypatch, case, tty=True)
    _check(request, f"{case.name}.tty.txt", ANSI.sub("", res.out))


@pytest.mark.parametrize("case", [c for c in CASES if c.json], ids=[c.name for c in CASES if c.json])
def test_json(case: Case, run_cli: Callable[..., CliResult], roots: Path,
              monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    res = _run(run_cli, roots, monkeypatch, case, "--json")
    doc = res.json()
    assert doc["host"]["source"] == case.root
    _check(request, f"{case.name}.json", res.out)


# -- diagnose on the founding series ---------------------------------------------


@pytest.fixture(scope="module")
def founding_series(roots: Path) -> list[str]:
    """The founding case as 12 root directories (t00..t11), capture times from the builder, named
    relative to ``roots`` (the source line then does not depend on the temporary directory)."""
    return [str(Path(r).relative_to(roots)) for r in founding_roots(roots)]


@pytest.mark.parametrize("mode", ["txt", "tty.txt", "json"])
def test_diagnose(mode: str, founding_series: list[str], run_cli: Callable[..., CliResult], roots: Path,
                  monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The DiagnosisReport of the founding series, in the three renderings: the finding, the root
    cause with its attribution chain and remedies, and the one-line answer."""
    monkeypatch.chdir(roots)
    monkeypatch.setenv("COLUMNS", WIDTH)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    if mode == "tty.txt":
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
    else:
        monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    res = run_cli("diagnose", "--root", *founding_series, *(("--json",) if mode == "json" else ()))
    assert res.code == 1, res.err
    if mode == "json":
        assert res.json()["diagnoses"][0]["rule"] == "nss-negative-dentries"
    _check(request, f"diagnose.{mode}", ANSI.sub("", res.out))


# -- piped output is never cut ---------------------------------------------------


NARROW = (
    Case("top-narrow", "linux-6.18", ("top", "--wide")),
    Case("smaps-narrow", "linux-6.18", ("smaps", "7109", "--wide")),
    Case("faults-narrow", "linux-6.18", ("faults",)),
)


@pytest.mark.parametrize("case", NARROW, ids=[c.name for c in NARROW])
def test_piped_narrow_output_keeps_every_value(case: Case, run_cli: Callable[..., CliResult],
                                               roots: Path, monkeypatch: pytest.MonkeyPatch,
                                               request: pytest.FixtureRequest) -> None:
    """At 40 columns, a pipe still gets every command line and path in full, one row per line."""
    res = _run(run_cli, roots, monkeypatch, case, columns="40")
    assert "…" not in res.out
    doc = _run(run_cli, roots, monkeypatch, case, "--json", columns="40").json()
    if case.args[0] == "top":
        full = [p["command"] for p in doc["processes"]]
    elif case.args[0] == "smaps":
        full = [m["pathname"] for m in doc["mappings"] if m["pathname"]]
    else:
        full = [p["command"] for s in doc["samples"] for p in s["processes"]]
    assert full
    lines = res.out.splitlines()
    for value in full:
        assert any(value in line for line in lines), value
    _check(request, f"{case.name}.txt", res.out)
    # on a terminal of the same width the same table is cut to fit
    tty = _run(run_cli, roots, monkeypatch, case, columns="40", tty=True)
    assert "…" in ANSI.sub("", tty.out)


# -- the contract itself ---------------------------------------------------------


def test_one_declaration_gives_terminal_plain_and_json() -> None:
    import io

    from rich.console import Console
    from rich.text import Text

    from memsleuth.views.common import BLANK, Column, document, rows_json, table

    cols = (Column("pid", "PID"), Column("key", "KEY", show=False),
            Column("pct", "%", lambda v: f"{v:.0f}%", json=False),
            Column("command", "COMMAND", justify="left", no_wrap=True, cut=8))
    rows = [{"pid": 1, "key": "a", "pct": 50.0, "command": "[kthreadd] with a long tail"},
            {"pid": 22, "key": None, "pct": None, "command": BLANK},
            {"pid": Text("all"), "key": "c", "pct": 1.0, "command": "x"}]
    assert rows_json(cols, rows[:2]) == [{"pid": 1, "key": "a", "command": "[kthreadd] with a long tail"},
                                         {"pid": 22, "key": None, "command": BLANK}]

    def out(terminal: bool) -> list[str]:
        buf = io.StringIO()
        Console(file=buf, width=20, force_terminal=terminal, no_color=True).print(
            table(cols, rows, pipe="full"), crop=terminal)
        return [ANSI.sub("", line).rstrip() for line in buf.getvalue().splitlines()]

    assert out(terminal=False) == ["PID    %  COMMAND",
                                   "  1  50%  [kthreadd] with a long tail",
                                   " 22    -",
                                   "all   1%  x"]
    assert out(terminal=True) == ["PID    %  COMMAND", "  1  50%  [kthrea…", " 22    -", "all   1%  x"]
    host = document("memsleuth.x/1", _meta(), "live host", b=1, a=2)
    assert list(host) == ["schema", "host", "b", "a"] and host["host"]["source"] == "live host"


def _meta() -> HostMeta:
    return HostMeta(hostname="h", kernel_release="6.18.44", kernel_version=None, boot_id=None,
                    page_size_bytes=PAGE, clock_ticks_per_second=100, captured_at=0.0, root_access=False)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_view_piped_keeps_every_value_on_a_narrow_and_a_wide_terminal(
        case: Case, run_cli: Callable[..., CliResult], roots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped, a view prints full values whatever COLUMNS says: nothing is cut with an ellipsis at 40
    or at 200 columns, and every value of its JSON rows' text fields appears in the text."""
    narrow = _run(run_cli, roots, monkeypatch, case, columns="40")
    wide = _run(run_cli, roots, monkeypatch, case, columns="200")
    for res in (narrow, wide):
        assert "…" not in res.out, case.name
    if case.json:
        doc = _run(run_cli, roots, monkeypatch, case, "--json", columns="40").json()
        texts = [v for rows in doc.values() if isinstance(rows, list) for r in rows if isinstance(r, dict)
                 for k, v in r.items() if k in ("command", "cache") and
                 isinstance(v, str) and v]
        for v in texts:
            assert v in narrow.out and v in wide.out, (case.name, v)
