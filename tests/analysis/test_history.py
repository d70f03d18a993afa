"""history_from_store on a store whose older raw files were thinned."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from memsleuth import Host
from memsleuth.collect.history import history_from_store
from memsleuth.snapshot.capture import capture
from memsleuth.snapshot.model import ProcessSample
from memsleuth.store import Retention, Store
from tests.conftest import HOSTS

T0 = 1_700_000_000.0


def _proc(pid: int, threads: int, comm: str) -> ProcessSample:
    status = f"Name:\t{comm}\nUid:\t{pid}\t{pid}\t{pid}\t{pid}\nThreads:\t{threads}\n".encode()
    return ProcessSample(pid=pid, starttime_ticks=pid, ppid=1, comm=comm, state="S", kernel_thread=False,
                         files={"status": status})


def test_processes_are_named_from_the_samples_that_kept_raw_files(tmp_path: Path) -> None:
    base = capture(Host.open(HOSTS / "centos6-founding"))
    db = tmp_path / "m.db"
    with Store.open(db, create=True) as store:
        for i in range(12):  # one sample a minute; "gone" grows, then exits after minute 8
            procs = [_proc(100, 1, "stays")]
            if i <= 8:
                procs.append(_proc(200, i + 1, "gone"))
            t = T0 + 60.0 * i
            store.append(dataclasses.replace(base, started_at=t, ended_at=t, processes=tuple(procs)))
        # raw files thinned to one per 5-minute slot before the last 2.5 minutes: minute 8 loses
        # them, minute 7 (first of its slot: T0 is 200 s into one) keeps them
        result = store.apply_retention(T0 + 60.0 * 11 + 1.0, Retention(
            full_resolution_hours=1.0, raw_full_resolution_hours=150.0 / 3600, downsample_seconds=300.0,
            raw_downsample_seconds=300.0))
        assert result.thinned_samples > 0
        raw = [s.taken_at for s in store.samples() if s.has_raw]
    assert T0 + 60.0 * 8 not in raw and T0 + 60.0 * 7 in raw

    history = history_from_store(db)
    gone = history.series["proc.200:200.threads"]
    assert gone.values == tuple(float(i + 1) for i in range(9))  # every point, thinned or not
    assert history.processes["200:200"].comm == "gone"
    assert history.processes["200:200"].uid == 200
    assert history.processes["100:100"].comm == "stays"
