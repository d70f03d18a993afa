"""Pure: ``trace_pipe`` lines -> event counts per process, command and parent.

A line of the default text format reads::

    <comm>-<pid>  [<cpu>] <flags> <seconds>: <event>: <fields>
            bash-27001   [000] .....  9763.976029: sys_newfstatat -> 0xfffffffffffffffe
         python3-24716   [001] .....  9657.934698: kmem_cache_alloc: call_site=... name=UDP ...
            bash-27001   [000] .....  9763.974674: sched_process_fork: comm=bash pid=27001
                                                         child_comm=bash child_pid=27007
             cat-27007   [001] .....  9763.975766: sched_process_exit: comm=cat pid=27007 prio=120
                                                         group_dead=true

(the sched lines are one line each in the pipe).

``<comm>`` comes from the kernel's saved_cmdlines cache when the line is
read; a process that exited long before may show as ``<...>``, so the comm
of ``sched_process_exit`` (the task's own, at exit) wins when we saw it.
The comm may contain spaces and dashes: the pid is what follows the *last*
dash before `` [``.

Counting is the hot path (a dentry storm is hundreds of thousands of lines a
second), so a counted line costs one ``find`` and one dict update keyed by
the raw ``comm-pid`` bytes; everything else is decoded once per process at
the end.  Past ``max_events`` lines are only counted as dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_FORK = re.compile(rb"sched_process_fork: comm=(?P<comm>.*) pid=(?P<pid>\d+) "
                   rb"child_comm=.* child_pid=(?P<child>\d+)")
_EXIT = re.compile(rb"sched_process_exit: comm=(?P<comm>.*) pid=(?P<pid>\d+) prio=")
PARENT_FORK = "fork event"
PARENT_PROC = "/proc"
PARENT_EXITED = "exited"
PARENT_UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessCount:
    """Events of one process (thread id, as the kernel's ``common_pid``)."""

    pid: int
    comm: str
    events: int
    events_per_second: float | None
    #: event name -> count (the syscalls of a lookup trace; one entry for slab)
    by_event: Mapping[str, int]
    ppid: int | None
    parent_comm: str | None
    #: where ppid came from: "fork event", "/proc", "exited" (gone before we could look)
    #: or "unknown"
    parent_source: str
    #: the process exited during the trace (we saw its sched_process_exit)
    exited: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandCount:
    """Events of every process with one command name and one parent."""

    comm: str
    ppid: int | None
    parent_comm: str | None
    processes: int
    events: int
    events_per_second: float | None


@dataclass(slots=True)
class Counter:
    """Accumulates trace_pipe lines; :meth:`processes` gives the result."""

    max_events: int = 5_000_000
    events: int = 0
    dropped_over_cap: int = 0
    counts: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    #: child pid -> (parent pid, parent comm), from sched_process_fork
    forks: dict[int, tuple[int, str]] = field(default_factory=dict)
    #: pid -> comm at exit, from sched_process_exit
    exits: dict[int, str] = field(default_factory=dict)
    #: pid -> (ppid, parent comm) read from /proc while the process lived
    proc_parents: dict[int, tuple[int, str | None]] = field(default_factory=dict)
    #: pids whose /proc entry was gone when we looked
    gone: set[int] = field(default_factory=set)
    #: pids seen since the last :meth:`take_new_pids`
    _new: set[int] = field(default_factory=set)
    _known: set[bytes] = field(default_factory=set)

    def feed(self, lines: Iterable[bytes]) -> None:
        counts = self.counts
        for line in lines:
            br = line.find(b" [")
            if br < 0:
                continue
            colon = line.find(b": ", br)
            if colon < 0:
                continue
            body = line[colon + 2:]
            if body.startswith(b"sched_process_"):
                self._sched(body)
                continue
            if self.events >= self.max_events:
                self.dropped_over_cap += 1
                continue
            self.events += 1
            end = body.find(b" ")
            event = body[:end].rstrip(b":") if end > 0 else body
            head = line[:br].strip()
            key = (head, event)
            n = counts.get(key)
            if n is None:
                counts[key] = 1
                if head not in self._known:
                    self._known.add(head)
                    pid = _pid_of(head)
                    if pid is not None:
                        self._new.add(pid)
            else:
                counts[key] = n + 1

    def _sched(self, body: bytes) -> None:
        m = _FORK.match(body)
        if m is not None:
            self.forks[int(m["child"])] = (int(m["pid"]), m["comm"].decode("utf-8", "replace"))
            return
        m = _EXIT.match(body)
        if m is not None:
            self.exits[int(m["pid"])] = m["comm"].decode("utf-8", "replace")

    def take_new_pids(self) -> list[int]:
        """Pids first seen since the last call (to look up their parent while they live)."""
        new = sorted(self._new)
        self._new.clear()
        return new

    def processes(self, seconds: float | None) -> list[ProcessCount]:
        comms: dict[int, str] = {}
        per: dict[int, dict[str, int]] = {}
        for (head, event), n in self.counts.items():
            pid = _pid_of(head)
            if pid is None:
                continue
            comm = head.rpartition(b"-")[0].decode("utf-8", "replace")
            if comms.get(pid, "<...>") == "<...>":
                comms[pid] = comm
            by = per.setdefault(pid, {})
            name = event.decode("ascii", "replace")
            by[name] = by.get(name, 0) + n
        out = []
        for pid, by in per.items():
            comm = self.exits.get(pid) or comms[pid]
            ppid: int | None = None
            pcomm: str | None = None
            source = PARENT_EXITED if pid in self.gone or pid in self.exits else PARENT_UNKNOWN
            if pid in self.forks:
                ppid, pcomm = self.forks[pid]
                source = PARENT_FORK
            elif pid in self.proc_parents:
                ppid, pcomm = self.proc_parents[pid]
                source = PARENT_PROC
            events = sum(by.values())
            out.append(ProcessCount(
                pid=pid, comm=comm, events=events,
                events_per_second=events / seconds if seconds else None,
                by_event=dict(sorted(by.items(), key=lambda kv: -kv[1])),
                ppid=ppid, parent_comm=pcomm, parent_source=source, exited=pid in self.exits,
            ))
        out.sort(key=lambda p: (-p.events, p.pid))
        return out


def by_command(rows: Iterable[ProcessCount], seconds: float | None) -> list[CommandCount]:
    """Processes grouped by (command, parent): a probe started again and again is one row."""
    groups: dict[tuple[str, int | None, str | None], list[ProcessCount]] = {}
    for r in rows:
        groups.setdefault((r.comm, r.ppid, r.parent_comm), []).append(r)
    out = [
        CommandCount(comm=comm, ppid=ppid, parent_comm=pcomm, processes=len(members),
                     events=sum(m.events for m in members),
                     events_per_second=sum(m.events for m in members) / seconds if seconds else None)
        for (comm, ppid, pcomm), members in groups.items()
    ]
    out.sort(key=lambda c: (-c.events, c.comm))
    return out


def _pid_of(head: bytes) -> int | None:
    _, dash, tail = head.rpartition(b"-")
    if not dash or not tail.isdigit():
        return None
    return int(tail)


__all__ = ["PARENT_EXITED", "PARENT_FORK", "PARENT_PROC", "PARENT_UNKNOWN", "CommandCount", "Counter",
           "ProcessCount", "by_command"]
