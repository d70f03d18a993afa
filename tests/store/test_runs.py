"""Runs: what the store keeps once per unchanged value reads back once per sample.

A model (one dict per sample) against the store, through changes, absences,
writer restarts, a second writer, wall-clock steps back, thinning and
downsampling.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth.errors import StoreError
from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.store import Retention, Store, StoreReader
from memsleuth.store.format import OPEN
from memsleuth.store.runs import Timeline, step
from tests.store.conftest import runs_covering_nothing

AtTime = Callable[[float], Snapshot]
HOUR = 3600.0


def test_step_extends_closes_and_opens() -> None:
    s = step({"a": (1, 5), "b": (1, 7), "c": (2, 0)}, {"a": 5, "b": 8, "d": 1.5}, 3)
    assert s.open == {"a": (1, 5), "b": (3, 8), "d": (3, 1.5)}
    assert sorted(s.closed) == [("b", 1), ("c", 2)]
    assert sorted(s.opened) == [("b", 8), ("d", 1.5)]
    # a key that went and one that came, same count: both seen
    s = step({"a": (1, 1)}, {"b": 1}, 2)
    assert s.closed == [("a", 1)] and s.opened == [("b", 1)]
    assert step({"a": (1, 2)}, {"a": 2.0}, 2).opened == []  # 2 == 2.0: the same value


def test_timeline_expands_runs_in_time_order() -> None:
    tl = Timeline([1, 2, 4, 5, 9], [10.0, 20.0, 40.0, 50.0, 90.0])
    everything = tl.window(float("-inf"), float("inf"))
    assert tl.expand([(1, 4, "x"), (5, OPEN, "y")], everything) == [
        (10.0, "x"), (20.0, "x"), (50.0, "y"), (90.0, "y")
    ]
    part = tl.window(15.0, 50.0)
    assert tl.id_range(part) == (2, 5)
    assert tl.expand([(1, 4, "x"), (5, OPEN, "y")], part) == [(20.0, "x"), (50.0, "y")]
    # the wall clock stepped back: ids are write order, results are time order
    back = Timeline([1, 2, 3], [100.0, 300.0, 200.0])
    assert back.expand([(1, 3, "a"), (3, OPEN, "b")], back.window(0.0, 1e9)) == [
        (100.0, "a"), (200.0, "b"), (300.0, "a")
    ]


def _snapshot(base: Snapshot, t: float, values: dict[str, int], procs: dict[int, int]) -> Snapshot:
    meminfo = "".join(f"{k}: {v} kB\n" for k, v in values.items()).encode()
    processes = tuple(
        ProcessSample(pid=pid, starttime_ticks=pid * 10, ppid=1, comm=f"p{pid}", state="S",
                      kernel_thread=False, files={"status": f"Threads:\t{threads}\n".encode()})
        for pid, threads in sorted(procs.items())
    )
    return dataclasses.replace(base, started_at=t, ended_at=t + 0.01, files={"proc/meminfo": meminfo},
                               listings={}, missing={}, processes=processes)


def _model(rng: random.Random, n: int) -> list[tuple[float, dict[str, int], dict[int, int]]]:
    """n samples, 60 s apart mostly; values from a small set so runs form; keys and pids come and go."""
    out = []
    values = {k: rng.randrange(3) for k in ("MemTotal", "MemFree", "Slab", "Shmem")}
    procs = {pid: 1 for pid in range(1, 6)}
    t = 1_000_000.0
    for _ in range(n):
        t += 60.0 if rng.random() > 0.05 else -90.0  # now and then the clock steps back
        for k in values:
            if rng.random() < 0.3:
                values[k] = rng.randrange(3)
        # MemTotal and MemFree are required (else no meminfo series at all); the others come and go
        shown = {k: v for k, v in values.items() if k in ("MemTotal", "MemFree") or rng.random() > 0.2}
        for pid in list(procs):
            if rng.random() < 0.05:
                del procs[pid]
            elif rng.random() < 0.2:
                procs[pid] = rng.randrange(1, 3)
        if rng.random() < 0.2:
            procs[rng.randrange(6, 40)] = 1
        out.append((t, shown, dict(procs)))
    return out


def _expected(model: list[tuple[float, dict[str, int], dict[int, int]]], ids: list[int],
              alive: set[int]) -> dict[str, list[tuple[float, int]]]:
    series: dict[str, list[tuple[float, int, int]]] = {}
    for sid, (t, values, procs) in zip(ids, model, strict=True):
        if sid not in alive:
            continue
        for k, v in values.items():
            series.setdefault(f"meminfo.{k}", []).append((t, sid, v * 1024))
        for pid, threads in procs.items():
            series.setdefault(f"proc.{pid}:{pid * 10}.threads", []).append((t, sid, threads))
    return {k: [(t, v) for t, _, v in sorted(pts)] for k, pts in series.items()}


def _check(reader: StoreReader, model: list[tuple[float, dict[str, int], dict[int, int]]],
           ids: list[int]) -> None:
    infos = reader.samples()
    alive = {s.id for s in infos}
    expected = _expected(model, ids, alive)
    assert set(reader.keys()) == set(expected)
    for key, pts in expected.items():
        assert reader.series(key) == pts, key
    by_id = dict(zip(ids, model, strict=True))
    for s in infos:
        _, values, procs = by_id[s.id]
        want = {f"meminfo.{k}": v * 1024 for k, v in values.items()}
        want.update({f"proc.{pid}:{pid * 10}.threads": n for pid, n in procs.items()})
        assert reader.values_at(s.id) == want
        if s.has_raw:
            snap = reader.snapshot(s.id)
            assert {p.pid: p.files["status"] for p in snap.processes} == {
                pid: f"Threads:\t{n}\n".encode() for pid, n in procs.items()
            }
        else:
            with pytest.raises(StoreError, match="thinned"):
                reader.snapshot(s.id)
    # a window reads the same points as the whole, cut
    times = sorted(s.taken_at for s in infos)
    lo, hi = times[len(times) // 3], times[2 * len(times) // 3]
    for key, pts in expected.items():
        assert reader.series(key, lo, hi) == [(t, v) for t, v in pts if lo <= t <= hi], key


@pytest.mark.parametrize("seed", range(4))
def test_runs_read_back_like_rows(tmp_path: Path, fixture_snapshot: Snapshot, seed: int) -> None:
    rng = random.Random(seed)
    model = _model(rng, 120)
    db = tmp_path / "m.db"
    ids: list[int] = []
    store = Store.open(db, create=True)
    other = Store.open(db)
    try:
        for i, (t, values, procs) in enumerate(model):
            if i % 37 == 36:  # a restart: the new writer reads the open runs from the file
                store.close()
                store = Store.open(db)
            writer = other if i % 29 == 28 else store  # another writer appends in between
            ids.append(writer.append(_snapshot(fixture_snapshot, t, values, procs)))
        with StoreReader.open(db) as reader:
            _check(reader, model, ids)

        # thin raw files and downsample: what is left reads the same
        newest = max(t for t, _, _ in model)
        policy = Retention(full_resolution_hours=1.0, raw_full_resolution_hours=0.5,
                           downsample_seconds=300.0, keep_days=1.0)
        result = store.apply_retention(newest + 0.25 * HOUR, policy)
        assert result.deleted_samples > 0 and result.thinned_samples > 0
        assert runs_covering_nothing(store) == (0, 0)
        with StoreReader.open(db) as reader:
            _check(reader, model, ids)
        _check(store, model, ids)  # the writer's own reads see its deletions

        # and appending after retention continues the runs it left
        t, values, procs = model[-1]
        model.append((t + 60.0, values, procs))
        ids.append(store.append(_snapshot(fixture_snapshot, t + 60.0, values, procs)))
        _check(store, model, ids)
        result = store.apply_retention(newest + 100 * HOUR, policy)
        assert [s.id for s in store.samples()] == [ids[-1]]
        assert runs_covering_nothing(store) == (0, 0)
        _check(store, model, ids)
    finally:
        store.close()
        other.close()


def test_unchanged_processes_and_series_cost_no_rows(tmp_path: Path, fixture_snapshot: Snapshot) -> None:
    with Store.open(tmp_path / "m.db", create=True) as store:
        for i in range(10):
            store.append(_snapshot(fixture_snapshot, 1000.0 + i, {"MemTotal": 1, "MemFree": i % 2},
                                   {1: 1, 2: 2}))
        conn = store._conn
        # MemTotal, 2 processes' threads: one run each; MemFree: one run per change
        assert conn.execute("SELECT count(*) FROM point_runs").fetchone()[0] == 3 + 10
        assert conn.execute("SELECT count(*) FROM process_runs").fetchone()[0] == 2
        assert store.series("meminfo.MemTotal") == [(1000.0 + i, 1024) for i in range(10)]
