"""open_source: what a diagnosis reads, and the time it is dated from."""

from __future__ import annotations

import time
from typing import Any

import pytest

from memsleuth.analysis.series import History, Series
from memsleuth.collect import diagnosis
from memsleuth.collect.diagnosis import SourceRequest, open_source
from memsleuth.collect.rules import load_rules
from memsleuth.knowledge.report import DiagnosisOptions, run_diagnosis

GIB = float(1 << 30)


def _growing_watch(*_: Any, **__: Any) -> History:
    """What a 2-minute watch of a dentry storm gives: the watch itself takes time."""
    start = time.time()
    time.sleep(0.3)
    times = tuple(start - 120 + 2.0 * i for i in range(61))
    values = tuple(1e8 + 4e6 * i for i in range(61))
    return History(hostname="h", kernel_release="6.1", mem_total_bytes=int(24 * GIB), source="watch",
                   series={"slab.dentry.size_bytes": Series(key="slab.dentry.size_bytes", times=times,
                                                            values=values),
                           "meminfo.MemTotal": Series(key="meminfo.MemTotal", times=times,
                                                      values=(24 * GIB,) * 61)})


def test_a_watch_is_dated_from_its_end_so_no_sample_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the reference time was taken before the watch began, and the detector (which
    ignores samples after the reference) then saw none of them: a dentry storm gave no finding."""
    monkeypatch.setattr(diagnosis, "history_from_watch", _growing_watch)
    source = open_source(SourceRequest(watch=120.0, interval=2.0))
    assert source.history.end is not None and source.reference is not None
    assert source.reference >= source.history.end
    report = run_diagnosis(source, DiagnosisOptions(rules=load_rules()))
    assert [f.series_key for f in report.findings] == ["slab.dentry.size_bytes"]


def test_the_watchers_own_growth_is_taken_out_of_its_cgroup() -> None:
    """Issue 12: the watch keeps its samples in memory, so its own cgroup's anon grows by what the
    watcher keeps (40.5 -> 43.6 MiB in two minutes was reported as a LEAK).  That share is taken
    out of the watcher's cgroup and its ancestors, and of nothing else."""
    from memsleuth.collect.history import without_own_growth
    from memsleuth.keys import cgroup_key

    times = tuple(float(i) for i in range(10))
    own = {t: 40e6 + 3e5 * t for t in times}  # the watcher grows 0.3 MB a sample
    mine = cgroup_key("/session/abc", "memory.stat", "inactive_anon")
    parent = cgroup_key("/session", "memory.stat", "anon")
    other = cgroup_key("/system.slice/x.service", "memory.stat", "anon")
    file_key = cgroup_key("/session/abc", "memory.stat", "file")
    grows = tuple(40.5e6 + 3e5 * t for t in times)
    h = History(hostname=None, kernel_release=None, source="watch",
                series={k: Series(key=k, times=times, values=grows) for k in (mine, parent, other, file_key)})
    out = without_own_growth(h, own, "/session/abc")
    assert set(out.series[mine].values) == {40.5e6} and set(out.series[parent].values) == {40.5e6}
    assert out.series[other].values == grows and out.series[file_key].values == grows
    assert "memsleuth's own growth (+2.6 MiB) taken out of its cgroup /session/abc" in out.source
