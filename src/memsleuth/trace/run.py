"""The two traces: who allocates a slab cache, who makes failed path lookups.

``trace_slab``: ``kmem:kmem_cache_alloc`` filtered by ``name == "CACHE"``.  The
event's ``name`` is the ``kmem_cache``'s own name, and with SLUB merging
several caches share one ``kmem_cache``: an allocation from ``PINGv6``
(merged into ``:A-0001344``) is printed as ``name=UDP``, the name the merged
cache was first created under, which is also the name /proc/slabinfo shows
(checked on 6.18: ICMPv6 datagram sockets trace as ``name=UDP``).  So the
requested name is resolved through ``/sys/kernel/slab`` to the merged cache's
slabinfo name, the filter uses that, and the result says the counts cover the
whole merge group.  ``kmalloc()`` allocations go through ``kmem:kmalloc``
(no cache name), not this event.

``trace_lookups``: the ``syscalls:sys_exit_*`` events of the syscalls that
resolve a path (whichever this kernel has) filtered by ``ret == -2``
(ENOENT).  Each failed lookup on a disk filesystem may leave a negative
dentry.

Both also enable ``sched:sched_process_fork`` and ``sched_process_exit``
(low volume) so that a process that lived for a millisecond is still named
with its parent; for processes that were already running, the parent comes
from ``/proc/PID/stat`` while the process lives, else it is "exited".  Our
own pid is filtered out in the kernel (``common_pid != self``), so the
reader's own /proc reads never count.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from memsleuth.errors import AccessDenied, MemsleuthError, ParseError, ProcessGone, SourceMissing, UsageError
from memsleuth.host import Host
from memsleuth.sources.pid_stat import parse_stat_head
from memsleuth.trace.aggregate import CommandCount, Counter, ProcessCount, by_command
from memsleuth.trace.tracefs import Repair, TraceSession, TraceStopped, TraceUnavailable

#: path-lookup syscalls whose exit event we enable when present (stat/lstat are newstat/newlstat
#: on x86_64; the old names are kept for other architectures)
LOOKUP_SYSCALLS = ("access", "faccessat", "faccessat2", "newfstatat", "statx", "openat", "openat2",
                   "open", "newstat", "newlstat", "stat", "lstat", "stat64", "lstat64",
                   "readlink", "readlinkat", "execve", "execveat")
ENOENT_RET = -2
SCHED_EVENTS = ("sched/sched_process_fork", "sched/sched_process_exit")
SLAB_EVENT = "kmem/kmem_cache_alloc"
_CACHE_NAME = re.compile(r"^[A-Za-z0-9_:.()@+-]+$")
DEFAULT_MAX_EVENTS = 5_000_000
DEFAULT_BUFFER_KB = 8192


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheTarget:
    """A slab cache name resolved to what ``kmem_cache_alloc`` prints."""

    requested: str
    #: the name in the event (the merged cache's slabinfo name)
    event_name: str
    #: every cache name in the merge group (just ``requested`` when not merged)
    group: tuple[str, ...]

    @property
    def merged(self) -> bool:
        return len(self.group) > 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceResult:
    kind: str
    #: tracefs events enabled for the count (without the two sched helpers)
    events_traced: tuple[str, ...]
    filter: str
    cache: CacheTarget | None
    seconds_requested: float
    seconds_traced: float
    interrupted: bool
    events: int
    dropped_over_cap: int
    max_events: int
    #: events the ring buffer overwrote or dropped before we read them
    lost_in_kernel: int | None
    processes: tuple[ProcessCount, ...]
    commands: tuple[CommandCount, ...]
    repairs: tuple[Repair, ...]
    mounted_tracefs: bool
    instance: str
    restore_problems: tuple[str, ...]


def _slabinfo_names(host: Host) -> list[str]:
    try:
        text = host.read_text("proc/slabinfo")
    except AccessDenied:
        raise TraceUnavailable("/proc/slabinfo: permission denied (run as root)") from None
    except SourceMissing:
        return []
    return [line.split()[0] for line in text.splitlines()[2:] if line.split()]


def resolve_cache(host: Host, name: str) -> CacheTarget:
    """Resolve ``name`` (a slabinfo name or a merged SLUB alias) to the event's name."""
    if not _CACHE_NAME.match(name):
        raise UsageError(f"{name!r} is not a slab cache name")
    names = _slabinfo_names(host)
    try:
        links = host.links("sys/kernel/slab")
    except (SourceMissing, AccessDenied):
        links = {}
    if name not in links and name not in names:
        raise UsageError(f"no slab cache named {name!r} (see 'memsleuth slab --all')")
    target = links.get(name)
    if target is None:
        return CacheTarget(requested=name, event_name=name, group=(name,))
    target = target.rstrip("/").rsplit("/", 1)[-1]
    group = tuple(sorted(n for n, t in links.items()
                         if t is not None and t.rstrip("/").rsplit("/", 1)[-1] == target))
    listed = [n for n in group if n in names]
    return CacheTarget(requested=name, event_name=listed[0] if listed else name, group=group)


def _lookup_parents(host: Host, counter: Counter) -> None:
    for pid in counter.take_new_pids():
        if pid in counter.forks:
            continue
        try:
            _, _, ppid, _, _ = parse_stat_head(host.read(f"proc/{pid}/stat"))
        except (ProcessGone, SourceMissing, AccessDenied, ParseError):
            counter.gone.add(pid)
            continue
        try:
            pcomm: str | None = host.read_text(f"proc/{ppid}/comm").strip()
        except MemsleuthError:
            pcomm = None
        counter.proc_parents[pid] = (ppid, pcomm)


def _trace(host: Host, kind: str, setup: Callable[[TraceSession], tuple[tuple[str, ...], str]],
           seconds: float, *, cache: CacheTarget | None, max_events: int,
           buffer_kb: int) -> TraceResult:
    if seconds <= 0:
        raise UsageError("--seconds must be positive")
    if max_events < 1:
        raise UsageError("--max-events must be at least 1")
    counter = Counter(max_events=max_events)
    interrupted = False
    session = TraceSession(host, buffer_kb=buffer_kb)
    with session:
        events, filt = setup(session)
        for ev in SCHED_EVENTS:
            if session.exists(f"events/{ev}/enable"):
                session.write(f"events/{ev}/enable", "1")
        t0 = time.monotonic()
        try:
            for lines in session.stream(seconds, on_idle=lambda: _lookup_parents(host, counter)):
                counter.feed(lines)
                _lookup_parents(host, counter)
        except TraceStopped as stop:
            if stop.signum != signal.SIGINT:
                raise
            interrupted = True
            session.stop_tracing()
            for lines in session.drain():
                counter.feed(lines)
        traced = time.monotonic() - t0
        lost = session.lost_events()
    procs = counter.processes(traced)
    return TraceResult(
        kind=kind, events_traced=events, filter=filt, cache=cache,
        seconds_requested=seconds, seconds_traced=traced, interrupted=interrupted,
        events=counter.events, dropped_over_cap=counter.dropped_over_cap, max_events=max_events,
        lost_in_kernel=lost, processes=tuple(procs), commands=tuple(by_command(procs, traced)),
        repairs=tuple(session.repairs), mounted_tracefs=session.mounted_by_us,
        instance=session.instance, restore_problems=tuple(session.restore_problems),
    )


def trace_slab(host: Host, name: str, seconds: float, *, max_events: int = DEFAULT_MAX_EVENTS,
               buffer_kb: int = DEFAULT_BUFFER_KB) -> TraceResult:
    """Count ``kmem_cache_alloc`` of one cache (alias-resolved) per process for ``seconds``."""
    if not host.live:
        raise TraceUnavailable("tracing reads the live kernel; it cannot run on a bundle (--root)")
    if os.geteuid() != 0:
        raise TraceUnavailable("tracing needs root (tracefs is root-only): run with sudo")
    cache = resolve_cache(host, name)

    def setup(s: TraceSession) -> tuple[tuple[str, ...], str]:
        if not s.exists(f"events/{SLAB_EVENT}/enable"):
            raise TraceUnavailable("this kernel has no kmem:kmem_cache_alloc tracepoint")
        filt = f'name == "{cache.event_name}" && common_pid != {os.getpid()}'
        s.write(f"events/{SLAB_EVENT}/filter", filt)
        s.write(f"events/{SLAB_EVENT}/enable", "1")
        return ("kmem:kmem_cache_alloc",), filt

    return _trace(host, "slab", setup, seconds, cache=cache, max_events=max_events,
                  buffer_kb=buffer_kb)


def trace_lookups(host: Host, seconds: float, *, max_events: int = DEFAULT_MAX_EVENTS,
                  buffer_kb: int = DEFAULT_BUFFER_KB) -> TraceResult:
    """Count failed (ENOENT) path-lookup syscalls per process for ``seconds``."""

    def setup(s: TraceSession) -> tuple[tuple[str, ...], str]:
        present = [sc for sc in LOOKUP_SYSCALLS if s.exists(f"events/syscalls/sys_exit_{sc}/enable")]
        if not present:
            raise TraceUnavailable("this kernel has no syscall exit tracepoints "
                                   "(CONFIG_FTRACE_SYSCALLS is off)")
        filt = f"ret == {ENOENT_RET} && common_pid != {os.getpid()}"
        for sc in present:
            s.write(f"events/syscalls/sys_exit_{sc}/filter", filt)
        for sc in present:
            s.write(f"events/syscalls/sys_exit_{sc}/enable", "1")
        return tuple(f"syscalls:sys_exit_{sc}" for sc in present), filt

    return _trace(host, "lookups", setup, seconds, cache=None, max_events=max_events,
                  buffer_kb=buffer_kb)




#: measured by bench/trace_overhead.py (see its docstring); shown in every trace's footer
OVERHEAD_NOTE = ("measured on a 2-CPU VM, kernel 6.18 (bench/trace_overhead.py): a loop doing "
                 "nothing but failed access() calls ran 2.3x slower under 'trace lookups' and "
                 "2.8x under 'trace slab dentry', i.e. about 1.6-2.4 us per traced event "
                 "(kernel event + the reader's parsing); at 10,000 events/s that is about 2% of "
                 "one CPU")


def result_json(r: TraceResult, *, limit: int | None = None) -> dict[str, object]:
    """The JSON-ready form of a trace (also what the terminal view renders)."""
    procs = r.processes if limit is None else r.processes[:limit]
    cmds = r.commands if limit is None else r.commands[:limit]
    return {
        "kind": r.kind,
        "events_traced": list(r.events_traced),
        "filter": r.filter,
        "cache": None if r.cache is None else {
            "requested": r.cache.requested, "event_name": r.cache.event_name,
            "merged": r.cache.merged, "group": list(r.cache.group)},
        "seconds_requested": r.seconds_requested,
        "seconds_traced": r.seconds_traced,
        "interrupted": r.interrupted,
        "events": r.events,
        "dropped_over_cap": r.dropped_over_cap,
        "max_events": r.max_events,
        "lost_in_kernel": r.lost_in_kernel,
        "processes_total": len(r.processes),
        "commands_total": len(r.commands),
        "commands": [
            {"comm": c.comm, "ppid": c.ppid, "parent_comm": c.parent_comm, "processes": c.processes,
             "events": c.events, "events_per_second": c.events_per_second} for c in cmds],
        "processes": [
            {"pid": p.pid, "comm": p.comm, "events": p.events,
             "events_per_second": p.events_per_second, "by_event": dict(p.by_event),
             "ppid": p.ppid, "parent_comm": p.parent_comm, "parent_source": p.parent_source,
             "exited": p.exited} for p in procs],
        "tracefs": {"instance": r.instance, "mounted_by_memsleuth": r.mounted_tracefs,
                    "restore_problems": list(r.restore_problems)},
        "repairs": [{"pid": x.pid, "instance": x.instance, "actions": list(x.actions)}
                    for x in r.repairs],
        "overhead": OVERHEAD_NOTE,
    }


__all__ = ["LOOKUP_SYSCALLS", "OVERHEAD_NOTE", "CacheTarget", "TraceResult", "resolve_cache",
           "result_json", "trace_lookups", "trace_slab"]
