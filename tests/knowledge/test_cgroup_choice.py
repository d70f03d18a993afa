"""On a hybrid cgroup host, attribution and the history name the same memory cgroup.

A hybrid host lists the v1 controllers and the unified hierarchy in
``/proc/PID/cgroup``; with the memory controller on v1, ``0::/...`` is where
systemd put the task, not where its memory is charged.  Both readers go
through :func:`memsleuth.sources.cgroup.memory_cgroup_of`.
"""

from __future__ import annotations

import os
from pathlib import Path

from memsleuth.analysis.series import History
from memsleuth.collect.history import history_from_roots, process_info
from memsleuth.collect.inspect import HostInspector
from memsleuth.host import Host
from memsleuth.knowledge.attribute import find_suspects
from memsleuth.snapshot.model import ProcessSample
from memsleuth.sources.cgroup import memory_cgroup_of, parse_pid_cgroup

PID = 4242
MEMORY = "/system.slice/probe.service"
UNIFIED = "/user.slice/user-1000.slice/session-3.scope"
HYBRID = (f"12:memory:{MEMORY}\n"
          "3:cpu,cpuacct:/user.slice\n"
          f"1:name=systemd:{UNIFIED}\n"
          f"0::{UNIFIED}\n")


def _stat(pid: int, comm: str, ppid: int, starttime: int) -> str:
    return " ".join([str(pid), f"({comm})", "S", str(ppid)] + ["0"] * 17 + [str(starttime)]
                    + ["0"] * 30) + "\n"


def _root(path: Path, when: float, *, probe: bool) -> str:
    """A root shaped like ``/`` with init, and (``probe``) the probe in its hybrid cgroups."""
    proc = path / "proc"
    procs = [(1, "init", 0, 1)] + ([(PID, "probe", 1, 500)] if probe else [])
    for pid, comm, ppid, start in procs:
        d = proc / str(pid)
        d.mkdir(parents=True)
        (d / "stat").write_text(_stat(pid, comm, ppid, start))
        (d / "cmdline").write_bytes(comm.encode() + b"\0--every\0" + b"5\0")
        (d / "cgroup").write_text(HYBRID if pid == PID else "12:memory:/\n0::/init.scope\n")
        (d / "status").write_text(f"Name:\t{comm}\nUid:\t0\t0\t0\t0\nVmRSS:\t    1024 kB\n")
        (d / "smaps_rollup").write_text("00400000-7ffc0000 ---p 00000000 00:00 0  [rollup]\n"
                                        "Rss:                1024 kB\nPss:                1024 kB\n")
        (d / "maps").write_text("")
    (proc / "meminfo").write_text("MemTotal:        1000000 kB\nMemFree:          500000 kB\n")
    os.utime(proc / "meminfo", (when, when))
    return str(path)


def test_the_history_and_the_inspector_choose_alike(tmp_path: Path) -> None:
    root = _root(tmp_path / "t0", 1_700_000_000.0, probe=True)
    sample = ProcessSample(pid=PID, starttime_ticks=500, ppid=1, comm="probe", state="S",
                           kernel_thread=False, files={"cgroup": HYBRID.encode()})
    assert memory_cgroup_of(parse_pid_cgroup(HYBRID)) == MEMORY
    assert process_info(sample).cgroup == MEMORY
    assert HostInspector(Host.open(root)).memory_cgroup(PID) == MEMORY


def _suspect_cgroup(history: History, root: str) -> tuple[str | None, str | None, bool]:
    (s,) = find_suspects(HostInspector(Host.open(root)), history, comm_any=["probe"])
    assert s.process.pid == PID
    return s.cgroup, s.unit, s.process.alive


def test_a_live_suspect_is_charged_where_the_history_says(tmp_path: Path) -> None:
    root = _root(tmp_path / "t0", 1_700_000_000.0, probe=True)
    history = history_from_roots([root])
    (seen,) = [p for p in history.processes.values() if p.pid == PID]
    assert seen.cgroup == MEMORY
    # read from the root's /proc/4242/cgroup, not the history
    assert _suspect_cgroup(history, root) == (MEMORY, "probe.service", True)


def test_an_exited_suspect_keeps_the_history_cgroup(tmp_path: Path) -> None:
    roots = [_root(tmp_path / "t0", 1_700_000_000.0, probe=True),
             _root(tmp_path / "t1", 1_700_000_600.0, probe=False)]
    history = history_from_roots(roots)
    assert _suspect_cgroup(history, roots[-1]) == (MEMORY, "probe.service", False)
