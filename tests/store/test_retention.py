"""Retention: full resolution, then one sample per slot, then nothing (synthetic times)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.store import Retention, Store

HOUR = 3600.0
DAY = 86400.0
NOW = 1_800_000_000.0

AtTime = Callable[[float], Snapshot]


def test_retention_downsamples_then_deletes(tmp_path: Path, at_time: AtTime) -> None:
    policy = Retention(full_resolution_hours=48, downsample_seconds=600, keep_days=30)
    # one sample every 5 minutes over the last 35 days
    times = [NOW - 35 * DAY + i * 300.0 for i in range(int(35 * DAY / 300) + 1)]
    with Store.open(tmp_path / "m.db", create=True) as store:
        for t in times:
            proc = ProcessSample(pid=100, starttime_ticks=int(t), ppid=1, comm="p", state="S",
                                 kernel_thread=False,
                                 files={"stat": str(t).encode(), "status": b"Threads:\t1\n"})
            store.append(dataclasses.replace(at_time(t), processes=(proc,)))
        result = store.apply_retention(NOW, policy)
        kept = [s.taken_at for s in store.samples()]

        full = [t for t in times if t >= NOW - 48 * HOUR]
        middle = [t for t in times if NOW - 30 * DAY <= t < NOW - 48 * HOUR]
        assert [t for t in kept if t >= NOW - 48 * HOUR] == full
        kept_middle = [t for t in kept if t < NOW - 48 * HOUR]
        assert min(kept_middle) >= NOW - 30 * DAY
        slots = [int(t // 600) for t in kept_middle]
        assert len(slots) == len(set(slots)) == len({int(t // 600) for t in middle})
        assert result.deleted_samples == len(times) - len(kept)

        # orphans go with their samples: blobs, series keys and points
        conn = store._conn
        assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == len(kept)
        proc_keys = conn.execute("SELECT count(*) FROM series_keys WHERE key LIKE 'proc.%'").fetchone()[0]
        assert proc_keys == len(kept)
        assert conn.execute(
            "SELECT count(*) FROM points WHERE sample_id NOT IN (SELECT id FROM samples)"
        ).fetchone()[0] == 0
        assert len(store.series("meminfo.MemTotal")) == len(kept)

        # idempotent, and appends keep working with the caches reset
        assert store.apply_retention(NOW, policy).deleted_samples == 0
        store.append(at_time(NOW + 1))
        assert store.series("meminfo.MemTotal")[-1][0] == NOW + 1


def test_retention_never_deletes_the_newest_sample(tmp_path: Path, at_time: AtTime) -> None:
    with Store.open(tmp_path / "m.db", create=True) as store:
        store.append(at_time(1000.0))
        store.append(at_time(2000.0))
        # a wall clock set years ahead must not empty the store
        store.apply_retention(NOW + 10 * 365 * DAY, Retention())
        assert [s.taken_at for s in store.samples()] == [2000.0]
