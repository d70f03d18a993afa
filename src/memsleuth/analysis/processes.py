"""Per-process memory rows (top/ps/smem) and grouping, from one snapshot.

Columns follow the tools users know:

* VIRT, RES, SHR as procps top computes them: ``VmSize``, ``VmRSS`` and
  ``RssFile + RssShmem`` (statm's ``shared`` before Linux 4.5);
* PSS and USS as smem defines them, from ``smaps_rollup``:
  PSS = ``Pss``; USS = ``Private_Clean + Private_Dirty``;
* SWAP = ``VmSwap``; faults from ``stat`` (minflt/majflt since start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

from memsleuth.errors import ParseError
from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.sources.cgroup import parse_pid_cgroup
from memsleuth.sources.pid_stat import parse_pid_stat
from memsleuth.sources.pid_statm import parse_pid_statm
from memsleuth.sources.pid_status import parse_pid_status
from memsleuth.sources.smaps import parse_smaps_rollup


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessRow:
    pid: int
    starttime_ticks: int
    ppid: int
    uid: int | None
    comm: str
    cmdline: str | None
    state: str
    kernel_thread: bool
    threads: int | None
    virt_bytes: int | None
    res_bytes: int | None
    shr_bytes: int | None
    pss_bytes: int | None
    uss_bytes: int | None
    swap_bytes: int | None
    rss_anon_bytes: int | None
    vm_pte_bytes: int | None
    minflt: int | None
    majflt: int | None
    cgroup: str | None
    #: file -> why it could not be read (permission, vanished ...)
    unreadable: dict[str, str]

    @property
    def command(self) -> str:
        return self.cmdline or f"[{self.comm}]"


def _cgroup_path(text: str | None) -> str | None:
    if text is None:
        return None
    paths = parse_pid_cgroup(text)
    # prefer the v1 memory controller, else the unified (v2) hierarchy
    return paths.get("memory") or paths.get("")


def process_row(p: ProcessSample, page_size_bytes: int) -> ProcessRow:
    stat = parse_pid_stat(p.files["stat"].decode("utf-8", "replace"))
    status = None
    text = p.text("status")
    if text is not None:
        try:
            status = parse_pid_status(text)
        except ParseError:
            status = None  # torn read of a dying process: keep what stat says
    rollup = None
    text = p.text("smaps_rollup")
    if text:
        rollup = parse_smaps_rollup(text)
    shr = status.shr_bytes if status else None
    if shr is None and "statm" in p.files:
        shr = parse_pid_statm(p.files["statm"].decode()).shared_pages * page_size_bytes
    return ProcessRow(
        pid=p.pid,
        starttime_ticks=p.starttime_ticks,
        ppid=p.ppid,
        uid=status.uid.real if status and status.uid else None,
        comm=p.comm,
        cmdline=p.cmdline() or None,
        state=p.state,
        kernel_thread=p.kernel_thread,
        threads=status.threads if status and status.threads is not None else stat.num_threads,
        virt_bytes=status.virt_bytes if status else (0 if p.kernel_thread else None),
        res_bytes=status.res_bytes if status else (0 if p.kernel_thread else None),
        shr_bytes=shr if not p.kernel_thread else 0,
        pss_bytes=rollup.pss_bytes if rollup else (0 if p.kernel_thread else None),
        uss_bytes=rollup.uss_bytes if rollup else (0 if p.kernel_thread else None),
        swap_bytes=status.vm_swap_bytes if status else (0 if p.kernel_thread else None),
        rss_anon_bytes=status.rss_anon_bytes if status else None,
        vm_pte_bytes=status.vm_pte_bytes if status else None,
        minflt=stat.minflt,
        majflt=stat.majflt,
        cgroup=_cgroup_path(p.text("cgroup")),
        unreadable=dict(p.unreadable),
    )


def process_rows(snap: Snapshot) -> list[ProcessRow]:
    return [process_row(p, snap.meta.page_size_bytes) for p in snap.processes]


SORT_KEYS: dict[str, Callable[[ProcessRow], object]] = {
    "pss": lambda r: r.pss_bytes if r.pss_bytes is not None else r.res_bytes or 0,
    "uss": lambda r: r.uss_bytes or 0,
    "res": lambda r: r.res_bytes or 0,
    "rss": lambda r: r.res_bytes or 0,
    "virt": lambda r: r.virt_bytes or 0,
    "shr": lambda r: r.shr_bytes or 0,
    "swap": lambda r: r.swap_bytes or 0,
    "threads": lambda r: r.threads or 0,
    "minflt": lambda r: r.minflt or 0,
    "majflt": lambda r: r.majflt or 0,
    "pid": lambda r: -r.pid,
}


def sort_rows(rows: Iterable[ProcessRow], key: str) -> list[ProcessRow]:
    return sorted(rows, key=SORT_KEYS[key], reverse=True)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupRow:
    """Sums over the processes sharing a command, user or cgroup (smem -m/-u)."""

    key: str
    processes: int
    threads: int
    res_bytes: int
    shr_bytes: int
    pss_bytes: int | None
    uss_bytes: int | None
    swap_bytes: int
    #: processes whose PSS/USS could not be read (the sums then undercount)
    partial: int


def _sum(values: Iterable[int | None]) -> tuple[int, int]:
    total = 0
    unknown = 0
    for v in values:
        if v is None:
            unknown += 1
        else:
            total += v
    return total, unknown


def group_rows(rows: Iterable[ProcessRow], key: Callable[[ProcessRow], str]) -> list[GroupRow]:
    groups: dict[str, list[ProcessRow]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    out = []
    for name, members in groups.items():
        pss, pss_unknown = _sum(r.pss_bytes for r in members)
        uss, _ = _sum(r.uss_bytes for r in members)
        out.append(GroupRow(
            key=name,
            processes=len(members),
            threads=sum(r.threads or 0 for r in members),
            res_bytes=_sum(r.res_bytes for r in members)[0],
            shr_bytes=_sum(r.shr_bytes for r in members)[0],
            pss_bytes=None if pss_unknown == len(members) else pss,
            uss_bytes=None if pss_unknown == len(members) else uss,
            swap_bytes=_sum(r.swap_bytes for r in members)[0],
            partial=pss_unknown,
        ))
    out.sort(key=lambda g: -(g.pss_bytes if g.pss_bytes is not None else g.res_bytes))
    return out


def row_dict(row: ProcessRow | GroupRow) -> dict[str, object]:
    return {f.name: getattr(row, f.name) for f in fields(row)}
