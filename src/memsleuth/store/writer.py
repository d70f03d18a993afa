"""Append snapshots to a store, and keep it bounded (retention, downsampling, raw thinning).

Each :meth:`Store.append` is one transaction (see the crash-safety note in
:mod:`memsleuth.store.format`): it writes the sample, opens runs for what
is new or changed and closes runs for what changed or went.  The open runs
are mirrored in memory and only updated after ``COMMIT``; if another writer
appended in between, they are read again from the file.  ``/proc/PID/environ``
is never stored, even if a snapshot carries it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from memsleuth.snapshot.model import Snapshot
from memsleuth.store.extract import Point, Value, process_points, system_points
from memsleuth.store.format import (
    LISTINGS_ENTRY,
    MISSING_ENTRY,
    OPEN,
    compress,
    compress_delta,
    decompress,
    decompress_delta,
    pack,
    transaction,
    unpack,
)
from memsleuth.store.reader import StoreReader, _connect, db_errors
from memsleuth.store.runs import step

_FORBIDDEN = frozenset({"environ"})
_CHUNK = 500

#: a process: (pid, starttime_ticks)
Identity = tuple[int, int]
#: what makes a process run: ppid, comm, state, kernel_thread, unreadable, its files
ProcessRow = tuple[int, str, str, int, Mapping[str, str], Mapping[str, bytes]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """How long samples live.

    Every sample is kept for ``full_resolution_hours``; after that, one per
    ``downsample_seconds`` (the first of each slot) is kept until
    ``keep_days``; older samples are deleted.  Raw files (system files,
    processes and their files) are kept with every sample for
    ``raw_full_resolution_hours`` only (at most ``full_resolution_hours``);
    after that one sample per ``raw_downsample_seconds`` keeps them (the
    first of each slot, which downsampling then keeps), and the others keep
    their series.  The defaults bound the store at about 0.3 GiB with 1,000
    processes (bench/RECORD.md).
    """

    full_resolution_hours: float = 48.0
    downsample_seconds: float = 600.0
    keep_days: float = 30.0
    raw_full_resolution_hours: float = 6.0
    raw_downsample_seconds: float = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionResult:
    deleted_samples: int
    thinned_samples: int
    deleted_processes: int
    deleted_keys: int


class Store(StoreReader):
    """A store opened for writing (and reading)."""

    def __init__(self, conn: object, path: str) -> None:
        super().__init__(conn, path)  # type: ignore[arg-type]
        self._key_ids: dict[str, int] | None = None
        #: the open runs as of sample ``_last_id``: key -> (first sample id, value)
        self._last_id: int | None = None
        self._open_points: dict[str, tuple[int, Value]] = {}
        self._open_processes: dict[Identity, tuple[int, ProcessRow]] = {}
        #: the base files of the processes with an open run
        self._bases: dict[Identity, bytes] = {}
        #: each process of the last sample: its files and their series (unchanged files, same series)
        self._seen: dict[Identity, tuple[Mapping[str, bytes], list[Point]]] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = False) -> Store:
        return cls(_connect(os.fspath(path), create=create, writable=True), os.fspath(path))

    # -- append --------------------------------------------------------------
    def append(self, snap: Snapshot, *, monotonic_seconds: float | None = None) -> int:
        """Store ``snap``; return its sample id."""
        points: dict[str, Value] = dict(system_points(snap))
        system = compress(pack(_system_entries(snap)))
        # an idle process prints the same bytes: compare them with the last sample's and reuse
        # its series, rather than scan, pack and compress them again
        seen: dict[Identity, tuple[Mapping[str, bytes], list[Point]]] = {}
        rows: dict[Identity, ProcessRow] = {}
        for p in snap.processes:
            ident = (p.pid, p.starttime_ticks)
            files = p.files if not _FORBIDDEN.intersection(p.files) else {
                n: b for n, b in p.files.items() if n not in _FORBIDDEN
            }
            before = self._seen.get(ident)
            if before is not None and before[0] == files:
                files, proc_points = before
            else:
                proc_points = list(process_points(p))
            seen[ident] = (files, proc_points)
            points.update(proc_points)
            rows[ident] = (p.ppid, p.comm, p.state, int(p.kernel_thread), p.unreadable, files)
        m = snap.meta
        host_meta = json.dumps(
            {
                "hostname": m.hostname, "kernel_release": m.kernel_release,
                "kernel_version": m.kernel_version, "boot_id": m.boot_id,
                "page_size_bytes": m.page_size_bytes,
                "clock_ticks_per_second": m.clock_ticks_per_second, "root_access": m.root_access,
            },
            sort_keys=True,
        )
        conn = self._conn
        with db_errors(self.path):
            new_keys: dict[str, int] = {}
            with transaction(conn):
                newest = conn.execute("SELECT max(id) FROM samples").fetchone()[0]
                if newest != self._last_id:  # first append, or another writer appended
                    self._key_ids = None
                    open_points, open_processes, bases = self._read_open_runs()
                else:
                    open_points, open_processes, bases = self._open_points, self._open_processes, self._bases
                key_ids = self._load_keys()
                cur = conn.execute(
                    "INSERT INTO samples(taken_at, monotonic_seconds, boot_id, hostname, kernel_release, "
                    "duration_seconds, page_size_bytes, clock_ticks_per_second, host_meta, "
                    "processes_walked, processes_vanished, system) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        snap.started_at, monotonic_seconds, m.boot_id, m.hostname, m.kernel_release,
                        snap.duration_seconds, m.page_size_bytes, m.clock_ticks_per_second, host_meta,
                        int(snap.processes_walked), snap.processes_vanished, system,
                    ),
                )
                sample_id = int(cur.lastrowid or 0)

                procs = step(open_processes, rows, sample_id)
                conn.executemany(
                    "UPDATE process_runs SET until_sample_id = ? "
                    "WHERE pid = ? AND starttime_ticks = ? AND first_sample_id = ?",
                    [(sample_id, pid, start, first) for (pid, start), first in procs.closed],
                )
                new_bases = {ident: bases[ident] for ident in procs.open if ident in bases}
                opened = []
                for ident, (ppid, comm, state, kthread, unreadable, files) in procs.opened:
                    raw = _container(files)
                    base = new_bases.get(ident)
                    if base is None:
                        base = self._base(ident, raw)
                        new_bases[ident] = base
                    opened.append((
                        *ident, sample_id, OPEN, ppid, comm, state, kthread,
                        json.dumps(dict(unreadable), sort_keys=True) if unreadable else None,
                        compress_delta(raw, base),
                    ))
                conn.executemany(
                    "INSERT INTO process_runs(pid, starttime_ticks, first_sample_id, until_sample_id, ppid, "
                    "comm, state, kernel_thread, unreadable, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    opened,
                )

                series = step(open_points, points, sample_id)
                for key, _ in series.opened:
                    if key not in key_ids and key not in new_keys:
                        cur = conn.execute("INSERT INTO series_keys(key) VALUES (?)", (key,))
                        new_keys[key] = int(cur.lastrowid or 0)
                conn.executemany(
                    "UPDATE point_runs SET until_sample_id = ? "
                    f"WHERE key_id = ? AND until_sample_id = {OPEN}",
                    [(sample_id, key_ids[k]) for k, _ in series.closed],
                )
                conn.executemany(
                    f"INSERT INTO point_runs(key_id, until_sample_id, first_sample_id, value) "
                    f"VALUES (?, {OPEN}, ?, ?)",
                    [(key_ids.get(k) or new_keys[k], sample_id, v) for k, v in series.opened],
                )
        # only after COMMIT: a rolled-back id must never be reused from a cache
        key_ids.update(new_keys)
        self._open_points = series.open
        self._open_processes = procs.open
        self._bases = new_bases
        self._seen = seen
        self._last_id = sample_id
        self._forget_timeline()
        return sample_id

    def _base(self, ident: Identity, raw: bytes) -> bytes:
        """The base files of a process with no open run: stored before (it was seen), else ``raw``."""
        row = self._conn.execute(
            "SELECT data FROM process_bases WHERE pid = ? AND starttime_ticks = ?", ident
        ).fetchone()
        if row is not None:
            return decompress(row[0])
        self._conn.execute(
            "INSERT INTO process_bases(pid, starttime_ticks, data) VALUES (?,?,?)", (*ident, compress(raw))
        )
        return raw

    def _read_open_runs(
        self,
    ) -> tuple[dict[str, tuple[int, Value]], dict[Identity, tuple[int, ProcessRow]], dict[Identity, bytes]]:
        conn = self._conn
        points = {
            key: (first, value)
            for key, first, value in conn.execute(
                # CROSS JOIN: one seek per series, never a scan of every run
                "SELECT k.key, r.first_sample_id, r.value FROM series_keys k "
                f"CROSS JOIN point_runs r ON r.key_id = k.id AND r.until_sample_id = {OPEN}"
            )
        }
        processes: dict[Identity, tuple[int, ProcessRow]] = {}
        bases: dict[Identity, bytes] = {}
        for pid, start, first, ppid, comm, state, kthread, unreadable, data, base in conn.execute(
            "SELECT r.pid, r.starttime_ticks, r.first_sample_id, r.ppid, r.comm, r.state, r.kernel_thread, "
            "r.unreadable, r.data, b.data FROM process_runs r JOIN process_bases b "
            f"ON b.pid = r.pid AND b.starttime_ticks = r.starttime_ticks WHERE r.until_sample_id = {OPEN}"
        ):
            bases[(pid, start)] = raw_base = decompress(base)
            files = dict(unpack(decompress_delta(data, raw_base)))
            processes[(pid, start)] = (
                first, (ppid, comm, state, kthread, json.loads(unreadable) if unreadable else {}, files)
            )
        return points, processes, bases

    def _load_keys(self) -> dict[str, int]:
        if self._key_ids is None:
            self._key_ids = {k: i for i, k in self._conn.execute("SELECT id, key FROM series_keys")}
        return self._key_ids

    # -- retention -----------------------------------------------------------
    def apply_retention(self, now: float, policy: Retention = Retention()) -> RetentionResult:
        """Thin raw files, downsample and delete samples by their age; drop what no sample uses.

        ``now`` is wall-clock time.  The newest sample is never deleted nor
        thinned, so a wall clock set far ahead cannot empty the store.  In
        each downsampling slot the sample kept is the first that still has
        its raw files (the same one raw thinning kept), else the first.
        """
        full_after = now - policy.full_resolution_hours * 3600.0
        raw_after = now - min(policy.raw_full_resolution_hours, policy.full_resolution_hours) * 3600.0
        drop_before = now - policy.keep_days * 86400.0
        slot = policy.downsample_seconds
        conn = self._conn
        with db_errors(self.path):
            newest = conn.execute("SELECT max(id) FROM samples").fetchone()[0]
            old = conn.execute(
                "SELECT id, taken_at, length(system) > 0 FROM samples WHERE taken_at < ? "
                "ORDER BY taken_at, id",
                (raw_after,),
            ).fetchall()
            doomed: list[int] = []
            thinned: list[int] = []
            slots: dict[int, list[tuple[int, float, bool]]] = {}
            for sid, taken, has_raw in old:
                if sid == newest:
                    continue
                if taken < drop_before:
                    doomed.append(sid)
                    continue
                bucket = int(taken // slot) if slot > 0 else sid
                slots.setdefault(bucket, []).append((sid, taken, bool(has_raw)))
            raw_slot = policy.raw_downsample_seconds
            raw_slots: set[int] = set()
            for members in slots.values():
                keeper = next((m for m in members if m[2]), members[0])
                for sid, taken, has_raw in members:
                    if sid != keeper[0] and taken < full_after:
                        doomed.append(sid)
                    elif has_raw:
                        bucket = int(taken // raw_slot) if raw_slot > 0 else sid
                        if bucket in raw_slots:
                            thinned.append(sid)
                        else:
                            raw_slots.add(bucket)
            with transaction(conn):
                for i in range(0, len(doomed), _CHUNK):
                    chunk = doomed[i : i + _CHUNK]
                    conn.execute(f"DELETE FROM samples WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                for i in range(0, len(thinned), _CHUNK):
                    chunk = thinned[i : i + _CHUNK]
                    conn.execute(
                        f"UPDATE samples SET system = x'' WHERE id IN ({','.join('?' * len(chunk))})", chunk
                    )
                keys = _drop_point_runs(conn, doomed)
                processes = _drop_process_runs(conn, doomed + thinned)
        if doomed or thinned:
            self._key_ids = None
            self._forget_timeline()
        return RetentionResult(deleted_samples=len(doomed), thinned_samples=len(thinned),
                               deleted_processes=processes, deleted_keys=keys)

    def checkpoint(self) -> None:
        """Fold the WAL back into the main file (done automatically every ~1000 pages)."""
        with db_errors(self.path):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _drop_point_runs(conn: sqlite3.Connection, affected: list[int]) -> int:
    """Delete the point runs that cover no sample any more, then keys left with no run.

    Such a run covered only samples just deleted, so it ends after the
    first of them and no later than the first sample that remains after
    the last of them (else it would cover that one): one range per series,
    read series by series (CROSS JOIN keeps SQLite from scanning every run).
    """
    if not affected:
        return 0
    lo, hi = min(affected), max(affected)
    after = conn.execute("SELECT min(id) FROM samples WHERE id > ?", (hi,)).fetchone()[0]
    conn.execute("DROP TABLE IF EXISTS temp.gone_runs")
    conn.execute(
        "CREATE TEMP TABLE gone_runs AS SELECT r.key_id, r.until_sample_id FROM series_keys k "
        "CROSS JOIN point_runs r ON r.key_id = k.id AND r.until_sample_id > ? AND r.until_sample_id <= ? "
        "WHERE NOT EXISTS (SELECT 1 FROM samples s "
        "WHERE s.id >= r.first_sample_id AND s.id < r.until_sample_id)",
        (lo, after if after is not None else OPEN - 1),
    )
    conn.execute(
        "DELETE FROM point_runs WHERE (key_id, until_sample_id) IN "
        "(SELECT key_id, until_sample_id FROM temp.gone_runs)"
    )
    keys = conn.execute(
        "DELETE FROM series_keys WHERE id IN (SELECT key_id FROM temp.gone_runs) "
        "AND NOT EXISTS (SELECT 1 FROM point_runs r WHERE r.key_id = series_keys.id)"
    ).rowcount
    conn.execute("DROP TABLE temp.gone_runs")
    return int(keys)


def _drop_process_runs(conn: sqlite3.Connection, affected: list[int]) -> int:
    """Delete the process runs that cover no sample with raw files any more, then unused bases.

    Returns how many processes lost their last run (and their base).
    """
    if not affected:
        return 0
    lo, hi = min(affected), max(affected)
    after = conn.execute(
        "SELECT min(id) FROM samples WHERE id > ? AND length(system) > 0", (hi,)
    ).fetchone()[0]
    conn.execute("DROP TABLE IF EXISTS temp.gone_runs")
    conn.execute(
        "CREATE TEMP TABLE gone_runs AS SELECT pid, starttime_ticks, first_sample_id FROM process_runs r "
        "WHERE r.until_sample_id > ? AND r.until_sample_id <= ? AND NOT EXISTS "
        "(SELECT 1 FROM samples s WHERE s.id >= r.first_sample_id AND s.id < r.until_sample_id "
        "AND length(s.system) > 0)",
        (lo, after if after is not None else OPEN - 1),
    )
    conn.execute(
        "DELETE FROM process_runs WHERE (pid, starttime_ticks, first_sample_id) IN "
        "(SELECT pid, starttime_ticks, first_sample_id FROM temp.gone_runs)"
    )
    gone = conn.execute(
        "DELETE FROM process_bases WHERE (pid, starttime_ticks) IN "
        "(SELECT pid, starttime_ticks FROM temp.gone_runs) AND NOT EXISTS (SELECT 1 FROM process_runs r "
        "WHERE r.pid = process_bases.pid AND r.starttime_ticks = process_bases.starttime_ticks)"
    ).rowcount
    conn.execute("DROP TABLE temp.gone_runs")
    return int(gone)


def _system_entries(snap: Snapshot) -> Iterable[tuple[str, bytes]]:
    for path in sorted(snap.files):
        if path.rsplit("/", 1)[-1] not in _FORBIDDEN:
            yield path, snap.files[path]
    if snap.listings:
        yield LISTINGS_ENTRY, json.dumps(snap.listings, sort_keys=True).encode()
    if snap.missing:
        yield MISSING_ENTRY, json.dumps(dict(snap.missing), sort_keys=True).encode()


def _container(files: Mapping[str, bytes]) -> bytes:
    return pack((n, files[n]) for n in sorted(files))


__all__ = ["Retention", "RetentionResult", "Store"]
