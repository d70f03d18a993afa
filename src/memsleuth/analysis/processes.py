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

from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.sources._kv import scan_fields
from memsleuth.sources.cgroup import memory_cgroup_of, parse_pid_cgroup
from memsleuth.sources.pid_stat import parse_pid_stat
from memsleuth.sources.pid_statm import parse_pid_statm


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
    return memory_cgroup_of(parse_pid_cgroup(text))


#: status and smaps_rollup lines a row needs; scanned, not fully parsed (at
#: 1,000 processes the full parsers were two thirds of ``memsleuth top``)
STATUS_KEYS = ("Uid", "Threads", "VmSize", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmSwap",
               "VmPTE")
ROLLUP_KEYS = ("Pss", "Private_Clean", "Private_Dirty")


def process_row(p: ProcessSample, page_size_bytes: int) -> ProcessRow:
    stat = parse_pid_stat(p.files["stat"].decode("utf-8", "replace"))
    raw_status = p.files.get("status")
    st = scan_fields(raw_status, STATUS_KEYS) if raw_status is not None else None
    raw_rollup = p.files.get("smaps_rollup")
    ro = scan_fields(raw_rollup, ROLLUP_KEYS) if raw_rollup else None
    shr = None
    if st is not None and "RssFile" in st and "RssShmem" in st:
        shr = st["RssFile"] + st["RssShmem"]  # top's SHR since Linux 4.5
    elif "statm" in p.files:
        shr = parse_pid_statm(p.files["statm"].decode()).shared_pages * page_size_bytes
    uss = None
    if ro is not None and "Private_Clean" in ro and "Private_Dirty" in ro:
        uss = ro["Private_Clean"] + ro["Private_Dirty"]
    kernel = p.kernel_thread

    def status_value(key: str) -> int | None:
        if st is None:
            return 0 if kernel else None
        return st.get(key)

    return ProcessRow(
        pid=p.pid,
        starttime_ticks=p.starttime_ticks,
        ppid=p.ppid,
        uid=st.get("Uid") if st is not None else None,
        comm=p.comm,
        cmdline=p.cmdline() or None,
        state=p.state,
        kernel_thread=kernel,
        threads=st["Threads"] if st is not None and "Threads" in st else stat.num_threads,
        virt_bytes=status_value("VmSize"),
        res_bytes=status_value("VmRSS"),
        shr_bytes=0 if kernel else shr,
        pss_bytes=ro.get("Pss") if ro is not None else (0 if kernel else None),
        uss_bytes=uss if ro is not None else (0 if kernel else None),
        swap_bytes=status_value("VmSwap"),
        rss_anon_bytes=st.get("RssAnon") if st is not None else None,
        vm_pte_bytes=st.get("VmPTE") if st is not None else None,
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
