"""Append snapshots to a store, and keep it bounded (retention and downsampling).

Each :meth:`Store.append` is one transaction (see the crash-safety note in
:mod:`memsleuth.store.format`).  ``/proc/PID/environ`` is never stored, even
if a snapshot carries it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass

from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.store.extract import Value, iter_points
from memsleuth.store.format import (
    LISTINGS_ENTRY,
    MISSING_ENTRY,
    compress,
    pack,
    transaction,
)
from memsleuth.store.reader import StoreReader, _connect, db_errors

_FORBIDDEN = frozenset({"environ"})
_CHUNK = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """How long samples live.

    Every sample is kept for ``full_resolution_hours``; after that, one per
    ``downsample_seconds`` (the first of each slot) is kept until
    ``keep_days``; older samples are deleted.
    """

    full_resolution_hours: float = 48.0
    downsample_seconds: float = 600.0
    keep_days: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionResult:
    deleted_samples: int
    deleted_blobs: int
    deleted_keys: int


class Store(StoreReader):
    """A store opened for writing (and reading)."""

    def __init__(self, conn: object, path: str) -> None:
        super().__init__(conn, path)  # type: ignore[arg-type]
        self._key_ids: dict[str, int] | None = None
        #: digest -> blob id for the last sample's processes (idle ones repeat)
        self._recent_blobs: dict[bytes, int] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = False) -> Store:
        return cls(_connect(os.fspath(path), create=create, writable=True), os.fspath(path))

    # -- append --------------------------------------------------------------
    def append(self, snap: Snapshot, *, monotonic_seconds: float | None = None) -> int:
        """Store ``snap``; return its sample id."""
        points: dict[str, Value] = dict(iter_points(snap))
        system = compress(pack(_system_entries(snap)))
        procs = [(p, _process_container(p)) for p in snap.processes]
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
            key_ids = self._load_keys()
            new_keys: dict[str, int] = {}
            blobs: dict[bytes, int] = {}
            with transaction(conn):
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
                rows = []
                for p, (digest, raw) in procs:
                    blob_id = blobs.get(digest) or self._recent_blobs.get(digest)
                    if blob_id is None:
                        found = conn.execute("SELECT id FROM blobs WHERE digest = ?", (digest,)).fetchone()
                        if found is None:
                            cur = conn.execute(
                                "INSERT INTO blobs(digest, data) VALUES (?, ?)", (digest, compress(raw))
                            )
                            blob_id = int(cur.lastrowid or 0)
                        else:
                            blob_id = int(found[0])
                    blobs[digest] = blob_id
                    rows.append((
                        sample_id, p.pid, p.starttime_ticks, p.ppid, p.comm, p.state, int(p.kernel_thread),
                        json.dumps(dict(p.unreadable), sort_keys=True) if p.unreadable else None, blob_id,
                    ))
                conn.executemany(
                    "INSERT INTO processes(sample_id, pid, starttime_ticks, ppid, comm, state, "
                    "kernel_thread, unreadable, blob_id) VALUES (?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                for key in points:
                    if key not in key_ids:
                        cur = conn.execute("INSERT INTO series_keys(key) VALUES (?)", (key,))
                        new_keys[key] = int(cur.lastrowid or 0)
                conn.executemany(
                    "INSERT INTO points(sample_id, key_id, value) VALUES (?,?,?)",
                    [(sample_id, key_ids.get(k) or new_keys[k], v) for k, v in points.items()],
                )
        # only after COMMIT: a rolled-back id must never be reused from a cache
        key_ids.update(new_keys)
        self._recent_blobs = blobs
        return sample_id

    def _load_keys(self) -> dict[str, int]:
        if self._key_ids is None:
            self._key_ids = {k: i for i, k in self._conn.execute("SELECT id, key FROM series_keys")}
        return self._key_ids

    # -- retention -----------------------------------------------------------
    def apply_retention(self, now: float, policy: Retention = Retention()) -> RetentionResult:
        """Downsample samples older than the full-resolution window; delete expired ones.

        ``now`` is wall-clock time.  The newest sample is never deleted, so a
        wall clock set far ahead cannot empty the store.
        """
        full_after = now - policy.full_resolution_hours * 3600.0
        drop_before = now - policy.keep_days * 86400.0
        slot = policy.downsample_seconds
        conn = self._conn
        with db_errors(self.path):
            newest = conn.execute("SELECT max(id) FROM samples").fetchone()[0]
            old = conn.execute(
                "SELECT id, taken_at FROM samples WHERE taken_at < ? ORDER BY taken_at, id", (full_after,)
            ).fetchall()
            doomed: list[int] = []
            kept_slots: set[int] = set()
            for sid, taken in old:
                if sid == newest:
                    continue
                if taken < drop_before:
                    doomed.append(sid)
                    continue
                bucket = int(taken // slot) if slot > 0 else sid
                if bucket in kept_slots:
                    doomed.append(sid)
                else:
                    kept_slots.add(bucket)
            with transaction(conn):
                for i in range(0, len(doomed), _CHUNK):
                    chunk = doomed[i : i + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    conn.execute(f"DELETE FROM points WHERE sample_id IN ({marks})", chunk)
                    conn.execute(f"DELETE FROM processes WHERE sample_id IN ({marks})", chunk)
                    conn.execute(f"DELETE FROM samples WHERE id IN ({marks})", chunk)
                blobs = keys = 0
                if doomed:
                    blobs = conn.execute(
                        "DELETE FROM blobs WHERE NOT EXISTS "
                        "(SELECT 1 FROM processes p WHERE p.blob_id = blobs.id)"
                    ).rowcount
                    keys = conn.execute(
                        "DELETE FROM series_keys WHERE NOT EXISTS "
                        "(SELECT 1 FROM points p WHERE p.key_id = series_keys.id)"
                    ).rowcount
        if doomed:
            self._key_ids = None
            self._recent_blobs = {}
        return RetentionResult(deleted_samples=len(doomed), deleted_blobs=blobs, deleted_keys=keys)

    def checkpoint(self) -> None:
        """Fold the WAL back into the main file (done automatically every ~1000 pages)."""
        with db_errors(self.path):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _system_entries(snap: Snapshot) -> Iterable[tuple[str, bytes]]:
    for path in sorted(snap.files):
        if path.rsplit("/", 1)[-1] not in _FORBIDDEN:
            yield path, snap.files[path]
    if snap.listings:
        yield LISTINGS_ENTRY, json.dumps(snap.listings, sort_keys=True).encode()
    if snap.missing:
        yield MISSING_ENTRY, json.dumps(dict(snap.missing), sort_keys=True).encode()


def _process_container(p: ProcessSample) -> tuple[bytes, bytes]:
    raw = pack((n, p.files[n]) for n in sorted(p.files) if n not in _FORBIDDEN)
    return hashlib.blake2b(raw, digest_size=16).digest(), raw


__all__ = ["Retention", "RetentionResult", "Store"]
