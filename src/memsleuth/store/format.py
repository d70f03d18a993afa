"""The store's file format: one SQLite database, schema version :data:`SCHEMA_VERSION`.

Store raw, derive on read.  Each sample keeps the kernel's bytes:

* ``samples.system`` - every system and cgroup file of the snapshot, plus its
  directory listings and the reasons files were missing, in a framed
  container (:func:`pack`) compressed with zlib;
* ``process_runs`` - the processes of each sample, identity ``pid,
  starttime_ticks``, with their ``stat``, ``status`` and ``smaps_rollup`` in
  the same container, compressed against the process's first container in
  ``process_bases`` (:func:`compress_delta`): from one sample to the next
  only numbers change, so a changed process costs ~50 bytes, not ~900;
* ``point_runs`` - numeric series extracted at write time
  (:mod:`memsleuth.store.extract`) so that reading one metric over time does
  not decompress anything.  Series names are interned in ``series_keys``.

Runs, not rows per sample.  Much of a host does not change in 10 s: a
sleeping process prints the same bytes, most slab caches and vmstat
counters keep their value.  So a series value, or a process, is stored once
per *run*: sample ids ``[first_sample_id, until_sample_id)`` in write order,
``until_sample_id`` being :data:`OPEN` while the value is in the newest
sample.  A run covers every sample whose id is in its range; a sample where
a series was absent is in no run of it.  Deleting samples never changes
what the other samples read: a run just covers fewer of them, and a run that
covers none is garbage.  The writer extends a run by doing nothing, and
closes it (sets ``until_sample_id``) when the value changes or goes.
``point_runs`` is keyed by ``(key_id, until_sample_id)``: one series over
time is one range, and retention finds the runs that ended in a span with
one seek per series, so the table needs no second index.

Raw files are thinned sooner than series (``Retention.raw_full_resolution_hours``):
a thinned sample keeps its row and its series, its ``system`` becomes the
empty blob, and the process runs that covered only thinned samples go.

Crash safety: the database runs in WAL mode with ``synchronous=NORMAL``.  A
sample is one transaction; after ``COMMIT`` returns its frames are in the WAL
file (written, not yet fsynced), so killing the writer at any point loses at
most the sample being written and never corrupts the file.  ``NORMAL`` may
lose the last transactions on a power cut or kernel crash (never corruption);
``FULL`` would fsync the WAL on every commit.  ``memsleuth record`` takes the
former: losing the last seconds of history on power loss is acceptable, an
fsync every 10 s on a busy disk is not free (bench/RECORD.md has the numbers).

The file is identified by ``PRAGMA application_id`` (:data:`APPLICATION_ID`)
and versioned by ``PRAGMA user_version``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
import zlib
from collections.abc import Iterable, Iterator

#: Bump on any change to the tables below, and teach compat.py the upgrade.
SCHEMA_VERSION = 2

#: "MSLT" - tells a memsleuth store from any other SQLite file.
APPLICATION_ID = 0x4D534C54

#: The container inside compressed blobs.
FRAME_MAGIC = b"MSF1"

#: Compression level: 6 costs ~2x level 1 for ~15% less disk on kernel text.
ZLIB_LEVEL = 6

PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=OFF",
    # keep the WAL from growing without bound between checkpoints
    "PRAGMA journal_size_limit=67108864",
)

#: ``until_sample_id`` of an open run: larger than any sample id.
OPEN = 2**62

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE samples (
        id INTEGER PRIMARY KEY,
        taken_at REAL NOT NULL,            -- wall clock, Unix seconds, capture start
        monotonic_seconds REAL,            -- CLOCK_MONOTONIC of the recorder, if known
        boot_id TEXT,
        hostname TEXT,
        kernel_release TEXT,
        duration_seconds REAL NOT NULL,
        page_size_bytes INTEGER NOT NULL,
        clock_ticks_per_second INTEGER NOT NULL,
        host_meta TEXT NOT NULL,           -- JSON: the rest of HostMeta
        processes_walked INTEGER NOT NULL,
        processes_vanished INTEGER NOT NULL,
        system BLOB NOT NULL               -- zlib(pack(files + @listings + @missing)); x'' once thinned
    )""",
    "CREATE INDEX samples_taken_at ON samples(taken_at)",
    """CREATE TABLE process_bases (
        pid INTEGER NOT NULL,
        starttime_ticks INTEGER NOT NULL,
        data BLOB NOT NULL,                -- zlib(pack(name -> bytes)): the first files seen
        PRIMARY KEY (pid, starttime_ticks)
    ) WITHOUT ROWID""",
    """CREATE TABLE process_runs (
        pid INTEGER NOT NULL,
        starttime_ticks INTEGER NOT NULL,
        first_sample_id INTEGER NOT NULL,
        until_sample_id INTEGER NOT NULL,  -- first sample id after the run; OPEN: none yet
        ppid INTEGER NOT NULL,
        comm TEXT NOT NULL,
        state TEXT NOT NULL,
        kernel_thread INTEGER NOT NULL,
        unreadable TEXT,                   -- JSON {file: reason}, NULL if none
        data BLOB NOT NULL,                -- compress_delta(pack(name -> bytes), base); x'': the base
        PRIMARY KEY (pid, starttime_ticks, first_sample_id)
    ) WITHOUT ROWID""",
    # one moment (and retention) reads process runs by where they end
    "CREATE INDEX process_runs_until ON process_runs(until_sample_id)",
    """CREATE TABLE series_keys (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE point_runs (
        key_id INTEGER NOT NULL,
        until_sample_id INTEGER NOT NULL,  -- first sample id after the run; OPEN: none yet
        first_sample_id INTEGER NOT NULL,
        value NUMERIC NOT NULL,
        PRIMARY KEY (key_id, until_sample_id)
    ) WITHOUT ROWID""",
)

#: Names inside the system container that are not kernel paths.
LISTINGS_ENTRY = "@listings"
MISSING_ENTRY = "@missing"

_LEN = struct.Struct(">I")


def pack(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A framed container: magic, then (u32 name length, name, u32 size, bytes)*."""
    parts = [FRAME_MAGIC]
    for name, data in entries:
        encoded = name.encode("utf-8")
        parts += (_LEN.pack(len(encoded)), encoded, _LEN.pack(len(data)), data)
    return b"".join(parts)


def unpack(blob: bytes) -> Iterator[tuple[str, bytes]]:
    """Inverse of :func:`pack`; ``ValueError`` on anything malformed."""
    if not blob.startswith(FRAME_MAGIC):
        raise ValueError("bad container magic")
    pos = len(FRAME_MAGIC)
    end = len(blob)
    size = _LEN.size
    while pos < end:
        if pos + size > end:
            raise ValueError("truncated container")
        (n,) = _LEN.unpack_from(blob, pos)
        pos += size
        name = blob[pos : pos + n].decode("utf-8")
        pos += n
        if pos + size > end:
            raise ValueError("truncated container")
        (m,) = _LEN.unpack_from(blob, pos)
        pos += size
        if pos + m > end:
            raise ValueError("truncated container")
        yield name, blob[pos : pos + m]
        pos += m


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; ``ROLLBACK`` on any exception.

    Connections run with ``isolation_level=None`` so that this is the only
    place transactions start: one sample is one transaction.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def compress(data: bytes) -> bytes:
    return zlib.compress(data, ZLIB_LEVEL)


def decompress(data: bytes) -> bytes:
    return zlib.decompress(data)


def compress_delta(data: bytes, base: bytes) -> bytes:
    """``data`` compressed with ``base`` as the zlib preset dictionary; ``b""`` if they are equal.

    The dictionary is only the last 32 KiB of ``base``: a process's
    container is ~2.5 KiB.
    """
    if data == base:
        return b""
    c = zlib.compressobj(ZLIB_LEVEL, zdict=base)
    return c.compress(data) + c.flush()


def decompress_delta(data: bytes, base: bytes) -> bytes:
    """Inverse of :func:`compress_delta`."""
    if not data:
        return base
    d = zlib.decompressobj(zdict=base)
    out = d.decompress(data) + d.flush()
    if not d.eof:
        raise ValueError("truncated delta")
    return out


__all__ = [
    "APPLICATION_ID",
    "LISTINGS_ENTRY",
    "MISSING_ENTRY",
    "OPEN",
    "PRAGMAS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "compress",
    "compress_delta",
    "decompress",
    "decompress_delta",
    "pack",
    "transaction",
    "unpack",
]
