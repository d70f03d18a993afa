"""Only the one environment key a rule names ever leaves /proc/PID/environ.

A live process carries a planted secret next to NSS_SDB_USE_CACHE and maps a
file named libsoftokn3.so; attribution must report the NSS key, and the
secret must appear in no output, JSON, bundle or store (bytes grepped,
compressed containers opened).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from memsleuth.analysis.series import History
from memsleuth.collect.inspect import HostInspector
from memsleuth.collect.rules import builtin_rules
from memsleuth.errors import SourceMissing
from memsleuth.host import Host
from memsleuth.knowledge.attribute import Attribution, find_suspects
from memsleuth.knowledge.match import Diagnosis
from memsleuth.views.diagnosis import diagnoses_json, render_diagnoses

SECRET = b"hunter2-memsleuth-planted"
_CHILD = """
import mmap, os, sys, time
path = sys.argv[1]
with open(path, "wb") as f:
    f.write(b"\\0" * 4096)
fd = os.open(path, os.O_RDONLY)
m = mmap.mmap(fd, 4096, prot=mmap.PROT_READ)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[int]:
    lib = tmp_path / "libsoftokn3.so"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NSS_SDB_USE_CACHE": "yes",
           "MEMSLEUTH_TEST_SECRET": SECRET.decode()}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(lib)], env=env, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _no_secret(blob: bytes, what: str) -> None:
    assert SECRET not in blob, f"planted secret found in {what}"
    assert b"MEMSLEUTH_TEST_SECRET" not in blob, f"secret's key found in {what}"


@pytest.mark.live
def test_only_the_named_key_is_reported(probe: int, tmp_path: Path, run_cli: Callable[..., object]) -> None:
    host = Host.open(None)
    empty = History(hostname=None, kernel_release=None, series={})
    rule = {r.id: r for r in builtin_rules()}["nss-negative-dentries"]
    suspects = find_suspects(HostInspector(host), empty, maps_any=["libsoftokn3.so*"],
                             environ_key="NSS_SDB_USE_CACHE", environ_advice=rule.attribution.environ_advice,
                             only=[probe])
    (s,) = suspects
    assert s.process.pid == probe and s.reason == "maps libsoftokn3.so"
    assert (s.environ_checked, s.environ_value) == (True, "yes")
    assert s.environ_note == f"NSS_SDB_USE_CACHE=yes in pid {probe}"
    assert host.environ_has(probe, "MEMSLEUTH_TEST_SECRET") == SECRET.decode()  # the reader works...
    d = Diagnosis(rule=rule, findings=(), evidence={}, confidence=0.9, weight=5,
                  attribution=Attribution(suspects=suspects), remediation=())
    console = Console(width=80, record=True, color_system=None)
    console.print(render_diagnoses([d]))
    text = console.export_text().encode()
    blob = json.dumps(diagnoses_json([d])).encode()
    assert b"NSS_SDB_USE_CACHE=yes" in text and b'"value": "yes"' in blob
    _no_secret(text, "the terminal view")  # ...but nothing else leaves it
    _no_secret(blob, "the JSON")
    _no_secret(repr(suspects).encode(), "the attribution records")

    bundle = tmp_path / "b.tar.gz"
    r = run_cli("capture", "-o", str(bundle))
    assert getattr(r, "code", 0) == 0, r
    _no_secret(bundle.read_bytes(), "the compressed bundle")
    members = 0
    with tarfile.open(bundle) as tar:
        for m in tar:
            f = tar.extractfile(m) if m.isfile() else None
            if f is not None:
                members += 1
                assert not m.name.endswith("/environ"), m.name
                _no_secret(f.read(), f"bundle member {m.name}")
    assert members > 100

    db = tmp_path / "h.db"
    r = run_cli("record", "--db", str(db), "--count", "1", "--interval", "0.1")
    assert getattr(r, "code", 0) == 0, r
    _no_secret(db.read_bytes(), "the store file")
    con = sqlite3.connect(db)
    blobs = 0
    try:
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for v in row:
                    if isinstance(v, bytes):
                        blobs += 1
                        _no_secret(v, f"store table {table}")
                        with contextlib.suppress(zlib.error):
                            _no_secret(zlib.decompress(v), f"store table {table} (decompressed)")
                    elif isinstance(v, str):
                        _no_secret(v.encode(), f"store table {table}")
    finally:
        con.close()
    assert blobs > 0


def test_environ_is_never_read_from_a_bundle_or_directory(tmp_path: Path) -> None:
    (tmp_path / "proc" / "42").mkdir(parents=True)
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 1 kB\n")
    (tmp_path / "proc" / "42" / "environ").write_bytes(b"NSS_SDB_USE_CACHE=yes\0X=" + SECRET + b"\0")
    with pytest.raises(SourceMissing):
        Host.open(str(tmp_path)).environ_has(42, "NSS_SDB_USE_CACHE")
    with pytest.raises(ValueError):
        Host.open(None).environ_has(os.getpid(), "A=B")


_LOOP = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
                         stdout=subprocess.PIPE)
assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def probe_run() -> Iterator[tuple[int, int]]:
    """A long-lived parent without NSS_SDB_USE_CACHE and one of its short runs caught alive."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = subprocess.Popen([sys.executable, "-c", _LOOP], env=env, stdout=subprocess.PIPE,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        yield proc.pid, child
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


@pytest.mark.live
def test_a_run_of_a_repeated_command_is_checked_in_its_parent(probe_run: tuple[int, int]) -> None:
    """Issue 14: a trace counted many runs of the command under one parent, and one run happens to be
    alive.  The environment reported is the parent's (which every run inherits), every time, not
    the run that was caught alive."""
    from memsleuth.knowledge.attribute import TracedCommand

    parent, child = probe_run
    host = Host.open(None)
    comm = host.read_text(f"proc/{child}/comm").strip()
    empty = History(hostname=None, kernel_release=None, series={})
    runs = TracedCommand(kind="lookups", caches=("dentry",), comm=comm, ppid=parent, parent_comm=comm,
                         pid=child + 100_000, processes=40, events=40_000, events_per_second=8000.0,
                         share=0.99, seconds=5.0)
    kw = {"comm_any": [comm], "environ_key": "NSS_SDB_USE_CACHE", "only": [child]}
    (s,) = find_suspects(HostInspector(host), empty, traced=[runs], **kw)
    assert (s.process.pid, s.process.alive) == (child, True)
    assert (s.environ_pid, s.environ_of, s.environ_checked, s.environ_value) == (parent, "parent", True, None)
    assert f"its parent, pid {parent}" in s.environ_note
    # a single run of a command, with nothing else seen, is checked in itself
    (alone,) = find_suspects(HostInspector(host), empty, **kw)
    assert (alone.environ_pid, alone.environ_of, alone.environ_checked) == (child, "self", True)


@pytest.mark.live
def test_a_suspect_that_has_the_fix_already_is_not_blamed(probe: int, tmp_path: Path) -> None:
    """The NSS rule's environ_ok: a live process that maps libsoftokn3.so but runs with
    NSS_SDB_USE_CACHE=yes is cleared (the dentry cache may grow for another reason), and a
    diagnosis that still matches says why it left it out."""
    from memsleuth.collect.inspect import HostInspector
    from memsleuth.collect.rules import load_rules
    from memsleuth.knowledge.match import MatchContext, _clear_fixed, match
    from tests.knowledge.conftest import detect, founding_roots, history_from_dirs

    machine = HostInspector(Host.open(None))
    rule = {r.id: r for r in builtin_rules()}["nss-negative-dentries"]
    empty = History(hostname=None, kernel_release=None, series={})
    found = find_suspects(machine, empty, maps_any=["libsoftokn3.so*"], environ_key="NSS_SDB_USE_CACHE",
                          only=[probe])
    blamed, cleared = _clear_fixed(found, rule.attribution.environ_ok)
    assert ([s.process.pid for s in blamed], [s.process.pid for s in cleared]) == ([], [probe])
    # through the matcher, on a history whose dentry cache grows: never the probe
    history = history_from_dirs(founding_roots(tmp_path))
    ds = match(detect(history), history, MatchContext(rules=load_rules(), machine=machine))
    for d in ds:
        assert probe not in {s.process.pid for s in d.attribution.suspects}, d.rule_id
        if d.rule_id == "nss-negative-dentries":
            assert any(f"pid {probe} " in n and "NSS_SDB_USE_CACHE=yes" in n for n in d.notes), d.notes
