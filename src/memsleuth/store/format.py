"""The store's file format: one SQLite database, schema version :data:`SCHEMA_VERSION`.

Store raw, derive on read.  Each sample keeps the kernel's bytes:

* ``samples.system`` - every system and cgroup file of the snapshot, plus its
  directory listings and the reasons files were missing, in a framed
  container (:func:`pack`) compressed with zlib;
* ``processes`` - one row per process (identity ``pid, starttime_ticks``)
  pointing at a content-addressed ``blobs`` row holding its ``stat``,
  ``status`` and ``smaps_rollup`` in the same container.  An idle process
  prints the same bytes sample after sample, so its files are stored once
  and shared by reference;
* ``points`` - numeric series extracted at write time
  (:mod:`memsleuth.store.extract`) so that reading one metric over time does
  not decompress anything.  Series names are interned in ``series_keys``.

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
SCHEMA_VERSION = 1

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
        system BLOB NOT NULL               -- zlib(pack(files + @listings + @missing))
    )""",
    "CREATE INDEX samples_taken_at ON samples(taken_at)",
    """CREATE TABLE blobs (
        id INTEGER PRIMARY KEY,
        digest BLOB NOT NULL UNIQUE,       -- blake2b-128 of the uncompressed container
        data BLOB NOT NULL                 -- zlib(pack(name -> bytes))
    )""",
    """CREATE TABLE processes (
        sample_id INTEGER NOT NULL,
        pid INTEGER NOT NULL,
        starttime_ticks INTEGER NOT NULL,
        ppid INTEGER NOT NULL,
        comm TEXT NOT NULL,
        state TEXT NOT NULL,
        kernel_thread INTEGER NOT NULL,
        unreadable TEXT,                   -- JSON {file: reason}, NULL if none
        blob_id INTEGER NOT NULL,
        PRIMARY KEY (sample_id, pid)
    ) WITHOUT ROWID""",
    "CREATE INDEX processes_blob ON processes(blob_id)",
    """CREATE TABLE series_keys (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE points (
        sample_id INTEGER NOT NULL,
        key_id INTEGER NOT NULL,
        value NUMERIC NOT NULL,
        PRIMARY KEY (sample_id, key_id)
    ) WITHOUT ROWID""",
    # one metric over time reads this index only
    "CREATE INDEX points_by_key ON points(key_id, sample_id, value)",
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


__all__ = [
    "APPLICATION_ID",
    "LISTINGS_ENTRY",
    "MISSING_ENTRY",
    "PRAGMAS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "compress",
    "decompress",
    "pack",
    "transaction",
    "unpack",
]
