"""The judgement at a glance (analysis.glance): each suspicious shape on one snapshot, and quiet
on a plain one; top_growers over a history."""

from __future__ import annotations

import dataclasses
import re

from memsleuth import Host
from memsleuth.analysis.accounting import accounting
from memsleuth.analysis.glance import glance, judge, top_growers
from memsleuth.analysis.processes import ProcessRow
from memsleuth.analysis.series import History, Series
from memsleuth.analysis.system import system_memory
from memsleuth.analysis.usage import usage_views
from memsleuth.snapshot.capture import capture
from memsleuth.snapshot.model import Snapshot
from memsleuth.sources.dentry_state import DentryState
from memsleuth.sources.meminfo import parse_meminfo
from tests.conftest import HOSTS

KIB = 1024
GIB = 1024**3
#: a plain 16 GiB host: half free, a quarter page cache, anon 2 GiB, small slab
PLAIN = """\
MemTotal:       16777216 kB
MemFree:         8388608 kB
MemAvailable:   10485760 kB
Buffers:          262144 kB
Cached:          4194304 kB
SwapCached:            0 kB
AnonPages:       2097152 kB
Shmem:             65536 kB
Slab:             524288 kB
SReclaimable:     262144 kB
SUnreclaim:       262144 kB
KernelStack:       16384 kB
PageTables:        32768 kB
"""


def _meminfo(**kb: int) -> str:
    text = PLAIN
    for key, value in kb.items():
        text = re.sub(rf"^{key}:\s+\d+ kB", f"{key}: {value} kB", text, flags=re.M)
    return text


def _snap(text: str) -> Snapshot:
    base = capture(Host.open(HOSTS / "centos6-founding"), processes=False, cgroups=False)
    files = dict(base.files)
    files["proc/meminfo"] = text.encode()
    files.pop("proc/zoneinfo", None)
    return dataclasses.replace(base, files=files)


def _judge(text: str, **kw: object) -> set[str]:
    mem = system_memory(_snap(text))
    return {o.key for o in judge(mem.accounting, usage_views(mem), **kw).suspicious}  # type: ignore[arg-type]


def _row(pid: int, comm: str, anon: int) -> ProcessRow:
    return ProcessRow(pid=pid, starttime_ticks=pid, ppid=1, uid=0, comm=comm, cmdline=(comm,), state="S",
                      kernel_thread=False, threads=1, minflt=0, majflt=0, virt_bytes=anon, res_bytes=anon,
                      shr_bytes=0,
                      pss_bytes=anon, uss_bytes=anon, swap_bytes=0, rss_anon_bytes=anon, vm_pte_bytes=0,
                      cgroup=None, unreadable={})


def test_a_plain_host_is_not_suspicious() -> None:
    assert _judge(PLAIN) == set()


def test_the_founding_snapshot_is_reclaimable_slab_and_disagreeing_views() -> None:
    g = glance(capture(Host.open(HOSTS / "centos6-founding")))
    assert {o.key for o in g.suspicious} == {"reclaimable_slab", "views_disagree"}
    slab = next(o for o in g.observations if o.key == "reclaimable_slab")
    assert slab.value is not None and 0.58 < slab.value < 0.59
    assert "36.7Gi" in slab.text
    assert g.large[0].key == "slab_reclaimable"
    # 2.6.32 does not count negative dentries: said, not guessed
    assert any(o.key == "dentry_negative_unknown" and o.severity == "note" for o in g.observations)


def test_each_threshold() -> None:
    # reclaimable slab 31% of RAM (legacy and available views then disagree too)
    assert "reclaimable_slab" in _judge(_meminfo(MemFree=2097152, SReclaimable=5200000, Slab=5462144))
    # a gap: 2.5 GiB of MemTotal in no bucket (15%)
    assert "unaccounted_gap" in _judge(_meminfo(MemFree=5767168))
    # legacy used 50%; available used 37.5% (12.5 points), then 25% (25 points)
    assert "views_disagree" not in _judge(PLAIN)
    assert "views_disagree" in _judge(_meminfo(MemAvailable=12582912))
    assert "low_available" in _judge(_meminfo(MemAvailable=1048576))


def test_negative_dentries_and_anon_holders() -> None:
    mostly = DentryState(nr_dentry=1_000_000, nr_unused=900_000, age_limit_seconds=45, want_pages=0,
                         nr_negative=800_000)
    few = dataclasses.replace(mostly, nr_negative=100_000)
    small = dataclasses.replace(mostly, nr_dentry=5000, nr_negative=4900)
    assert "negative_dentries" in _judge(PLAIN, dentry=mostly)
    assert "negative_dentries" not in _judge(PLAIN, dentry=few)
    assert "negative_dentries" not in _judge(PLAIN, dentry=small)
    hog = [_row(10, "java", int(1.6 * GIB)), _row(11, "sshd", 50 * 1024**2)]
    spread = [_row(10 + i, "worker", GIB // 4) for i in range(8)]
    assert "anon_process" in _judge(PLAIN, processes=hog)
    assert "anon_process" not in _judge(PLAIN, processes=spread)
    cgroups = {"/": 2 * GIB, "/system.slice": int(1.9 * GIB), "/system.slice/db.service": int(1.5 * GIB)}
    mem = system_memory(_snap(PLAIN))
    g = judge(mem.accounting, usage_views(mem), cgroups_anon=cgroups)
    (cg,) = [o for o in g.suspicious if o.key == "anon_cgroup"]
    assert "/system.slice/db.service" in cg.text  # the deepest, not the slice or the root
    assert "anon_cgroup" not in _judge(PLAIN, cgroups_anon={"/": 2 * GIB, "/system.slice": 2 * GIB})


def test_judge_takes_records_not_a_snapshot() -> None:
    m = parse_meminfo(PLAIN)
    acct = accounting(m)
    assert acct.total_bytes == 16 * GIB


def test_top_growers_lists_specific_subjects_that_grew() -> None:
    t = (0.0, 1800.0, 3600.0)

    def s(key: str, *v: float) -> Series:
        return Series(key=key, times=t, values=v)

    series = {x.key: x for x in (
        s("slab.dentry.size_bytes", 1e9, 2e9, 3e9),
        s("meminfo.SReclaimable", 1e9, 2e9, 3e9),
        s("meminfo.Slab", 2e9, 3e9, 4e9),        # an aggregate: not listed
        s("meminfo.MemFree", 5e9, 4e9, 3e9),     # shrinks
        s("slab.kmalloc-64.size_bytes", 1e6, 1e6, 2e6),
    )}
    h = History(hostname="h", kernel_release="6.1", series=series, processes={},
                mem_total_bytes=16 * GIB, source="test")
    got = top_growers(h, limit=5)
    assert [g.key for g in got][:2] in (["slab.dentry.size_bytes", "meminfo.SReclaimable"],
                                        ["meminfo.SReclaimable", "slab.dentry.size_bytes"])
    assert "meminfo.Slab" not in {g.key for g in got} and "meminfo.MemFree" not in {g.key for g in got}
    assert got[0].per_hour_bytes == 2e9
    assert [g.key for g in top_growers(h, limit=1)] == [got[0].key]
