"""``memsleuth diagnose`` plumbing: roots, the store, errors, output (no live growth here).

The founding case as a series: eight copies of the centos6-founding tree
(the detector needs 8 samples), an hour apart, whose dentry cache (and with it SReclaimable and Slab) grows
by 500,000 one-page slabs (1.9 GiB) an hour while MemFree shrinks by as
much.  Live end-to-end detection is in ``tests/live/test_diagnose_e2e.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from memsleuth import Host
from memsleuth.analysis.series import sample_count, trim
from memsleuth.cli.options import parse_duration, parse_since
from memsleuth.collect.history import history_from_roots, history_from_store
from memsleuth.snapshot.capture import capture
from memsleuth.store import Store
from tests.conftest import HOSTS, CliResult

T0 = 1_700_000_000.0
HOUR = 3600.0
#: dentry slabs in the fixture (one page, 20 objects each)
BASE_SLABS = 9_580_000
STEP_SLABS = 500_000
STEP_KB = STEP_SLABS * 4


def _set_meminfo(text: str, key: str, delta_kb: int) -> str:
    def sub(m: re.Match[str]) -> str:
        return f"{key}:{int(m.group(1)) + delta_kb:>{len(m.group(0)) - len(key) - 4}} kB"

    return re.sub(rf"^{re.escape(key)}:\s+(\d+) kB", sub, text, count=1, flags=re.M)


def make_roots(base: Path, n: int = 8, step_slabs: int = STEP_SLABS) -> list[Path]:
    """``n`` founding-case roots an hour apart, the dentry cache growing by ``step_slabs`` each."""
    out = []
    for i in range(n):
        dest = base / f"t{i:02d}"
        shutil.copytree(HOSTS / "centos6-founding", dest)
        grow = i * step_slabs
        kb = grow * 4
        meminfo = (dest / "proc/meminfo").read_text()
        for key, delta in (("SReclaimable", kb), ("Slab", kb), ("MemFree", -kb)):
            meminfo = _set_meminfo(meminfo, key, delta)
        (dest / "proc/meminfo").write_text(meminfo)
        slabs = BASE_SLABS + grow
        slabinfo = (dest / "proc/slabinfo").read_text()
        slabinfo = re.sub(
            r"^dentry .*$",
            f"dentry          {slabs * 20 - 10} {slabs * 20}    192   20    1 : tunables  120   60    8 "
            f": slabdata {slabs} {slabs}      0",
            slabinfo, count=1, flags=re.M,
        )
        (dest / "proc/slabinfo").write_text(slabinfo)
        (dest / "proc/sys/fs/dentry-state").write_text(
            f"{slabs * 20 - 10}\t{slabs * 20 - 400000}\t45\t0\t0\t0\n")
        t = T0 + i * HOUR
        os.utime(dest / "proc/meminfo", (t, t))
        out.append(dest)
    return out


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    return make_roots(tmp_path)


def test_history_from_roots_orders_by_meminfo_mtime(roots: list[Path]) -> None:
    h = history_from_roots(list(reversed(roots)))  # given newest first
    s = h.get("slab.dentry.size_bytes")
    assert s is not None
    assert s.times == tuple(T0 + i * HOUR for i in range(8))
    assert s.values == tuple(float((BASE_SLABS + i * STEP_SLABS) * 4096) for i in range(8))
    recl = h.get("meminfo.SReclaimable")
    assert recl is not None and recl.values[0] == 38506072 * 1024.0
    assert recl.values[7] - recl.values[0] == 7 * STEP_KB * 1024.0
    d = h.get("dentry.nr_dentry")
    assert d is not None and d.values[-1] == (BASE_SLABS + 7 * STEP_SLABS) * 20 - 10
    assert h.mem_total_bytes == 65922868 * 1024
    assert h.kernel_release == "2.6.32-431.el6.x86_64"
    assert h.hostname == "lb-web-017"
    assert h.source == "8 roots"
    assert sample_count(h) == 8
    assert h.start == T0 and h.end == T0 + 7 * HOUR


def test_trim_keeps_the_window(roots: list[Path]) -> None:
    h = trim(history_from_roots(roots), start=T0 + 5 * HOUR + 1)
    assert sample_count(h) == 2
    s = h.get("meminfo.Slab")
    assert s is not None and s.times == (T0 + 6 * HOUR, T0 + 7 * HOUR)


def test_diagnose_roots_names_the_reclaimable_slab(run_cli: Callable[..., CliResult],
                                                   roots: list[Path]) -> None:
    r = run_cli("diagnose", "--json", "--root", *map(str, roots))
    assert r.code == 1, r.err
    doc = r.json()
    assert doc["schema"] == "memsleuth.diagnose/1"
    assert doc["healthy"] is False
    assert doc["window"]["samples"] == 8
    assert doc["window"]["start"] == T0 and doc["window"]["end"] == T0 + 7 * HOUR
    assert doc["window"]["reference_is_now"] is False
    assert doc["host"]["mem_total_bytes"] == 65922868 * 1024
    by_key = {f["series_key"]: f for f in doc["findings"]}
    named = {"meminfo.SReclaimable", "slab.dentry.size_bytes", "dentry.nr_dentry"} & set(by_key)
    assert named, sorted(by_key)
    for key in named:
        f = by_key[key]
        assert f["class"] == "unbounded_cache", f
        assert f["process"] is None
    for key in {"meminfo.SReclaimable", "slab.dentry.size_bytes"} & set(by_key):
        rate = by_key[key]["rate_bytes_per_hour"]
        # 500,000 one-page slabs an hour
        assert rate == pytest.approx(STEP_KB * 1024, rel=0.05)
    for f in doc["findings"]:
        assert not f["series_key"].startswith("meminfo.MemTotal")


def test_diagnose_roots_text(run_cli: Callable[..., CliResult], roots: list[Path],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    r = run_cli("diagnose", "--root", *map(str, roots))
    assert r.code == 1, r.err
    assert "8 samples over 7.0 h" in r.out
    assert "UNBOUNDED CACHE" in r.out
    assert "before the last sample" in r.out or "grew throughout" in r.out
    assert "+1.9Gi/h" in r.out
    assert max(len(line) for line in r.out.splitlines()) <= 80


def test_min_confidence_that_hides_every_finding_says_so(run_cli: Callable[..., CliResult],
                                                         roots: list[Path]) -> None:
    r = run_cli("diagnose", "--min-confidence", "0.99", "--root", *map(str, roots))
    assert r.code == 0, r.err
    assert "1 finding below --min-confidence 0.99" in r.out and "no sustained growth" not in r.out
    doc = run_cli("diagnose", "--json", "--min-confidence", "0.99", "--root", *map(str, roots)).json()
    assert (doc["findings_total"], doc["findings_below_confidence"], doc["healthy"]) == (0, 1, True)


def test_global_root_before_the_command_still_takes_one(run_cli: Callable[..., CliResult],
                                                         roots: list[Path]) -> None:
    # a single root: one sample, an error that says so
    r = run_cli("--root", str(roots[0]), "diagnose")
    assert r.code == 2
    assert "1 sample over 0 s in the window; a trend needs at least 8 samples over 120 s" in r.err
    # other commands keep their single --root
    r = run_cli("--root", str(roots[0]), "status", "--json")
    assert r.code == 0, r.err
    assert r.json()["host"]["hostname"] == (HOSTS / "centos6-founding/proc/sys/kernel/hostname") \
        .read_text().strip()


def test_flat_roots_are_healthy(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    flat = make_roots(tmp_path, step_slabs=0)
    r = run_cli("diagnose", "--root", *map(str, flat))
    assert r.code == 0, r.out + r.err
    assert "no sustained growth found" in r.out
    r = run_cli("diagnose", "--json", "--root", *map(str, flat))
    assert r.code == 0
    assert r.json()["healthy"] is True and r.json()["findings"] == []


def test_errors_exit_2(run_cli: Callable[..., CliResult], roots: list[Path], tmp_path: Path) -> None:
    r = run_cli("diagnose", "--root", str(roots[0]), str(roots[1]))
    assert r.code == 2 and "2 samples" in r.err
    r = run_cli("diagnose", "--root", str(roots[0]), "--watch", "10s")
    assert r.code == 2 and "not --root and --watch" in r.err
    r = run_cli("diagnose", "--watch", "60s", "--interval", "3")
    assert r.code == 2 and "too short: a trend needs at least 8 samples over 120 s" in r.err
    r = run_cli("diagnose", "--root", *map(str, roots[:7]))
    assert r.code == 2 and "7 samples over 21600 s" in r.err
    r = run_cli("diagnose", "--db", str(tmp_path / "nope.db"))
    assert r.code == 2 and "no such store" in r.err
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x17" * 4000)
    r = run_cli("diagnose", "--db", str(bad))
    assert r.code == 2 and "Traceback" not in r.err and "bad.db" in r.err
    same = tmp_path / "same"
    shutil.copytree(roots[0], same)
    os.utime(same / "proc/meminfo", (T0, T0))
    r = run_cli("diagnose", "--root", str(roots[0]), str(same), str(roots[1]))
    assert r.code == 2 and "same capture time" in r.err
    r = run_cli("diagnose", "--limit", "0", "--root", *map(str, roots))
    assert r.code == 2


def test_corrupt_store_exits_2(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert run_cli("record", "--db", str(db), "--count", "3", "--interval", "0.01",
                   "--no-processes").code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE samples SET system = x'00112233'")
    # the series still read; the last snapshot (to name the host) does not decompress
    r = run_cli("diagnose", "--db", str(db))
    assert r.code == 2, r.out
    assert "m.db" in r.err and "Traceback" not in r.err


def _store_from_roots(db: Path, roots: list[Path]) -> None:
    with Store.open(db, create=True) as store:
        for i, root in enumerate(roots):
            snap = capture(Host.open(root))
            store.append(dataclasses.replace(snap, started_at=T0 + i * HOUR, ended_at=T0 + i * HOUR))


def test_store_and_roots_give_the_same_history(roots: list[Path], tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    _store_from_roots(db, roots)
    from_store = history_from_store(db)
    from_roots = history_from_roots(roots)
    assert set(from_store.series) == set(from_roots.series)
    for key, s in from_roots.series.items():
        assert from_store.series[key] == s, key
    assert from_store.mem_total_bytes == from_roots.mem_total_bytes
    assert from_store.hostname == from_roots.hostname
    window = history_from_store(db, start=T0 + 6 * HOUR)
    assert sample_count(window) == 2


def test_diagnose_db_names_the_reclaimable_slab(run_cli: Callable[..., CliResult], roots: list[Path],
                                                tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    _store_from_roots(db, roots)
    r = run_cli("diagnose", "--db", str(db), "--json")
    assert r.code == 1, r.err
    doc = r.json()
    assert doc["window"]["samples"] == 8
    assert doc["host"]["source"] == f"store {db}"
    keys = {f["series_key"] for f in doc["findings"]}
    assert keys & {"meminfo.SReclaimable", "slab.dentry.size_bytes", "dentry.nr_dentry"}, keys
    # --since for a store counts back from now: these samples are from 2023
    r = run_cli("diagnose", "--db", str(db), "--since", "1d")
    assert r.code == 2 and "no samples in the chosen window" in r.err
    # ... and from a date and time: 2023-11-14T23:13:20Z is T0 + 1 h, leaving 7 samples over 6 h
    r = run_cli("diagnose", "--db", str(db), "--since", "2023-11-14T23:13:20+00:00")
    assert r.code == 2 and "7 samples over 21600 s" in r.err
    r = run_cli("diagnose", "--db", str(db), "--since", "2023-11-14T22:13:20+00:00", "--json")
    assert r.code == 1 and r.json()["window"]["samples"] == 8


def test_since_on_roots_counts_back_from_the_last_sample(run_cli: Callable[..., CliResult],
                                                         roots: list[Path]) -> None:
    r = run_cli("diagnose", "--since", "3h", "--root", *map(str, roots))
    assert r.code == 2 and "4 samples over 10800 s" in r.err
    r = run_cli("diagnose", "--since", "7h", "--json", "--root", *map(str, roots))
    assert r.code == 1 and r.json()["window"]["samples"] == 8


@pytest.mark.live
def test_diagnose_db_written_by_record(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert run_cli("record", "--db", str(db), "--count", "8", "--interval", "0.01").code == 0
    r = run_cli("diagnose", "--db", str(db))
    assert r.code == 2 and re.search(r"8 samples over \d+ s", r.err), r.err
    # the same live samples, spread a minute apart (the detector needs two minutes)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE samples SET taken_at = ? + 60.0 * id", (T0,))
    r = run_cli("diagnose", "--db", str(db), "--json", "--limit", "1000")
    assert r.code in (0, 1), r.err
    doc = r.json()
    from memsleuth.store import StoreReader

    with StoreReader.open(db) as reader:
        ids = [s.id for s in reader.samples()]
        n_keys = len(reader.keys())
    assert doc["window"]["samples"] == 8
    assert doc["window"]["start"] == T0 + 60.0 * ids[0] and doc["window"]["end"] == T0 + 60.0 * ids[-1]
    assert doc["window"]["series"] == n_keys
    assert doc["host"]["hostname"] == Host.open(None).meta.hostname
    assert doc["findings_total"] == len(doc["findings"])
    for f in doc["findings"]:
        if f["series_key"].startswith("proc."):
            assert f["process"] is not None and f["process"]["pid"] == int(f["series_key"][5:].split(":")[0])
    r = run_cli("diagnose", "--db", str(db), "--min-confidence", "1.01")
    assert r.code == 2


def test_parse_duration_and_since() -> None:
    assert parse_duration("90") == 90.0
    assert parse_duration("90s") == 90.0
    assert parse_duration("5m") == 300.0
    assert parse_duration("1.5h") == 5400.0
    assert parse_duration("2d") == 172800.0
    assert parse_since("6h") == ("ago", 21600.0)
    kind, t = parse_since("2023-11-14T22:13:20+00:00")
    assert kind == "at" and t == 1_700_000_000.0
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("five minutes")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_since("yesterday")


@pytest.mark.live
def test_history_from_watch_samples_on_schedule_and_names_processes() -> None:
    from memsleuth.collect.history import history_from_watch

    calls: list[tuple[int, int]] = []
    h = history_from_watch(Host.open(None), 1.0, 0.25, on_sample=lambda n, e, s: calls.append((n, e)))
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    total = h.get("meminfo.MemTotal")
    assert total is not None and len(total) == 5
    gaps = [b - a for a, b in zip(total.times, total.times[1:], strict=False)]
    assert all(0.15 < g < 0.6 for g in gaps), gaps
    assert h.source.startswith("watch live host, every 0.25 s for 1 s")
    # the watcher leaves itself out (it grows by what it keeps); its parent is named
    assert not [p for p in h.processes.values() if p.pid == os.getpid()]
    assert not h.keys(f"proc.{os.getpid()}:")
    parent = [p for p in h.processes.values() if p.pid == os.getppid()]
    assert len(parent) == 1
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
        assert parent[0].cmdline == f.read().rstrip(b"\0").replace(b"\0", b" ").decode()
    with open(f"/proc/{os.getppid()}/stat") as f:
        assert parent[0].ppid == int(f.read().rpartition(") ")[2].split()[1])
    assert parent[0].uid == os.getuid()
    with open(f"/proc/{os.getppid()}/cgroup") as f:
        paths = dict(line.rstrip("\n").split(":", 2)[1:] for line in f if line.strip())
    assert parent[0].cgroup == (paths.get("memory") or paths.get(""))
    own = h.get(f"proc.{parent[0].identity}.threads")
    assert own is not None and len(own) == 5 and own.values[-1] >= 1


def test_projection_and_rate_text() -> None:
    from memsleuth.analysis.findings import Projection
    from memsleuth.views.findings import fmt_duration, fmt_projection

    assert fmt_projection(Projection(threshold="80%", hours=1.27, hours_low=1.27, hours_high=1.27)) \
        == "80% in 76 min"
    assert fmt_projection(Projection(threshold="90%", hours=3.0, hours_low=2.0, hours_high=None,
                                     basis="legacy_used")) == "90% legacy used in 3.0 h (2.0 h-never)"
    assert fmt_projection(Projection(threshold="oom", hours=None)) == "OOM: not on this trend"
    assert fmt_projection(Projection(threshold="80%", hours=0.0, hours_low=0.0, hours_high=0.0)) \
        == "80%: already crossed"
    assert [fmt_duration(s) for s in (45, 720, 3.5 * 3600, 3 * 86400)] == ["45 s", "12 min", "3.5 h", "3.0 d"]


# -- no store: now, then the trend; Ctrl-C during a watch --------------------------------------

SRC = Path(__file__).resolve().parents[2] / "src"


def _no_store_diagnose(tmp_path: Path, *args: str, stderr: int | None = None) -> subprocess.Popen[str]:
    """``memsleuth diagnose ARGS`` as a user runs it, on a host whose default store does not exist."""
    code = ("import sys, memsleuth.cli.commands.record as r\n"
            f"r.DEFAULT_DB = {str(tmp_path / 'no-store.db')!r}\n"
            "from memsleuth.cli.main import main\n"
            "raise SystemExit(main(sys.argv[1:]))\n")
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "100"}
    env.pop("TTY_COMPATIBLE", None)
    return subprocess.Popen([sys.executable, "-c", code, "diagnose", *args], stdout=subprocess.PIPE,
                            stderr=stderr if stderr is not None else subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)


def _read_until(stream: IO[str], text: str, timeout: float = 30.0) -> str:
    """Read the pipe's raw fd (a text wrapper's buffer would hide lines from select)."""
    got = b""
    end = time.monotonic() + timeout
    while text.encode() not in got and time.monotonic() < end:
        ready, _, _ = select.select([stream.fileno()], [], [], 0.2)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            got += chunk
    return got.decode()


@pytest.mark.live
def test_no_store_answers_now_then_ctrl_c_says_how_many_samples(tmp_path: Path) -> None:
    p = _no_store_diagnose(tmp_path, "--interval", "0.5")
    try:
        assert p.stdout is not None and p.stderr is not None
        out = _read_until(p.stdout, "large: ")
        assert "no store at" in out and "now (one snapshot)" in out
        time.sleep(2.0)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 2, err
    assert "Traceback" not in err
    m = re.search(r"stopped by Ctrl-C after (\d+) samples?: .*a trend needs at least 8 samples over 120 s",
                  err)
    assert m is not None, err
    assert 2 <= int(m.group(1)) <= 8
    assert "\r" not in err  # piped stderr: no progress line


def test_first_ctrl_c_stops_the_watch_the_second_aborts() -> None:
    """The watch's SIGINT handler: the first sets the stop event (the samples taken are diagnosed),
    the second raises KeyboardInterrupt (main exits 130); the old handler is back after."""
    import threading

    from memsleuth.cli.env import Env
    from memsleuth.cli.interrupt import first_interrupt_stops

    stop = threading.Event()
    before = signal.getsignal(signal.SIGINT)
    env = Env(argparse.Namespace())
    with first_interrupt_stops(stop, env.stderr, enabled=True):
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(2.0)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.live
def test_watch_progress_on_a_terminal_stderr(tmp_path: Path) -> None:
    import pty

    master, slave = pty.openpty()
    p = _no_store_diagnose(tmp_path, "--interval", "0.5", stderr=slave)
    os.close(slave)
    err = b""
    try:
        end = time.monotonic() + 30
        while b"sample 3 of" not in err and time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                err += os.read(master, 4096)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    assert b"\rmemsleuth: watching the live host every 0.5 s: sample 3 of 241" in err, err
    assert b"left (Ctrl-C: diagnose what was taken)" in err


@pytest.fixture(scope="module")
def two_minute_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """The three runs that need the detector's two minutes, started together (one wait, not three):
    the no-store answer as text and as JSON, and a 10-minute watch stopped by Ctrl-C at 128 s."""
    import threading

    base = tmp_path_factory.mktemp("two-minute-runs")
    procs = {
        "text": _no_store_diagnose(base / "text", "--interval", "15"),
        "json": _no_store_diagnose(base / "json", "--interval", "15", "--json"),
        "ctrl_c": _no_store_diagnose(base / "ctrl_c", "--watch", "10m", "--interval", "5", "--json"),
    }
    timer = threading.Timer(128.0, procs["ctrl_c"].send_signal, args=(signal.SIGINT,))
    timer.start()
    out: dict[str, tuple[int, str, str]] = {}
    try:
        for name, p in procs.items():
            stdout, stderr = p.communicate(timeout=300)
            out[name] = (p.returncode, stdout, stderr)
    finally:
        timer.cancel()
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    return out


@pytest.mark.live
def test_no_store_diagnose_prints_now_then_the_two_minute_trend(
        two_minute_runs: dict[str, tuple[int, str, str]]) -> None:
    """The whole no-store answer (2 minutes): both parts, labelled, and a meaningful exit status."""
    code, out, err = two_minute_runs["text"]
    assert code in (0, 1), err
    assert out.index("now (one snapshot)") < out.index("trend (2 min watch)")
    assert "Traceback" not in err


@pytest.mark.live
def test_no_store_diagnose_json_has_both_parts(two_minute_runs: dict[str, tuple[int, str, str]]) -> None:
    """2 minutes: one document, the snapshot's judgement under "now"."""
    code, doc_out, _ = two_minute_runs["json"]
    doc = json.loads(doc_out)
    assert doc["now"]["observations"] is not None and doc["no_store"].startswith("no store at")
    assert doc["window"]["samples"] == 9 and doc["interrupted"] is False
    assert code == (1 if doc["now"]["suspicious"] or not doc["healthy"] else 0)


@pytest.mark.live
def test_ctrl_c_after_enough_samples_diagnoses_them(two_minute_runs: dict[str, tuple[int, str, str]]) -> None:
    code, out, err = two_minute_runs["ctrl_c"]
    assert code in (0, 1), err
    doc = json.loads(out)
    assert doc["interrupted"] is True
    assert 25 <= doc["window"]["samples"] <= 28
