"""The only module that knows which store versions exist and how to open them.

A store file says what it is with ``PRAGMA application_id``
(:data:`~memsleuth.store.format.APPLICATION_ID`) and which schema it has with
``PRAGMA user_version``.  :func:`check` turns every other case into a
:class:`~memsleuth.errors.StoreError` with a sentence a user can act on:

* not SQLite, or a damaged header -> ``StoreError`` ("not a memsleuth store");
* another program's SQLite file -> ``StoreError`` ("foreign");
* a newer schema -> :class:`~memsleuth.errors.SchemaMismatch` ("upgrade memsleuth");
* an older schema, opened for writing -> upgraded in place by
  :data:`UPGRADES`, one transaction per version; opened read-only ->
  :class:`~memsleuth.errors.SchemaMismatch` saying how to upgrade it.
  ``tests/fixtures/store/`` holds a file of every version, and each upgrade
  is tested on the real old file.

Versions:

1. a row per sample for every series point (``points``, plus the
   ``points_by_key`` index) and every process (``processes``);
2. runs instead (``point_runs``, ``process_runs``: a row per value for as
   long as it does not change, see :mod:`memsleuth.store.format`); process
   files compressed against a base per process (``process_bases``) instead
   of content-addressed ``blobs``; ``samples.system`` may be the empty blob
   (raw files thinned).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

from memsleuth.errors import SchemaMismatch, StoreError
from memsleuth.store.format import (
    APPLICATION_ID,
    OPEN,
    SCHEMA,
    SCHEMA_VERSION,
    compress,
    compress_delta,
    decompress,
    transaction,
)
from memsleuth.store.runs import step

#: Tables each version has; their absence means a damaged file.
_REQUIRED_TABLES: dict[int, frozenset[str]] = {
    1: frozenset({"meta", "samples", "blobs", "processes", "series_keys", "points"}),
    2: frozenset({"meta", "samples", "process_bases", "process_runs", "series_keys", "point_runs"}),
}

_BATCH = 5000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _runs_from_rows(
    conn: sqlite3.Connection, rows: Iterator[tuple[int, K, V]]
) -> Iterator[tuple[K, int, int, V]]:
    """Runs ``(key, first, until, value)`` from rows ``(sample_id, key, value)`` in sample-id order.

    The same :func:`~memsleuth.store.runs.step` as the writer, sample by
    sample, so a value absent from a sample ends its run there.  A key's
    runs come in order; open runs (``until`` :data:`OPEN`) come last.
    """
    ids = [r[0] for r in conn.execute("SELECT id FROM samples ORDER BY id")]
    open_runs: dict[K, tuple[int, V]] = {}
    pending = next(rows, None)
    for sid in ids:
        current: dict[K, V] = {}
        while pending is not None and pending[0] <= sid:
            if pending[0] == sid:
                current[pending[1]] = pending[2]
            pending = next(rows, None)
        s = step(open_runs, current, sid)
        for key, first in s.closed:
            yield key, first, sid, open_runs[key][1]
        open_runs = s.open
    for key, (first, value) in open_runs.items():
        yield key, first, OPEN, value


def _batched(conn: sqlite3.Connection, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            conn.executemany(sql, batch)
            batch = []
    conn.executemany(sql, batch)


def _upgrade_1_to_2(conn: sqlite3.Connection) -> None:
    """Rows per sample -> runs, process files -> a base per process + deltas; old tables dropped.

    About 17 ms per sample at 1,000 processes: minutes, once, for a store
    at schema 1's bound.  The pages of the dropped tables stay in the file,
    free, and are reused by later samples (VACUUM gives them back at once).
    """
    for ddl in SCHEMA:
        if any(name in ddl for name in ("point_runs", "process_runs", "process_bases")):
            conn.execute(ddl)
    read = conn.cursor()
    points = read.execute("SELECT sample_id, key_id, value FROM points ORDER BY sample_id, key_id")
    _batched(
        conn,
        "INSERT INTO point_runs(key_id, first_sample_id, until_sample_id, value) VALUES (?,?,?,?)",
        _runs_from_rows(conn, iter(points)),
    )

    blob = conn.cursor()

    @functools.lru_cache(maxsize=4096)
    def files(blob_id: int) -> bytes:
        row = blob.execute("SELECT data FROM blobs WHERE id = ?", (blob_id,)).fetchone()
        if row is None:
            raise StoreError(f"process files {blob_id} are missing from the store being upgraded")
        return decompress(row[0])

    @functools.lru_cache(maxsize=4096)
    def base(pid: int, start: int) -> bytes:
        row = blob.execute(
            "SELECT data FROM process_bases WHERE pid = ? AND starttime_ticks = ?", (pid, start)
        ).fetchone()
        return decompress(row[0])

    def process_runs() -> Iterator[tuple[object, ...]]:
        procs = read.execute(
            "SELECT sample_id, pid, starttime_ticks, ppid, comm, state, kernel_thread, unreadable, blob_id "
            "FROM processes ORDER BY sample_id, pid"
        )
        rows: Iterator[tuple[int, tuple[int, int], tuple[int, str, str, int, str | None, int]]] = (
            (r[0], (r[1], r[2]), (r[3], r[4], r[5], r[6], r[7], r[8])) for r in procs
        )
        for (pid, start), first, until, value in _runs_from_rows(conn, rows):
            ppid, comm, state, kthread, unreadable, blob_id = value
            raw = files(blob_id)
            if conn.execute(
                "SELECT 1 FROM process_bases WHERE pid = ? AND starttime_ticks = ?", (pid, start)
            ).fetchone() is None:  # its first run: its files are the base
                conn.execute("INSERT INTO process_bases VALUES (?,?,?)", (pid, start, compress(raw)))
            yield (pid, start, first, until, ppid, comm, state, kthread, unreadable,
                   compress_delta(raw, base(pid, start)))

    _batched(
        conn,
        "INSERT INTO process_runs(pid, starttime_ticks, first_sample_id, until_sample_id, ppid, comm, state, "
        "kernel_thread, unreadable, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
        process_runs(),
    )
    for table in ("points", "processes", "blobs"):
        conn.execute(f"DROP TABLE {table}")


#: from-version -> function that upgrades the open connection to from-version + 1.
UPGRADES: dict[int, Callable[[sqlite3.Connection], None]] = {1: _upgrade_1_to_2}


def check(conn: sqlite3.Connection, path: str, *, create: bool, writable: bool) -> int:
    """Validate (and, if ``create``, initialise) the store; return its schema version."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a memsleuth store ({exc})") from None
    if app_id == 0 and version == 0 and not tables:
        if not create:
            raise StoreError(f"{path}: empty file, not a memsleuth store")
        _initialise(conn)
        return SCHEMA_VERSION
    if app_id != APPLICATION_ID:
        raise StoreError(
            f"{path}: an SQLite database, but not a memsleuth store "
            f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x})"
        )
    if version > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{path}: store schema version {version} is newer than this memsleuth "
            f"understands ({SCHEMA_VERSION}); upgrade memsleuth to read it"
        )
    if version < 1:
        raise StoreError(f"{path}: store has no schema version; the file is damaged")
    missing = _REQUIRED_TABLES.get(version, frozenset()) - tables
    if missing:
        raise StoreError(f"{path}: store is missing table(s) {', '.join(sorted(missing))}; damaged")
    if version < SCHEMA_VERSION:
        if not writable:
            raise SchemaMismatch(
                f"{path}: store schema version {version} is older than {SCHEMA_VERSION}; "
                "open it once with 'memsleuth record' to upgrade it"
            )
        upgrade(conn, version, path)
    return SCHEMA_VERSION


def upgrade(conn: sqlite3.Connection, version: int, path: str) -> None:
    """Step the schema from ``version`` to :data:`SCHEMA_VERSION`, one transaction per step."""
    while version < SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise SchemaMismatch(f"{path}: no upgrade from store schema version {version}")
        with transaction(conn):
            step(conn)
            conn.execute(f"PRAGMA user_version={version + 1}")
        version += 1


def _initialise(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        for ddl in SCHEMA:
            conn.execute(ddl)
        conn.execute("INSERT INTO meta(key, value) VALUES ('created_schema', ?)", (str(SCHEMA_VERSION),))
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


__all__ = ["UPGRADES", "check", "upgrade"]
