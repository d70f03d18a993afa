"""Round trips through the store, on the live host and on fixed bytes."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth import Host
from memsleuth.errors import SchemaMismatch, StoreError
from memsleuth.snapshot.capture import capture
from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.sources.meminfo import parse_meminfo
from memsleuth.sources.pid_status import parse_pid_status
from memsleuth.store import SCHEMA_VERSION, Store, StoreReader
from memsleuth.store.format import pack, unpack
from tests.conftest import FIXTURES

AtTime = Callable[[float], Snapshot]


@pytest.mark.live
def test_live_round_trip(tmp_path: Path) -> None:
    host = Host.open()
    db = tmp_path / "m.db"
    with Store.open(db, create=True) as store:
        snaps = [capture(host) for _ in range(3)]
        ids = [store.append(s, monotonic_seconds=float(i)) for i, s in enumerate(snaps)]
    assert ids == [1, 2, 3]

    with StoreReader.open(db) as reader:
        total = reader.series("meminfo.MemTotal")
        assert [t for t, _ in total] == [s.started_at for s in snaps]
        expected = snaps[0].require("proc/meminfo", parse_meminfo).mem_total_bytes
        assert {v for _, v in total} == {expected}
        assert reader.keys("dentry.") and "dentry.nr_dentry" in reader.keys("dentry.")
        assert any(k.startswith("slab.") and k.endswith(".size_bytes") for k in reader.keys("slab."))
        mine = next(p for p in snaps[-1].processes if p.pid == os.getpid())
        pss = reader.series(f"proc.{mine.pid}:{mine.starttime_ticks}.pss_bytes")
        assert len(pss) == 3 and all(v > 0 for _, v in pss)
        rss_anon = reader.series(f"proc.{mine.pid}:{mine.starttime_ticks}.rss_anon_bytes")
        status = parse_pid_status(mine.text("status") or "")
        assert rss_anon[-1][1] == status.rss_anon_bytes

        rebuilt = reader.snapshot_at(snaps[1].started_at + 0.0001)
        assert rebuilt.started_at == snaps[1].started_at
        assert rebuilt.files == snaps[1].files
        assert rebuilt.listings == snaps[1].listings
        assert rebuilt.missing == snaps[1].missing
        assert rebuilt.meta == dataclasses.replace(snaps[1].meta, captured_at=snaps[1].started_at)
        assert rebuilt.processes == snaps[1].processes
        assert rebuilt.require("proc/meminfo", parse_meminfo).mem_total_bytes == expected
        values = reader.values_at(ids[1])
        assert values["meminfo.MemTotal"] == expected


def test_environ_is_never_stored(tmp_path: Path, fixture_snapshot: Snapshot) -> None:
    secret = b"AWS_SECRET_ACCESS_KEY=do-not-store\0"
    proc = ProcessSample(pid=42, starttime_ticks=7, ppid=1, comm="x", state="S", kernel_thread=False,
                         files={"stat": b"42 (x) S 1", "environ": secret})
    snap = dataclasses.replace(fixture_snapshot, processes=(proc,),
                               files={**fixture_snapshot.files, "proc/42/environ": secret})
    db = tmp_path / "m.db"
    with Store.open(db, create=True) as store:
        store.append(snap)
        back = store.snapshot(1)
    assert "environ" not in back.processes[0].files
    assert "proc/42/environ" not in back.files
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    assert b"do-not-store" not in db.read_bytes()


def test_idle_process_files_are_stored_once(tmp_path: Path, at_time: AtTime) -> None:
    proc = ProcessSample(pid=42, starttime_ticks=7, ppid=1, comm="idle", state="S", kernel_thread=False,
                         files={"stat": b"42 (idle) S", "status": b"Name:\tidle\nThreads:\t3\n"})
    with Store.open(tmp_path / "m.db", create=True) as store:
        for i in range(5):
            snap = dataclasses.replace(at_time(1000.0 + i), processes=(proc,))
            store.append(snap)
        conn = store._conn
        assert conn.execute("SELECT count(*) FROM process_bases").fetchone()[0] == 1
        assert conn.execute("SELECT count(*), sum(length(data)) FROM process_runs").fetchone() == (1, 0)
        assert store.series("proc.42:7.threads") == [(1000.0 + i, 3) for i in range(5)]
        assert store.snapshot(5).processes == (proc,)


def test_series_window_and_unknown_key(tmp_path: Path, at_time: AtTime) -> None:
    with Store.open(tmp_path / "m.db", create=True) as store:
        for t in (100.0, 200.0, 300.0):
            store.append(at_time(t))
        assert [t for t, _ in store.series("meminfo.MemTotal", 150.0, 300.0)] == [200.0, 300.0]
        assert store.series("meminfo.NoSuchField") == []
        assert store.snapshot_at(250.0).started_at == 200.0
        with pytest.raises(StoreError, match="no sample at or before"):
            store.snapshot_at(50.0)


def test_wall_clock_going_backwards_is_stored_in_order(tmp_path: Path, at_time: AtTime) -> None:
    with Store.open(tmp_path / "m.db", create=True) as store:
        for t, mono in ((1000.0, 1.0), (2000.0, 2.0), (1500.0, 3.0)):  # NTP stepped the clock back
            store.append(at_time(t), monotonic_seconds=mono)
        assert [s.taken_at for s in store.samples()] == [1000.0, 1500.0, 2000.0]
        assert [s.monotonic_seconds for s in store.samples()] == [1.0, 3.0, 2.0]


def test_container_round_trip_and_damage() -> None:
    entries = [("proc/meminfo", b"MemTotal: 1 kB\n"), ("empty", b""), ("bin", bytes(range(256)))]
    assert list(unpack(pack(entries))) == entries
    with pytest.raises(ValueError):
        list(unpack(pack(entries)[:-3]))
    with pytest.raises(ValueError):
        list(unpack(b"XXXX"))


# -- damaged and foreign files ------------------------------------------------

def test_missing_file_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        StoreReader.open(tmp_path / "nope.db")


def test_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite\n" * 300)
    with pytest.raises(StoreError, match="not a memsleuth store"):
        StoreReader.open(bad)


def test_foreign_sqlite_is_a_store_error(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a memsleuth store"):
        Store.open(other, create=True)


def test_newer_schema_is_schema_mismatch(tmp_path: Path, at_time: AtTime) -> None:
    db = tmp_path / "m.db"
    with Store.open(db, create=True) as store:
        store.append(at_time(1.0))
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaMismatch, match="newer than this memsleuth"):
        StoreReader.open(db)


def test_damaged_pages_are_a_store_error(tmp_path: Path, at_time: AtTime) -> None:
    db = tmp_path / "m.db"
    with Store.open(db, create=True) as store:
        for t in range(20):
            store.append(at_time(float(t)))
        store.checkpoint()
    data = bytearray(db.read_bytes())
    page = 4096
    for off in range(2 * page, len(data), page):  # keep the header page, scribble over the rest
        data[off : off + 64] = b"\xff" * 64
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        reader = StoreReader.open(db)
        for s in reader.samples():
            reader.snapshot(s.id)
        reader.series("meminfo.MemTotal")


def test_v1_fixture_is_upgraded_by_a_writer(tmp_path: Path) -> None:
    # copies: even a read-only SQLite open of a WAL file may leave -wal/-shm files next to it
    original = FIXTURES / "store" / "v1-linux-6.18.db"
    before = original.read_bytes()
    (tmp_path / "read").mkdir()
    untouched = tmp_path / "read" / "v1.db"
    untouched.write_bytes(before)
    with pytest.raises(SchemaMismatch, match="open it once with 'memsleuth record'"):
        StoreReader.open(untouched)
    with sqlite3.connect(untouched) as old:
        v1_points = old.execute(
            "SELECT k.key, s.taken_at, p.value FROM points p JOIN series_keys k ON k.id = p.key_id "
            "JOIN samples s ON s.id = p.sample_id ORDER BY k.key, s.taken_at"
        ).fetchall()
        v1_procs = old.execute(
            "SELECT sample_id, pid, starttime_ticks, comm FROM processes ORDER BY sample_id, pid"
        ).fetchall()
    assert untouched.read_bytes() == before  # a reader never upgrades

    copy = tmp_path / "v1.db"
    copy.write_bytes(before)
    Store.open(copy).close()  # a writer upgrades in place
    with StoreReader.open(copy) as reader:
        assert [s.taken_at for s in reader.samples()] == [1760000000.0, 1760000010.0]
        total = reader.series("meminfo.MemTotal")
        assert len(total) == 2 and total[0][1] > 0
        snap = reader.snapshot_at(1760000005.0)
        assert snap.meta.kernel_release == "6.18.44-fc-v669"
        assert snap.require("proc/meminfo", parse_meminfo).mem_total_bytes == total[0][1]
        pid1 = snap.process(1)
        assert pid1 is not None and "smaps_rollup" in pid1.unreadable
        assert any(k.endswith(".pss_bytes") for k in reader.keys("proc."))
        # every v1 point and process row reads back the same from the runs
        keys = reader.keys()
        upgraded = [(k, t, v) for k in keys for t, v in reader.series(k)]
        assert sorted(upgraded) == sorted(v1_points)
        procs = [(s.id, p.pid, p.starttime_ticks, p.comm) for s in reader.samples()
                 for p in reader.snapshot(s.id).processes]
        assert procs == v1_procs
    with sqlite3.connect(copy) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert {"point_runs", "process_runs"} <= tables and not tables & {"points", "processes"}
    # idle values became runs: far fewer rows than v1's one per sample
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM point_runs").fetchone()[0] < len(v1_points) * 0.75


def test_v2_fixture_opens(tmp_path: Path) -> None:
    copy = tmp_path / "v2.db"  # a copy: opening a WAL file may leave -wal/-shm files next to it
    copy.write_bytes((FIXTURES / "store" / "v2-linux-6.18.db").read_bytes())
    with StoreReader.open(copy) as reader:
        infos = reader.samples()
        assert [s.taken_at for s in infos] == [1770000000.0, 1770000010.0, 1770000020.0]
        assert [s.has_raw for s in infos] == [True, False, True]
        total = reader.series("meminfo.MemTotal")
        assert [t for t, _ in total] == [s.taken_at for s in infos] and total[0][1] > 0
        first, last = reader.snapshot(infos[0].id), reader.snapshot(infos[2].id)
        assert first.meta.kernel_release == "6.18.44-fc-v1147"
        assert first.require("proc/meminfo", parse_meminfo).mem_total_bytes == total[0][1]
        assert [p.pid for p in last.processes] == [1]
        assert "smaps_rollup" in last.processes[0].unreadable
        sleep = next(p for p in first.processes if p.comm == "sleep")
        threads = reader.series(f"proc.{sleep.pid}:{sleep.starttime_ticks}.threads")
        assert threads == [(1770000000.0, 1), (1770000010.0, 1)]  # it exited before the third
        with pytest.raises(StoreError, match="thinned"):
            reader.snapshot(infos[1].id)
        assert reader.values_at(infos[1].id)["meminfo.MemTotal"] == total[1][1]


def test_reader_sees_writes_while_writer_is_open(tmp_path: Path, at_time: AtTime) -> None:
    db = tmp_path / "m.db"
    with Store.open(db, create=True) as store:
        store.append(at_time(1.0))
        with StoreReader.open(db) as reader:
            assert reader.count() == 1
            store.append(at_time(2.0))
            assert reader.count() == 2

