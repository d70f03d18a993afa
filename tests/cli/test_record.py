"""``memsleuth record``: crash safety under kill -9, clean SIGTERM, errors, the schedule."""

from __future__ import annotations

import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth.cli.commands.record import record_loop
from memsleuth.snapshot.schedule import Schedule
from memsleuth.store import StoreReader
from tests.conftest import CliResult

pytestmark = pytest.mark.live


def _start(db: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "memsleuth", "record", "--db", str(db), "--interval", "0.2", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with StoreReader.open(db) as reader:
            return reader.count()
    except Exception:
        return 0  # not initialised yet


def test_kill_9_loses_at_most_the_sample_in_flight(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    rng = random.Random(4)
    total_before = 0
    for _ in range(5):
        proc = _start(db)
        try:
            deadline = time.monotonic() + 20
            while _count(db) < total_before + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.6))  # land anywhere, including mid-write
            seen = _count(db)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=20)
        assert proc.returncode == -signal.SIGKILL
        with StoreReader.open(db) as reader:
            after = reader.count()
            assert after >= seen > total_before
            series = reader.series("meminfo.MemTotal")
            assert len(series) == after
            reader.snapshot(reader.samples()[-1].id)
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total_before = after


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_and_exits_0(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "m.db"
    proc = _start(db)
    deadline = time.monotonic() + 20
    while _count(db) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert b"recorded" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _count(db) >= 2


def test_count_and_default_permissions(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    db = tmp_path / "new" / "dir" / "m.db"
    res = run_cli("record", "--db", str(db), "--count", "2", "--interval", "0.01")
    assert res.code == 0, res.err
    assert (db.parent.stat().st_mode & 0o777) == 0o700
    assert (db.stat().st_mode & 0o777) == 0o600
    assert _count(db) == 2


def test_processes_coming_and_going(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    db = tmp_path / "m.db"
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            subprocess.run(["true"], check=False)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        res = run_cli("record", "--db", str(db), "--count", "10", "--interval", "0.01")
    finally:
        stop.set()
        worker.join()
    assert res.code == 0, res.err
    assert _count(db) == 10


def test_corrupt_store_exits_2(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    db = tmp_path / "m.db"
    db.write_bytes(os.urandom(8192))
    res = run_cli("record", "--db", str(db), "--count", "1")
    assert res.code == 2
    assert "not a memsleuth store" in res.err
    assert "Traceback" not in res.err


def test_negative_raw_retention_is_a_usage_error(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("record", "--db", str(tmp_path / "m.db"), "--count", "1", "--raw-hours", "-1")
    assert res.code == 2 and "--raw-hours" in res.err
    assert not (tmp_path / "m.db").exists()


def test_newer_schema_exits_2(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    db = tmp_path / "m.db"
    assert run_cli("record", "--db", str(db), "--count", "1", "--interval", "0.01").code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version=99")
    res = run_cli("record", "--db", str(db), "--count", "1")
    assert res.code == 2
    assert "newer than this memsleuth" in res.err


def test_schedule_uses_the_monotonic_clock_and_skips_missed_slots() -> None:
    s = Schedule(start=100.0, interval=10.0)
    assert s.next_wait(100.5) == pytest.approx(9.5)
    assert s.next_wait(110.2) == pytest.approx(9.8)
    # a 35 s stall (slow disk, suspend): resume at the next slot, no burst
    assert s.next_wait(155.0) == pytest.approx(5.0)
    assert s.next_wait(160.0) == pytest.approx(10.0)


def test_loop_ignores_wall_clock_and_stops_on_request() -> None:
    ticks = itertools.count()
    clock = (5.0 * t for t in ticks)  # the only clock the loop reads
    written: list[float] = []
    stop = threading.Event()

    def append(mono: float) -> int:
        written.append(mono)
        if len(written) == 3:
            stop.set()
        return len(written)

    n = record_loop(append=append, retain=lambda: None, interval=0.0, count=None, stop=stop,
                    monotonic=lambda: next(clock))
    assert n == 3
    assert written == [5.0, 15.0, 25.0]
