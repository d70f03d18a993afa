"""Retention: full resolution, then one sample per slot, then nothing (synthetic times)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth.errors import StoreError
from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.store import Retention, Store
from tests.store.conftest import runs_covering_nothing

HOUR = 3600.0
DAY = 86400.0
NOW = 1_800_000_000.0

AtTime = Callable[[float], Snapshot]


def test_retention_thins_downsamples_then_deletes(tmp_path: Path, at_time: AtTime) -> None:
    policy = Retention(full_resolution_hours=48, downsample_seconds=600, keep_days=30,
                       raw_full_resolution_hours=6, raw_downsample_seconds=3600)
    # one sample every 5 minutes over the last 35 days
    times = [NOW - 35 * DAY + i * 300.0 for i in range(int(35 * DAY / 300) + 1)]
    with Store.open(tmp_path / "m.db", create=True) as store:
        for t in times:
            proc = ProcessSample(pid=100, starttime_ticks=int(t), ppid=1, comm="p", state="S",
                                 kernel_thread=False,
                                 files={"stat": str(t).encode(), "status": b"Threads:\t1\n"})
            store.append(dataclasses.replace(at_time(t), processes=(proc,)))
        result = store.apply_retention(NOW, policy)
        infos = store.samples()
        kept = [s.taken_at for s in infos]

        full = [t for t in times if t >= NOW - 48 * HOUR]
        middle = [t for t in times if NOW - 30 * DAY <= t < NOW - 48 * HOUR]
        assert [t for t in kept if t >= NOW - 48 * HOUR] == full
        kept_middle = [t for t in kept if t < NOW - 48 * HOUR]
        assert min(kept_middle) >= NOW - 30 * DAY
        slots = [int(t // 600) for t in kept_middle]
        assert len(slots) == len(set(slots)) == len({int(t // 600) for t in middle})
        assert result.deleted_samples == len(times) - len(kept)

        # raw files: every sample of the last 6 h, before that the first of each hour
        raw = [s.taken_at for s in infos if s.has_raw]
        assert [t for t in raw if t >= NOW - 6 * HOUR] == [t for t in times if t >= NOW - 6 * HOUR]
        older = [t for t in kept if t < NOW - 6 * HOUR]
        firsts = [t for i, t in enumerate(older) if i == 0 or int(t // HOUR) != int(older[i - 1] // HOUR)]
        assert [t for t in raw if t < NOW - 6 * HOUR] == firsts
        # the samples downsampling keeps are those that kept raw files, where there is one
        assert set(firsts) <= set(kept)
        assert result.thinned_samples == len(kept) - len(raw)
        thinned = next(s for s in infos if not s.has_raw)
        assert store.values_at(thinned.id)[f"proc.100:{int(thinned.taken_at)}.threads"] == 1
        with pytest.raises(StoreError, match="thinned"):
            store.snapshot(thinned.id)
        assert store.snapshot_at(thinned.taken_at).started_at == max(t for t in raw if t <= thinned.taken_at)

        # what no sample uses goes: process files (each process here lives one sample), series keys, runs
        conn = store._conn
        assert conn.execute("SELECT count(*) FROM process_bases").fetchone()[0] == len(raw)
        assert conn.execute("SELECT count(*) FROM process_runs").fetchone()[0] == len(raw)
        proc_keys = conn.execute("SELECT count(*) FROM series_keys WHERE key LIKE 'proc.%'").fetchone()[0]
        assert proc_keys == len(kept)
        assert runs_covering_nothing(store) == (0, 0)
        assert len(store.series("meminfo.MemTotal")) == len(kept)

        # idempotent, and appends keep working with the caches reset
        again = store.apply_retention(NOW, policy)
        assert (again.deleted_samples, again.thinned_samples) == (0, 0)
        store.append(at_time(NOW + 1))
        assert store.series("meminfo.MemTotal")[-1][0] == NOW + 1
        assert len(store.series("meminfo.MemTotal")) == len(kept) + 1


def test_retention_never_deletes_the_newest_sample(tmp_path: Path, at_time: AtTime) -> None:
    with Store.open(tmp_path / "m.db", create=True) as store:
        store.append(at_time(1000.0))
        store.append(at_time(2000.0))
        # a wall clock set years ahead must not empty the store
        store.apply_retention(NOW + 10 * 365 * DAY, Retention())
        assert [s.taken_at for s in store.samples()] == [2000.0]
