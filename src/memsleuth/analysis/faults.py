"""Page faults, demand paging and copy-on-write, from raw readings.

* System rates: ``pgfault`` counts every fault, ``pgmajfault`` those that
  waited for I/O; minor = ``pgfault - pgmajfault``.  Per second between two
  readings of /proc/vmstat.
* Per-process rates: ``minflt``/``majflt`` of /proc/PID/stat between two
  readings of the same process, identity ``(pid, starttime)``: a PID reused
  in between is a new process and gets no rate.
* Demand paging: ``VmSize - VmRSS - VmSwap`` of /proc/PID/status is address
  space the process holds but has never touched (or whose clean file pages
  were dropped): it costs no RAM until a fault brings it in.
* Copy-on-write: after ``fork()`` parent and child map the same frames
  read-only; the first write by either takes a fault and gets a private
  copy.  :func:`compare_cow` compares the two pagemaps page by page: same
  PFN is still shared, different PFNs have been copied.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from memsleuth.analysis.rates import delta, rate
from memsleuth.errors import ParseError
from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.sources.maps import VmArea
from memsleuth.sources.pagemap import PFN_MASK, PM_PRESENT, PM_SWAP
from memsleuth.sources.pid_stat import parse_pid_stat
from memsleuth.sources.pid_status import parse_pid_status
from memsleuth.sources.vmstat import parse_vmstat

#: Above this much private writable anonymous memory per process, --cow
#: compares only the first part (in address order) and says so.
COW_LIMIT_BYTES = 4 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemFaults:
    seconds: float | None
    pgfault: int | None
    pgmajfault: int | None
    #: Faults in the interval (``None`` for a single reading).
    faults_delta: int | None
    major_delta: int | None
    minor_per_second: float | None
    major_per_second: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessFaults:
    pid: int
    starttime_ticks: int
    comm: str
    command: str
    minflt: int
    majflt: int
    minor_per_second: float | None
    major_per_second: float | None
    virt_bytes: int | None
    rss_bytes: int | None
    swap_bytes: int | None
    #: Address space never touched (or dropped): VmSize - VmRSS - VmSwap.
    untouched_bytes: int | None

    @property
    def untouched_percent(self) -> float | None:
        if self.untouched_bytes is None or not self.virt_bytes:
            return None
        return 100.0 * self.untouched_bytes / self.virt_bytes

    @property
    def faults_per_second(self) -> float | None:
        if self.minor_per_second is None or self.major_per_second is None:
            return None
        return self.minor_per_second + self.major_per_second


def system_faults(current: Snapshot, previous: Snapshot | None) -> SystemFaults:
    cur = _vmstat(current)
    prev = _vmstat(previous) if previous is not None else None
    seconds = current.started_at - previous.started_at if previous is not None else None
    pgfault, pgmaj = cur
    faults_d = delta(pgfault, prev[0]) if prev else None
    major_d = delta(pgmaj, prev[1]) if prev else None
    minor_rate = major_rate = None
    if prev is not None and seconds:
        total_rate = rate(pgfault, prev[0], seconds)
        major_rate = rate(pgmaj, prev[1], seconds)
        if total_rate is not None and major_rate is not None:
            minor_rate = max(total_rate - major_rate, 0.0)
    return SystemFaults(seconds=seconds, pgfault=pgfault, pgmajfault=pgmaj, faults_delta=faults_d,
                        major_delta=major_d, minor_per_second=minor_rate, major_per_second=major_rate)


def _vmstat(snap: Snapshot) -> tuple[int | None, int | None]:
    raw = snap.files.get("proc/vmstat")
    if raw is None:
        return None, None
    vm = parse_vmstat(raw.decode("utf-8", "replace"))
    return vm.get("pgfault"), vm.get("pgmajfault")


def process_faults(current: Snapshot, previous: Snapshot | None) -> list[ProcessFaults]:
    """One row per user process of ``current``; rates only for those also in ``previous``."""
    before: dict[tuple[int, int], tuple[int, int]] = {}
    if previous is not None:
        for p in previous.processes:
            got = _faults(p)
            if got is not None:
                before[p.identity] = got
    seconds = current.started_at - previous.started_at if previous is not None else 0.0
    rows = []
    for p in current.processes:
        if p.kernel_thread or p.zombie:
            continue
        got = _faults(p)
        if got is None:
            continue
        minflt, majflt = got
        old = before.get(p.identity)
        virt = rss = swap = None
        text = p.text("status")
        if text:
            try:
                st = parse_pid_status(text)
                virt, rss, swap = st.vm_size_bytes, st.vm_rss_bytes, st.vm_swap_bytes
            except ParseError:
                pass  # torn read of a dying process
        untouched = None
        if virt is not None and rss is not None:
            untouched = max(virt - rss - (swap or 0), 0)
        rows.append(ProcessFaults(
            pid=p.pid, starttime_ticks=p.starttime_ticks, comm=p.comm,
            command=p.cmdline() or f"[{p.comm}]", minflt=minflt, majflt=majflt,
            minor_per_second=rate(minflt, old[0], seconds) if old else None,
            major_per_second=rate(majflt, old[1], seconds) if old else None,
            virt_bytes=virt, rss_bytes=rss, swap_bytes=swap, untouched_bytes=untouched))
    return rows


def _faults(p: ProcessSample) -> tuple[int, int] | None:
    try:
        st = parse_pid_stat(p.files["stat"].decode("utf-8", "replace"))
    except (KeyError, ParseError):
        return None
    return st.minflt, st.majflt


def top_by_rate(rows: Sequence[ProcessFaults], limit: int) -> list[ProcessFaults]:
    """Highest fault rate first; without rates (one reading), most faults since start."""
    def key(r: ProcessFaults) -> tuple[float, int, int]:
        return (-(r.faults_per_second or 0.0), -(r.minflt + r.majflt), r.pid)
    return sorted(rows, key=key)[:limit]


# -- copy-on-write ----------------------------------------------------------------


def is_private_writable_anon(v: VmArea) -> bool:
    name = v.pathname
    anon = name is None or name in ("[heap]", "[stack]") or name.startswith("[anon:")
    return anon and v.perms[1] == "w" and v.perms[3] == "p"


def cow_areas(vmas: Sequence[VmArea], limit_bytes: int = COW_LIMIT_BYTES) -> tuple[list[VmArea], bool]:
    """The private writable anonymous areas to compare, and whether the cap cut some off."""
    out: list[VmArea] = []
    total = 0
    for v in vmas:
        if not is_private_writable_anon(v):
            continue
        if total + v.size_bytes > limit_bytes:
            return out, True
        out.append(v)
        total += v.size_bytes
    return out, False


@dataclass(frozen=True, slots=True, kw_only=True)
class CowArea:
    start: int
    end: int
    pathname: str | None
    #: Same frame in parent and child: still shared copy-on-write.
    shared_pages: int
    #: Present in both, different frames: one of them wrote and got a copy.
    copied_pages: int
    parent_only_pages: int
    child_only_pages: int
    #: Swapped out in either process (cannot tell shared from copied).
    swapped_pages: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CowChild:
    pid: int
    comm: str
    areas: tuple[CowArea, ...]
    #: Of the shared pages, how many ``kpagecount`` says more than one page table maps.
    shared_mapcount_confirmed: int | None

    def total(self, field: str) -> int:
        return sum(int(getattr(a, field)) for a in self.areas)


def compare_area(start: int, end: int, pathname: str | None, page_size_bytes: int,
                 parent: array[int], parent_start: int, child: array[int],
                 child_start: int) -> tuple[CowArea, list[int]]:
    """Compare ``[start, end)`` page by page; also return the shared PFNs.

    ``parent``/``child`` are raw pagemap entries of areas beginning at
    ``parent_start``/``child_start``.
    """
    shared = copied = p_only = c_only = swapped = 0
    shared_pfns: list[int] = []
    pi = (start - parent_start) // page_size_bytes
    ci = (start - child_start) // page_size_bytes
    for k in range((end - start) // page_size_bytes):
        pv = parent[pi + k]
        cv = child[ci + k]
        if (pv | cv) & PM_SWAP:
            swapped += 1
            continue
        p_here = pv & PM_PRESENT
        c_here = cv & PM_PRESENT
        if p_here and c_here:
            pfn = pv & PFN_MASK
            if pfn == cv & PFN_MASK:
                shared += 1
                shared_pfns.append(pfn)
            else:
                copied += 1
        elif p_here:
            p_only += 1
        elif c_here:
            c_only += 1
    return CowArea(start=start, end=end, pathname=pathname, shared_pages=shared, copied_pages=copied,
                   parent_only_pages=p_only, child_only_pages=c_only, swapped_pages=swapped), shared_pfns


def overlaps(parent: Sequence[VmArea], child: Sequence[VmArea]) -> list[tuple[VmArea, VmArea, int, int]]:
    """``(parent area, child area, start, end)`` for every overlap of the two lists."""
    out = []
    for p in parent:
        for c in child:
            start, end = max(p.start, c.start), min(p.end, c.end)
            if start < end:
                out.append((p, c, start, end))
    return out


def confirmed_shared(pfns: Sequence[int], counts: Mapping[int, int]) -> int:
    return sum(1 for pfn in pfns if counts.get(pfn, 0) > 1)
