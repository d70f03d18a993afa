"""Read a store: one metric over time, one moment as a full Snapshot, the sample list.

Series and processes are stored as runs (:mod:`memsleuth.store.format`);
the reader hands them back one value per sample, so a caller never sees the
difference: a value is carried to every sample its run covers.

Every SQLite or decoding failure becomes a :class:`~memsleuth.errors.StoreError`
naming the file, so a damaged store gives a sentence and exit status 2,
never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

from memsleuth.errors import StoreError
from memsleuth.host import HostMeta
from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.store import compat
from memsleuth.store.format import (
    LISTINGS_ENTRY,
    MISSING_ENTRY,
    PRAGMAS,
    decompress,
    decompress_delta,
    unpack,
)
from memsleuth.store.runs import Timeline

Value = int | float

#: sqlite's default busy handler: wait this long for the recorder's write lock.
_BUSY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleInfo:
    """One stored sample, without its data."""

    id: int
    taken_at: float
    monotonic_seconds: float | None
    boot_id: str | None
    hostname: str | None
    kernel_release: str | None
    duration_seconds: float
    #: the raw files are still stored (False once thinned: the series remain)
    has_raw: bool


_SAMPLE_COLUMNS = (
    "id, taken_at, monotonic_seconds, boot_id, hostname, kernel_release, duration_seconds, "
    "length(system) > 0"
)


def _sample_info(r: tuple[object, ...]) -> SampleInfo:
    return SampleInfo(
        id=r[0], taken_at=r[1], monotonic_seconds=r[2], boot_id=r[3], hostname=r[4],  # type: ignore[arg-type]
        kernel_release=r[5], duration_seconds=r[6], has_raw=bool(r[7]),  # type: ignore[arg-type]
    )


@contextlib.contextmanager
def db_errors(path: str) -> Iterator[None]:
    """Turn SQLite and decoding failures into :class:`StoreError`."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: store is damaged or unreadable ({exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:  # zlib.error is not a ValueError
        raise StoreError(f"{path}: a stored sample does not decode ({exc})") from None
    except Exception as exc:
        if exc.__class__.__name__ == "error" and exc.__class__.__module__ == "zlib":
            raise StoreError(f"{path}: a stored sample does not decompress ({exc})") from None
        raise


class StoreReader:
    """A store opened for reading (the writer, :class:`~memsleuth.store.writer.Store`, extends it)."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        #: (PRAGMA data_version, timeline) - rebuilt when another connection wrote
        self._timeline: tuple[int, Timeline] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = False) -> StoreReader:
        return cls(_connect(os.fspath(path), create=create, writable=False), os.fspath(path))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- by series -----------------------------------------------------------
    def keys(self, prefix: str = "") -> list[str]:
        """Series keys starting with ``prefix``, sorted."""
        with db_errors(self.path):
            if not prefix:
                rows = self._conn.execute("SELECT key FROM series_keys ORDER BY key")
            else:
                rows = self._conn.execute(
                    "SELECT key FROM series_keys WHERE key >= ? AND key < ? ORDER BY key",
                    (prefix, prefix + "\U0010ffff"),
                )
            return [r[0] for r in rows]

    def series(
        self, key: str, start: float | None = None, end: float | None = None
    ) -> list[tuple[float, Value]]:
        """``(taken_at, value)`` of one series, in time order, within ``[start, end]``.

        Samples where the series was absent (the process had not started,
        the file was missing) are simply not in the list.
        """
        lo = float("-inf") if start is None else start
        hi = float("inf") if end is None else end
        with db_errors(self.path):
            row = self._conn.execute("SELECT id FROM series_keys WHERE key = ?", (key,)).fetchone()
            if row is None:
                return []
            timeline = self._samples_timeline()
            positions = timeline.window(lo, hi)
            if not positions:
                return []
            first_id, last_id = timeline.id_range(positions)
            # runs ending after the window's first sample, up to the one covering its last
            runs = self._conn.execute(
                "SELECT first_sample_id, until_sample_id, value FROM point_runs WHERE key_id = ?1 "
                "AND until_sample_id > ?2 AND until_sample_id <= coalesce((SELECT min(until_sample_id) "
                "FROM point_runs WHERE key_id = ?1 AND until_sample_id > ?3), ?3) "
                "AND first_sample_id <= ?3 ORDER BY until_sample_id",
                (row[0], first_id, last_id),
            )
            return timeline.expand(runs, positions)

    def _samples_timeline(self) -> Timeline:
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        cached = self._timeline
        if cached is not None and cached[0] == version:
            return cached[1]
        ids: list[int] = []
        times: list[float] = []
        for sid, t in self._conn.execute("SELECT id, taken_at FROM samples ORDER BY id"):
            ids.append(sid)
            times.append(t)
        timeline = Timeline(ids, times)
        self._timeline = (version, timeline)
        return timeline

    def _forget_timeline(self) -> None:
        """After this connection wrote (``data_version`` only counts other connections' writes)."""
        self._timeline = None

    # -- by time ---------------------------------------------------------------
    def samples(self, start: float | None = None, end: float | None = None) -> list[SampleInfo]:
        lo = float("-inf") if start is None else start
        hi = float("inf") if end is None else end
        with db_errors(self.path):
            rows = self._conn.execute(
                f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE taken_at BETWEEN ? AND ? "
                "ORDER BY taken_at, id",
                (lo, hi),
            )
            return [_sample_info(r) for r in rows]

    def values_at(self, sample_id: int) -> dict[str, Value]:
        """Every series value of one sample."""
        with db_errors(self.path):
            # per series, the first run ending after the sample covers it if it started by then;
            # CROSS JOIN: series by series (one seek each), never a scan of every run
            rows = self._conn.execute(
                "SELECT k.key, r.value FROM series_keys k CROSS JOIN point_runs r ON r.key_id = k.id "
                "AND r.until_sample_id = (SELECT min(until_sample_id) FROM point_runs "
                "WHERE key_id = k.id AND until_sample_id > ?1) "
                "WHERE r.first_sample_id <= ?1 AND EXISTS (SELECT 1 FROM samples WHERE id = ?1)",
                (sample_id,),
            )
            return {k: v for k, v in rows}

    def sample_at(self, t: float, *, raw: bool = False) -> SampleInfo | None:
        """The last sample taken at or before ``t`` (with ``raw``: the last that still has its raw files)."""
        with db_errors(self.path):
            r = self._conn.execute(
                f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE taken_at <= ? "
                f"{'AND length(system) > 0 ' if raw else ''}ORDER BY taken_at DESC, id DESC LIMIT 1",
                (t,),
            ).fetchone()
        return None if r is None else _sample_info(r)

    def snapshot_at(self, t: float) -> Snapshot:
        """The Snapshot stored at or just before ``t``, rebuilt from its raw bytes.

        Samples whose raw files were thinned are skipped: this is the last
        sample at or before ``t`` that can still be rebuilt.
        """
        info = self.sample_at(t, raw=True)
        if info is None:
            raise StoreError(f"{self.path}: no sample at or before {t:.0f} with its raw files")
        return self.snapshot(info.id)

    def snapshot(self, sample_id: int) -> Snapshot:
        """Sample ``sample_id`` as the Snapshot it was written from."""
        with db_errors(self.path):
            row = self._conn.execute(
                "SELECT taken_at, duration_seconds, host_meta, processes_walked, "
                "processes_vanished, system FROM samples WHERE id = ?",
                (sample_id,),
            ).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no sample {sample_id}")
            taken_at, duration, host_meta, walked, vanished, system = row
            if not system:
                raise StoreError(
                    f"{self.path}: the raw files of sample {sample_id} were thinned (its series remain; "
                    "downsampled samples keep theirs)"
                )
            files: dict[str, bytes] = {}
            listings: dict[str, dict[str, str | None]] = {}
            missing: dict[str, str] = {}
            for name, data in unpack(decompress(system)):
                if name == LISTINGS_ENTRY:
                    listings = json.loads(data)
                elif name == MISSING_ENTRY:
                    missing = json.loads(data)
                else:
                    files[name] = data
            meta = json.loads(host_meta)
            processes = []
            for pid, start, ppid, comm, state, kthread, unreadable, data, base in self._conn.execute(
                # +pid: find the runs by where they end (the index), then sort
                "SELECT r.pid, r.starttime_ticks, r.ppid, r.comm, r.state, r.kernel_thread, r.unreadable, "
                "r.data, b.data FROM process_runs r LEFT JOIN process_bases b "
                "ON b.pid = r.pid AND b.starttime_ticks = r.starttime_ticks "
                "WHERE r.until_sample_id > ?1 AND r.first_sample_id <= ?1 ORDER BY +r.pid",
                (sample_id,),
            ):
                if base is None:
                    raise StoreError(f"{self.path}: sample {sample_id}: process {pid} has no base files")
                pfiles = dict(unpack(decompress_delta(data, decompress(base))))
                processes.append(
                    ProcessSample(
                        pid=pid, starttime_ticks=start, ppid=ppid, comm=comm, state=state,
                        kernel_thread=bool(kthread), files=pfiles,
                        unreadable=json.loads(unreadable) if unreadable else {},
                    )
                )
        return Snapshot(
            meta=HostMeta(
                hostname=meta.get("hostname"),
                kernel_release=meta.get("kernel_release"),
                kernel_version=meta.get("kernel_version"),
                boot_id=meta.get("boot_id"),
                page_size_bytes=int(meta["page_size_bytes"]),
                clock_ticks_per_second=int(meta["clock_ticks_per_second"]),
                captured_at=taken_at,
                root_access=meta.get("root_access"),
            ),
            started_at=taken_at,
            ended_at=taken_at + duration,
            files=files,
            listings=listings,
            missing=missing,
            processes=tuple(processes),
            processes_walked=bool(walked),
            processes_vanished=vanished,
        )

    def count(self) -> int:
        with db_errors(self.path):
            return int(self._conn.execute("SELECT count(*) FROM samples").fetchone()[0])


def _connect(path: str, *, create: bool, writable: bool) -> sqlite3.Connection:
    if not create and not os.path.exists(path):
        raise StoreError(f"{path}: no such store (run 'memsleuth record --db {path}' to start one)")
    if os.path.isdir(path):
        raise StoreError(f"{path}: is a directory, not a store file")
    try:
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open store ({exc})") from None
    try:
        with db_errors(path):
            compat.check(conn, path, create=create, writable=writable or create)
            for pragma in PRAGMAS:
                conn.execute(pragma)
    except BaseException:
        conn.close()
        raise
    return conn


__all__ = ["SampleInfo", "StoreReader", "db_errors"]
