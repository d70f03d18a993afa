"""vmstat(8) rows from snapshots, the way procps-ng 4 computes them.

* memory columns: swpd = SwapTotal - SwapFree, free = MemFree,
  buff = Buffers, cache = Cached + SReclaimable;
* si/so: pswpin/pswpout pages per second; bi/bo: pgpgin/pgpgout (the kernel
  counts those in KiB despite the name) per second; in/cs: /proc/stat
  ``intr`` total and ``ctxt`` per second;
* cpu: shares of the ``cpu`` line's tick deltas.

The first row, like vmstat's, is an average since boot.  procps-ng 4
divides each counter by the CPU time of *all* CPUs (the ``cpu`` line's total
ticks / USER_HZ), not by the uptime, so on an N-CPU host its first-row rates
are 1/N of the true averages.  We reproduce that, so the two agree; later
rows are true per-second rates over the interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.analysis.rates import rate
from memsleuth.snapshot.model import Snapshot
from memsleuth.sources.dentry_state import kernel_has_nr_negative, parse_dentry_state
from memsleuth.sources.meminfo import MemInfo, parse_meminfo
from memsleuth.sources.proc_stat import CpuTimes, ProcStat, parse_proc_stat
from memsleuth.sources.vmstat import parse_vmstat

FILES: tuple[str, ...] = (
    "proc/meminfo",
    "proc/vmstat",
    "proc/stat",
    "proc/sys/fs/dentry-state",
    "proc/version",
    "proc/sys/kernel/hostname",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class VmstatPoint:
    """The raw readings one vmstat row needs."""

    at: float
    #: wall-clock time of the reading (Unix seconds), for -t
    captured_at: float | None
    meminfo: MemInfo
    counters: dict[str, int]
    stat: ProcStat
    page_size_bytes: int
    clock_ticks: int
    dentries: int | None
    negative_dentries: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class VmstatRow:
    procs_running: int | None
    procs_blocked: int | None
    swapped_bytes: int | None
    free_bytes: int
    buffers_bytes: int | None
    cache_bytes: int | None
    #: meminfo Active and Inactive (vmstat -a)
    active_bytes: int | None
    inactive_bytes: int | None
    swap_in_bytes_per_second: float | None
    swap_out_bytes_per_second: float | None
    block_in_kib_per_second: float | None
    block_out_kib_per_second: float | None
    interrupts_per_second: float | None
    context_switches_per_second: float | None
    cpu_user_percent: float | None
    cpu_system_percent: float | None
    cpu_idle_percent: float | None
    cpu_iowait_percent: float | None
    cpu_steal_percent: float | None
    cpu_guest_percent: float | None
    # --mem extras
    slab_bytes: int | None
    slab_reclaimable_bytes: int | None
    dentries: int | None
    negative_dentries: int | None
    page_faults_per_second: float | None
    major_faults_per_second: float | None
    slab_change_bytes_per_second: float | None
    dentries_per_second: float | None
    #: seconds this row averages over (since boot for the first row)
    interval_seconds: float
    #: wall-clock time of the reading (Unix seconds)
    captured_at: float | None


def point(snap: Snapshot) -> VmstatPoint:
    release = snap.meta.kernel_release
    has_negative = kernel_has_nr_negative(release) if release else None
    dentry = snap.parse("proc/sys/fs/dentry-state",
                        lambda t: parse_dentry_state(t, has_nr_negative=has_negative))
    vm = snap.require("proc/vmstat", parse_vmstat)
    return VmstatPoint(
        at=snap.started_at,
        captured_at=snap.meta.captured_at,
        meminfo=snap.require("proc/meminfo", parse_meminfo),
        counters=dict(vm.counters),
        stat=snap.require("proc/stat", parse_proc_stat),
        page_size_bytes=snap.meta.page_size_bytes,
        clock_ticks=snap.meta.clock_ticks_per_second,
        dentries=None if dentry is None else dentry.nr_dentry,
        negative_dentries=None if dentry is None else dentry.nr_negative,
    )


def _cpu_shares(cur: CpuTimes, prev: CpuTimes | None) -> dict[str, float | None]:
    def d(a: int | None, b: int | None) -> int:
        return (a or 0) - (b or 0)

    if prev is None:
        parts = {"us": (cur.user_ticks - (cur.guest_ticks or 0)) + cur.nice_ticks
                 - (cur.guest_nice_ticks or 0),
                 "sy": cur.system_ticks + (cur.irq_ticks or 0) + (cur.softirq_ticks or 0),
                 "id": cur.idle_ticks, "wa": cur.iowait_ticks or 0,
                 "st": cur.steal_ticks or 0,
                 "gu": (cur.guest_ticks or 0) + (cur.guest_nice_ticks or 0)}
    else:
        parts = {
            "us": d(cur.user_ticks, prev.user_ticks) - d(cur.guest_ticks, prev.guest_ticks)
            + d(cur.nice_ticks, prev.nice_ticks) - d(cur.guest_nice_ticks, prev.guest_nice_ticks),
            "sy": d(cur.system_ticks, prev.system_ticks) + d(cur.irq_ticks, prev.irq_ticks)
            + d(cur.softirq_ticks, prev.softirq_ticks),
            "id": d(cur.idle_ticks, prev.idle_ticks),
            "wa": d(cur.iowait_ticks, prev.iowait_ticks),
            "st": d(cur.steal_ticks, prev.steal_ticks),
            "gu": d(cur.guest_ticks, prev.guest_ticks)
            + d(cur.guest_nice_ticks, prev.guest_nice_ticks),
        }
    total = sum(parts.values())
    if total <= 0:
        return {k: None for k in parts}
    return {k: 100.0 * v / total for k, v in parts.items()}


def row(cur: VmstatPoint, prev: VmstatPoint | None = None) -> VmstatRow:
    """A vmstat row: since boot when ``prev`` is None, else over the interval."""
    m = cur.meminfo
    if prev is None:
        seconds = cur.stat.cpu.total_ticks / cur.clock_ticks
        base: dict[str, int] = {k: 0 for k in cur.counters}
        base_intr: int | None = 0
        base_ctxt: int | None = 0
        prev_cpu = None
        base_slab = None
        base_dentries = None
    else:
        seconds = cur.at - prev.at
        base = prev.counters
        base_intr = prev.stat.interrupts_total
        base_ctxt = prev.stat.context_switches_total
        prev_cpu = prev.stat.cpu
        base_slab = prev.meminfo.slab_bytes
        base_dentries = prev.dentries
    c = cur.counters
    page = cur.page_size_bytes
    cpu = _cpu_shares(cur.stat.cpu, prev_cpu)

    def r(key: str) -> float | None:
        return rate(c.get(key), base.get(key), seconds)

    si = r("pswpin")
    so = r("pswpout")
    swap_total, swap_free = m.swap_total_bytes, m.swap_free_bytes
    slab_change = None
    if base_slab is not None and m.slab_bytes is not None and seconds > 0:
        slab_change = (m.slab_bytes - base_slab) / seconds
    dentries_rate = None
    if base_dentries is not None and cur.dentries is not None and seconds > 0:
        dentries_rate = (cur.dentries - base_dentries) / seconds
    return VmstatRow(
        procs_running=cur.stat.procs_running,
        procs_blocked=cur.stat.procs_blocked,
        swapped_bytes=None if swap_total is None or swap_free is None else swap_total - swap_free,
        free_bytes=m.mem_free_bytes,
        buffers_bytes=m.buffers_bytes,
        cache_bytes=None if m.cached_bytes is None
        else m.cached_bytes + (m.s_reclaimable_bytes or 0),
        active_bytes=m.active_bytes,
        inactive_bytes=m.inactive_bytes,
        swap_in_bytes_per_second=None if si is None else si * page,
        swap_out_bytes_per_second=None if so is None else so * page,
        block_in_kib_per_second=r("pgpgin"),
        block_out_kib_per_second=r("pgpgout"),
        interrupts_per_second=rate(cur.stat.interrupts_total, base_intr, seconds),
        context_switches_per_second=rate(cur.stat.context_switches_total, base_ctxt, seconds),
        cpu_user_percent=cpu["us"],
        cpu_system_percent=cpu["sy"],
        cpu_idle_percent=cpu["id"],
        cpu_iowait_percent=cpu["wa"],
        cpu_steal_percent=cpu["st"],
        cpu_guest_percent=cpu["gu"],
        slab_bytes=m.slab_bytes,
        slab_reclaimable_bytes=m.s_reclaimable_bytes,
        dentries=cur.dentries,
        negative_dentries=cur.negative_dentries,
        page_faults_per_second=r("pgfault"),
        major_faults_per_second=r("pgmajfault"),
        slab_change_bytes_per_second=slab_change,
        dentries_per_second=dentries_rate,
        interval_seconds=seconds,
        captured_at=cur.captured_at,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class VmstatStats:
    """``vmstat -s``: counters since boot and memory now, as procps-ng 4 reads them."""

    total_memory_bytes: int
    #: total - available (MemFree where MemAvailable is absent or above total), as procps
    used_memory_bytes: int
    active_memory_bytes: int | None
    inactive_memory_bytes: int | None
    free_memory_bytes: int
    buffer_memory_bytes: int | None
    #: procps labels it "swap cache"; it is Cached + SReclaimable, vmstat's cache column
    swap_cache_bytes: int | None
    total_swap_bytes: int | None
    used_swap_bytes: int | None
    free_swap_bytes: int | None
    user_ticks: int
    nice_ticks: int
    system_ticks: int
    idle_ticks: int
    iowait_ticks: int | None
    irq_ticks: int | None
    softirq_ticks: int | None
    steal_ticks: int | None
    guest_ticks: int | None
    guest_nice_ticks: int | None
    paged_in_kib: int | None
    paged_out_kib: int | None
    pages_swapped_in: int | None
    pages_swapped_out: int | None
    interrupts: int | None
    context_switches: int | None
    boot_time_seconds: int | None
    forks: int | None


def stats(cur: VmstatPoint) -> VmstatStats:
    """``vmstat -s`` from one reading (procps-ng 4's ``sum_format``, ``library/meminfo.c``)."""
    m = cur.meminfo
    cpu = cur.stat.cpu
    c = cur.counters
    available = m.mem_available_bytes or m.mem_free_bytes
    if available > m.mem_total_bytes:
        available = m.mem_free_bytes
    used = m.mem_total_bytes - available
    if used < 0:
        used = m.mem_total_bytes - m.mem_free_bytes
    swap_total, swap_free = m.swap_total_bytes, m.swap_free_bytes
    return VmstatStats(
        total_memory_bytes=m.mem_total_bytes,
        used_memory_bytes=used,
        active_memory_bytes=m.active_bytes,
        inactive_memory_bytes=m.inactive_bytes,
        free_memory_bytes=m.mem_free_bytes,
        buffer_memory_bytes=m.buffers_bytes,
        swap_cache_bytes=None if m.cached_bytes is None
        else m.cached_bytes + (m.s_reclaimable_bytes or 0),
        total_swap_bytes=swap_total,
        used_swap_bytes=None if swap_total is None or swap_free is None else swap_total - swap_free,
        free_swap_bytes=swap_free,
        user_ticks=cpu.user_ticks,
        nice_ticks=cpu.nice_ticks,
        system_ticks=cpu.system_ticks,
        idle_ticks=cpu.idle_ticks,
        iowait_ticks=cpu.iowait_ticks,
        irq_ticks=cpu.irq_ticks,
        softirq_ticks=cpu.softirq_ticks,
        steal_ticks=cpu.steal_ticks,
        guest_ticks=cpu.guest_ticks,
        guest_nice_ticks=cpu.guest_nice_ticks,
        paged_in_kib=c.get("pgpgin"),
        paged_out_kib=c.get("pgpgout"),
        pages_swapped_in=c.get("pswpin"),
        pages_swapped_out=c.get("pswpout"),
        interrupts=cur.stat.interrupts_total,
        context_switches=cur.stat.context_switches_total,
        boot_time_seconds=cur.stat.boot_time_seconds,
        forks=cur.stat.forks_total,
    )
