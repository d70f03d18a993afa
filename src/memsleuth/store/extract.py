"""Numeric series from one snapshot, by the pure parsers in :mod:`memsleuth.sources`.

Series names are stable, dotted, and built from the kernel's own vocabulary:

====================================  =========================================
``meminfo.<Key>``                     every /proc/meminfo line (kB -> bytes)
``vmstat.<key>``                      every /proc/vmstat counter, raw
``slab.<cache>.size_bytes``           num_slabs x pagesperslab x page size
``slab.<cache>.active_objs``          and ``num_objs`` (object size is in the raw bytes)
``dentry.<field>``                    dentry-state (``nr_negative`` only if counted)
``inode.<field>``, ``file.<field>``   inode-nr, file-nr
``sockstat.<field>``                  /proc/net/sockstat (pages stay pages)
``psi.memory.<some|full>.<field>``    /proc/pressure/memory
``cgroup.<path>.memory.stat.<key>``   per memory cgroup; ``<path>`` starts with
                                      ``/`` (``/`` is the root); also
                                      ``memory.current``, ``memory.max``,
                                      ``memory.usage_in_bytes`` ...
``proc.<pid>:<starttime>.<field>``    ``pss_bytes``, ``rss_anon_bytes``,
                                      ``threads``, ``vm_pte_bytes``
====================================  =========================================

A file that is missing or does not parse contributes no series (absent is
absent, never 0); the raw bytes are in the store anyway, so a better parser
can re-read them later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import cast

from memsleuth.errors import ParseError
from memsleuth.keys import MEMINFO, cgroup_key, process_prefix, slab_key
from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.sources._kv import scan_fields
from memsleuth.sources.cgroup import parse_counter, parse_limit, parse_memory_stat
from memsleuth.sources.dentry_state import kernel_has_nr_negative, parse_dentry_state
from memsleuth.sources.file_nr import parse_file_nr
from memsleuth.sources.inode_nr import parse_inode_nr
from memsleuth.sources.meminfo import parse_meminfo
from memsleuth.sources.pressure import parse_pressure
from memsleuth.sources.slabinfo import parse_slabinfo
from memsleuth.sources.sockstat import parse_sockstat
from memsleuth.sources.vmstat import parse_vmstat

Value = int | float
Point = tuple[str, Value]

_SOCKSTAT_FIELDS = (
    "sockets_used", "tcp_inuse", "tcp_orphan", "tcp_tw", "tcp_alloc", "tcp_mem_pages",
    "udp_inuse", "udp_mem_pages", "udplite_inuse", "raw_inuse", "frag_inuse", "frag_memory_bytes",
)
_CGROUP_BASES = ("sys/fs/cgroup/memory", "sys/fs/cgroup/unified", "sys/fs/cgroup")
_CGROUP_COUNTERS = ("memory.current", "memory.usage_in_bytes", "memory.kmem.usage_in_bytes")
_CGROUP_LIMITS = ("memory.max", "memory.limit_in_bytes")
#: /proc/PID/status keys we keep as series -> series field
_STATUS_KEYS: dict[str, str] = {
    "RssAnon": "rss_anon_bytes",
    "VmPTE": "vm_pte_bytes",
    "Threads": "threads",
}


def iter_points(snap: Snapshot) -> Iterator[Point]:
    """Every ``(series key, value)`` of ``snap``: :func:`system_points`, then each :func:`process_points`."""
    yield from system_points(snap)
    for proc in snap.processes:
        yield from process_points(proc)


def _safe(snap: Snapshot, path: str, parse: Callable[[str], Iterator[Point]]) -> Iterator[Point]:
    text = snap.text(path)
    if text is None:
        return
    try:
        yield from parse(text)
    except (ParseError, ValueError, IndexError):
        return


def system_points(snap: Snapshot) -> Iterator[Point]:
    """The series of the system and cgroup files (all but ``proc.*``)."""
    page = snap.meta.page_size_bytes
    release = snap.meta.kernel_release
    has_negative = kernel_has_nr_negative(release) if release else None

    def meminfo(text: str) -> Iterator[Point]:
        for k, v in parse_meminfo(text).raw.items():
            yield MEMINFO + k, v

    def vmstat(text: str) -> Iterator[Point]:
        for k, v in parse_vmstat(text).counters.items():
            yield f"vmstat.{k}", v

    def slabinfo(text: str) -> Iterator[Point]:
        for c in parse_slabinfo(text).caches:
            yield slab_key(c.name, "size_bytes"), c.num_slabs * c.pagesperslab * page
            yield slab_key(c.name, "active_objs"), c.active_objs
            yield slab_key(c.name, "num_objs"), c.num_objs

    def dentry(text: str) -> Iterator[Point]:
        d = parse_dentry_state(text, has_nr_negative=has_negative)
        yield "dentry.nr_dentry", d.nr_dentry
        yield "dentry.nr_unused", d.nr_unused
        if d.nr_negative is not None:
            yield "dentry.nr_negative", d.nr_negative

    def inode(text: str) -> Iterator[Point]:
        i = parse_inode_nr(text)
        yield "inode.nr_inodes", i.nr_inodes
        yield "inode.nr_free_inodes", i.nr_free_inodes

    def file_nr(text: str) -> Iterator[Point]:
        f = parse_file_nr(text)
        yield "file.nr_files", f.nr_files
        yield "file.max_files", f.max_files

    def sockstat(text: str) -> Iterator[Point]:
        s = parse_sockstat(text)
        for name in _SOCKSTAT_FIELDS:
            v = getattr(s, name)
            if v is not None:
                yield f"sockstat.{name}", v

    def pressure(text: str) -> Iterator[Point]:
        p = parse_pressure(text)
        for kind, line in (("some", p.some), ("full", p.full)):
            if line is not None:
                yield f"psi.memory.{kind}.avg10_percent", line.avg10_percent
                yield f"psi.memory.{kind}.avg60_percent", line.avg60_percent
                yield f"psi.memory.{kind}.total_us", line.total_us

    yield from _safe(snap, "proc/meminfo", meminfo)
    yield from _safe(snap, "proc/vmstat", vmstat)
    yield from _safe(snap, "proc/slabinfo", slabinfo)
    yield from _safe(snap, "proc/sys/fs/dentry-state", dentry)
    yield from _safe(snap, "proc/sys/fs/inode-nr", inode)
    yield from _safe(snap, "proc/sys/fs/file-nr", file_nr)
    yield from _safe(snap, "proc/net/sockstat", sockstat)
    yield from _safe(snap, "proc/pressure/memory", pressure)
    yield from _cgroup_points(snap)


def cgroup_name(path: str) -> str | None:
    """``sys/fs/cgroup/system.slice`` -> ``/system.slice``; ``None`` if not a cgroup path."""
    for base in _CGROUP_BASES:
        if path == base:
            return "/"
        if path.startswith(base + "/"):
            rest = path[len(base) :]
            # v1 "memory" and v2 "unified" are hierarchies, not cgroups, under sys/fs/cgroup
            return rest
    return None


def _cgroup_points(snap: Snapshot) -> Iterator[Point]:
    for path, data in snap.files.items():
        if not path.startswith("sys/fs/cgroup"):
            continue
        directory, _, name = path.rpartition("/")
        cg = cgroup_name(directory)
        if cg is None:
            continue
        try:
            if name == "memory.stat":
                for k, v in _memory_stat_raw(parse_memory_stat(data.decode("ascii", "replace"))).items():
                    yield cgroup_key(cg, name, k), v
            elif name in _CGROUP_COUNTERS:
                yield cgroup_key(cg, name), parse_counter(data.decode("ascii", "replace"))
            elif name in _CGROUP_LIMITS:
                limit = parse_limit(data.decode("ascii", "replace"))
                if limit is not None:
                    yield cgroup_key(cg, name), limit
        except (ParseError, ValueError):
            continue


def _memory_stat_raw(stat: object) -> Mapping[str, int]:
    # every key as printed: ``raw`` on the typed v1/v2 records, ``values`` on the older record
    raw = getattr(stat, "raw", None)
    if raw is None:
        raw = getattr(stat, "values", {})
    return cast("Mapping[str, int]", raw)


def process_points(proc: ProcessSample) -> Iterator[Point]:
    """``proc.<pid>:<starttime>.*``: PSS, RssAnon, threads, VmPTE of one process.

    ``status`` and ``smaps_rollup`` are scanned for the lines needed with
    byte operations (:func:`memsleuth.sources._kv.scan_fields`) rather than
    fully parsed: at 1,000 processes every 10 s the full parse is most of
    the recorder's CPU.  The values are the parser's (kB -> bytes).
    """
    if proc.kernel_thread:
        return
    prefix = process_prefix(proc.pid, proc.starttime_ticks)
    status = proc.files.get("status")
    if status is not None:
        found = scan_fields(status, tuple(_STATUS_KEYS))
        for key, field_name in _STATUS_KEYS.items():
            if key in found:
                yield prefix + field_name, found[key]
    rollup = proc.files.get("smaps_rollup")
    if rollup:
        pss = scan_fields(rollup, ("Pss",)).get("Pss")
        if pss is not None:
            yield prefix + "pss_bytes", pss


__all__ = ["Point", "Value", "cgroup_name", "iter_points", "process_points", "system_points"]
