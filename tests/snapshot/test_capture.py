"""Snapshot capture on the live host: completeness, race policy, zombies."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from memsleuth.host import Host
from memsleuth.snapshot.capture import capture, read_process

pytestmark = pytest.mark.live


def test_live_snapshot_has_system_files_and_this_process() -> None:
    snap = capture(Host.open())
    assert "proc/meminfo" in snap.files
    assert "proc/vmstat" in snap.files
    assert snap.started_at <= snap.ended_at
    me = snap.process(os.getpid())
    assert me is not None
    assert me.comm.startswith("python") or me.comm.startswith("pytest")
    assert "status" in me.files and "smaps_rollup" in me.files
    assert me.identity[1] > 0


def test_kernel_threads_are_kept_with_stat_only() -> None:
    snap = capture(Host.open())
    kthreads = [p for p in snap.processes if p.kernel_thread]
    assert kthreads, "a Linux host always has kernel threads (kthreadd)"
    assert all(set(p.files) == {"stat"} for p in kthreads)


def test_zombies_are_kept() -> None:
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sample = read_process(Host.open(), child.pid, ("stat", "status", "smaps_rollup"))
        if sample is not None and sample.zombie:
            break
        time.sleep(0.01)
    else:
        child.wait()
        pytest.fail("child never became a zombie")
    try:
        snap = capture(Host.open())
        z = snap.process(child.pid)
        assert z is not None and z.zombie
        assert "smaps_rollup" not in z.files  # no address space left to walk
        assert "status" in z.files
    finally:
        child.wait()


def test_a_reaped_pid_is_skipped_not_an_error() -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    assert read_process(Host.open(), child.pid, ("stat", "status")) is None


def test_processes_exiting_during_the_walk_are_skipped_and_counted() -> None:
    """Real short-lived processes: a shell keeps forking children that exit at once."""
    churn = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess,time\n"
         "end=time.time()+20\n"
         "ps=[]\n"
         "while time.time()<end:\n"
         "    ps=[p for p in ps if p.poll() is None]\n"
         "    if len(ps)<150: ps.append(subprocess.Popen(['sleep','0.005']))\n"],
    )
    try:
        host = Host.open()
        vanished = 0
        walked = 0
        deadline = time.monotonic() + 15
        while vanished == 0 and time.monotonic() < deadline:
            snap = capture(host, cgroups=False, slab_sysfs=False)
            vanished += snap.processes_vanished
            walked += 1
            for p in snap.processes:
                assert "stat" in p.files
        assert vanished > 0, f"no process vanished in {walked} walks"
    finally:
        churn.kill()
        churn.wait()
