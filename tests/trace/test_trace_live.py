"""``memsleuth trace`` on the live host: attribution, and the tracing state put back.

Every test snapshots the tracing state (tracefs mounts; when mounted: the
instances, set_event, tracing_on, buffer_size_kb, current_tracer, and the
enable and filter files of every event a trace touches; memsleuth's state
files) before, and compares after.  Children are bounded in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memsleuth.trace.run import LOOKUP_SYSCALLS
from tests.conftest import HOSTS, IS_ROOT, CliResult

pytestmark = [pytest.mark.live, pytest.mark.skipif(not IS_ROOT, reason="tracing needs root")]

TRACEFS = Path("/sys/kernel/tracing")
STATE_DIR = Path("/run/memsleuth")
EVENTS = ["kmem/kmem_cache_alloc", "sched/sched_process_fork", "sched/sched_process_exit",
          *(f"syscalls/sys_exit_{s}" for s in LOOKUP_SYSCALLS)]

STORM = """\
import os, sys, time
open('/proc/self/comm', 'w').write(sys.argv[2])
end = time.time() + float(sys.argv[3])
i = 0
while time.time() < end:
    try:
        os.stat(f'{sys.argv[1]}/missing-{os.getpid()}-{i}')
    except FileNotFoundError:
        pass
    i += 1
"""

PROBE_PARENT = """\
import os, subprocess, sys, time
open('/proc/self/comm', 'w').write('probe-parent')
child = ("import os, sys\\nopen('/proc/self/comm', 'w').write('curl-healthchk')\\n"
         "for i in range(2000):\\n"
         "    os.access(f'{sys.argv[1]}/._dOeSnotExist_{os.getpid()}_{i}', os.F_OK)\\n")
end = time.time() + float(sys.argv[2])
while time.time() < end:
    subprocess.run([sys.executable, '-c', child, sys.argv[1]], check=False)
    time.sleep(0.05)
"""


def _mounts() -> list[str]:
    return sorted(line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[2] == "tracefs")


def tracing_state() -> dict[str, Any]:
    state: dict[str, Any] = {"mounts": _mounts()}
    if str(TRACEFS) in state["mounts"]:
        state["instances"] = sorted(os.listdir(TRACEFS / "instances"))
        for name in ("set_event", "tracing_on", "buffer_size_kb", "current_tracer"):
            state[name] = (TRACEFS / name).read_text()
        for ev in EVENTS:
            d = TRACEFS / "events" / ev
            if d.is_dir():
                state[ev] = ((d / "enable").read_text(), (d / "filter").read_text())
    state["state_files"] = sorted(os.listdir(STATE_DIR)) if STATE_DIR.is_dir() else []
    return state


@pytest.fixture(params=[False, True], ids=["unmounted", "premounted"])
def premounted(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Run once with tracefs as we find it unmounted, once mounted by the test itself."""
    we_mounted = False
    if request.param and str(TRACEFS) not in _mounts():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)
        we_mounted = True
    if not request.param and str(TRACEFS) in _mounts():
        pytest.skip("tracefs is mounted by someone else; the unmounted case cannot be set up")
    try:
        yield request.param
    finally:
        if we_mounted:
            subprocess.run(["umount", str(TRACEFS)], check=False)


@pytest.fixture
def workdir() -> Iterator[Path]:
    # /var/tmp: a disk filesystem (tmpfs keeps no negative dentries)
    d = Path(tempfile.mkdtemp(prefix="memsleuth-trace-", dir="/var/tmp"))
    try:
        yield d
    finally:
        os.rmdir(d)


def _start(code: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code, *args])


def _memsleuth(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "memsleuth", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_trace_slab_dentry_names_the_storming_child(
        run_cli: Callable[..., CliResult], workdir: Path) -> None:
    before = tracing_state()
    child = _start(STORM, str(workdir), "negdent-stat", "4")
    try:
        time.sleep(0.3)
        res = run_cli("trace", "slab", "dentry", "--seconds", "1.5", "--json")
    finally:
        child.wait(timeout=30)
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["schema"] == "memsleuth.trace/1"
    assert doc["cache"] == {"requested": "dentry", "event_name": "dentry", "merged": False,
                            "group": ["dentry"]}
    row = next(p for p in doc["processes"] if p["pid"] == child.pid)
    assert row["comm"] == "negdent-stat"
    assert row["events"] > 1000
    assert row["ppid"] == os.getpid()
    assert doc["processes"][0]["pid"] == child.pid  # the top allocator
    assert tracing_state() == before


def test_trace_slab_resolves_a_merged_alias(run_cli: Callable[..., CliResult]) -> None:
    links = {p.name: os.path.realpath(p) for p in Path("/sys/kernel/slab").iterdir() if p.is_symlink()}
    listed = {line.split()[0] for line in Path("/proc/slabinfo").read_text().splitlines()[2:]}
    alias = next((n for n, t in sorted(links.items()) if n not in listed
                  and any(m in listed for m, u in links.items() if u == t)), None)
    if alias is None:
        pytest.skip("no merged SLUB alias on this host")
    res = run_cli("trace", "slab", alias, "--seconds", "0.3", "--json")
    assert res.code == 0, res.err
    cache = res.json()["cache"]
    assert cache["merged"] is True and cache["requested"] == alias
    assert cache["event_name"] in listed and cache["event_name"] != alias
    assert os.path.realpath(f"/sys/kernel/slab/{cache['event_name']}") == links[alias]
    text = run_cli("trace", "slab", alias, "--seconds", "0.2")
    assert "merged SLUB cache" in text.out and cache["event_name"] in text.out


def test_trace_lookups_names_a_short_lived_probe_and_its_parent(
        run_cli: Callable[..., CliResult], workdir: Path) -> None:
    before = tracing_state()
    parent = _start(PROBE_PARENT, str(workdir), "5")
    try:
        time.sleep(0.5)
        res = run_cli("trace", "lookups", "--seconds", "2.5", "--json")
    finally:
        parent.wait(timeout=60)
    assert res.code == 0, res.err
    doc = res.json()
    group = next(c for c in doc["commands"] if c["comm"] == "curl-healthchk")
    assert group["parent_comm"] == "probe-parent"
    assert group["ppid"] == parent.pid
    assert group["processes"] >= 3
    assert group["events"] >= 3 * 1500
    assert doc["commands"][0]["comm"] == "curl-healthchk"
    assert tracing_state() == before
    assert not any(p["pid"] == os.getpid() for p in doc["processes"])


def _wait_tracing(pid: int, timeout: float = 20.0) -> None:
    inst = TRACEFS / "instances" / f"memsleuth-{pid}"
    end = time.time() + timeout
    while time.time() < end:
        try:
            if "sys_exit" in (inst / "set_event").read_text() and \
                    (inst / "tracing_on").read_text().strip() == "1":
                time.sleep(0.5)
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"trace session {pid} never started")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_state_is_restored_after_a_signal(premounted: bool, sig: signal.Signals) -> None:
    before = tracing_state()
    proc = _memsleuth("trace", "lookups", "--seconds", "60")
    _wait_tracing(proc.pid)
    assert tracing_state() != before  # the session did change things
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    if sig == signal.SIGINT:
        assert proc.returncode == 0, err
        assert "interrupted" in out  # Ctrl-C ends the trace early and prints what it counted
    else:
        assert proc.returncode == 128 + signal.SIGTERM, err
    assert tracing_state() == before


def test_state_is_repaired_after_kill_9(premounted: bool) -> None:
    before = tracing_state()
    proc = _memsleuth("trace", "lookups", "--seconds", "60")
    _wait_tracing(proc.pid)
    proc.kill()
    proc.communicate(timeout=30)
    left = tracing_state()
    assert left != before
    assert f"memsleuth-{proc.pid}" in left["instances"]
    assert f"trace-{proc.pid}.json" in left["state_files"]
    rerun = _memsleuth("trace", "lookups", "--seconds", "0.5")
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert f"repaired a killed trace session (pid {proc.pid})" in err
    assert f"removed stale instance instances/memsleuth-{proc.pid}" in err
    assert f"removed stale instance instances/memsleuth-{proc.pid}" in out  # also in the footer
    assert tracing_state() == before


def test_refuses_a_bundle_root(run_cli: Callable[..., CliResult]) -> None:
    root = next(p for p in sorted(HOSTS.iterdir()) if (p / "proc" / "meminfo").exists())
    res = run_cli("--root", str(root), "trace", "lookups", "--seconds", "1")
    assert res.code == 2
    assert "live kernel" in res.err


def test_usage_errors(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("trace", "slab").code == 2
    res = run_cli("trace", "slab", "no_such_cache_xyz", "--seconds", "1")
    assert res.code == 2 and "no slab cache named" in res.err
    assert run_cli("trace", "slab", 'dentry" || 1', "--seconds", "1").code == 2
