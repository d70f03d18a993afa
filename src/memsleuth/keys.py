"""The series-key vocabulary: one typed key per subject kind, with one ``parse``/``str`` pair.

Every series in the store, a History or (later) Prometheus data is named by
a string key; this module is the only place that builds or takes one apart.
The recorder (:mod:`memsleuth.store.extract`) writes keys with the
``*_key`` functions and the prefixes below; readers call :func:`parse_key`
and get a frozen record back, never a regular expression.

=====================================  ==================================
key                                     record
=====================================  ==================================
``meminfo.SReclaimable``                :class:`MeminfoKey`
``slab.dentry.size_bytes``              :class:`SlabKey` (``num_objs``, ``active_objs``)
``proc.1234:5678.pss_bytes``            :class:`ProcessKey` (pid, starttime, field)
``cgroup./a/b.memory.stat.anon``        :class:`CgroupKey` (path, file, stat)
``cgroup./a/b.memory.current``          :class:`CgroupKey` (stat ``None``)
``dentry.nr_negative``, ``vmstat.x``    :class:`CounterKey` (family, name)
``derived.unaccounted_bytes``           :class:`DerivedKey`
=====================================  ==================================

Names may contain dots (cgroup paths, a few slab caches): the parts are
split at the known separators from the right, never by counting dots.
"""

from __future__ import annotations

from dataclasses import dataclass

MEMINFO = "meminfo."
SLAB = "slab."
PROC = "proc."
CGROUP = "cgroup."
DERIVED = "derived."
#: families of plain ``<family>.<name>`` counters and gauges
COUNTER_FAMILIES = ("vmstat", "dentry", "inode", "file", "sockstat", "psi")
_MEMORY_STAT = ".memory.stat."
_MEMORY_FILE = ".memory."


@dataclass(frozen=True, slots=True)
class MeminfoKey:
    field: str

    def __str__(self) -> str:
        return MEMINFO + self.field


@dataclass(frozen=True, slots=True)
class SlabKey:
    cache: str
    #: "size_bytes", "active_objs" or "num_objs"
    field: str = "size_bytes"

    def __str__(self) -> str:
        return f"{SLAB}{self.cache}.{self.field}"


@dataclass(frozen=True, slots=True)
class ProcessKey:
    pid: int
    starttime_ticks: int
    #: "pss_bytes", "rss_anon_bytes", "vm_pte_bytes", "threads"
    field: str

    @property
    def identity(self) -> str:
        """``pid:starttime``: who the process is (a reused pid is another process)."""
        return f"{self.pid}:{self.starttime_ticks}"

    def __str__(self) -> str:
        return f"{PROC}{self.pid}:{self.starttime_ticks}.{self.field}"


@dataclass(frozen=True, slots=True)
class CgroupKey:
    #: the cgroup's path from its hierarchy's root: "/", "/system.slice/nginx.service"
    path: str
    #: the file: "memory.stat", "memory.current", "memory.kmem.usage_in_bytes" ...
    file: str
    #: the memory.stat key; ``None`` for a one-value file
    stat: str | None = None

    def __str__(self) -> str:
        tail = f".{self.stat}" if self.stat is not None else ""
        return f"{CGROUP}{self.path}.{self.file}{tail}"


@dataclass(frozen=True, slots=True)
class CounterKey:
    family: str
    name: str

    def __str__(self) -> str:
        return f"{self.family}.{self.name}"


@dataclass(frozen=True, slots=True)
class DerivedKey:
    name: str

    def __str__(self) -> str:
        return DERIVED + self.name


SeriesKey = MeminfoKey | SlabKey | ProcessKey | CgroupKey | CounterKey | DerivedKey


def parse_key(key: str) -> SeriesKey | None:
    """The record a series key stands for; ``None`` for a key of no known kind."""
    if key.startswith(MEMINFO):
        return MeminfoKey(key[len(MEMINFO):])
    if key.startswith(PROC):
        ident, dot, field = key[len(PROC):].partition(".")
        pid, colon, start = ident.partition(":")
        if not (dot and colon and pid.isdigit() and start.isdigit() and field):
            return None
        return ProcessKey(int(pid), int(start), field)
    if key.startswith(SLAB):
        cache, dot, field = key[len(SLAB):].rpartition(".")
        return SlabKey(cache, field) if dot and cache else None
    if key.startswith(CGROUP):
        rest = key[len(CGROUP):]
        path, sep, stat = rest.rpartition(_MEMORY_STAT)
        if sep:
            return CgroupKey(path, "memory.stat", stat)
        path, sep, name = rest.rpartition(_MEMORY_FILE)
        return CgroupKey(path, "memory." + name) if sep and path else None
    if key.startswith(DERIVED):
        return DerivedKey(key[len(DERIVED):])
    family, dot, name = key.partition(".")
    if dot and family in COUNTER_FAMILIES:
        return CounterKey(family, name)
    return None


def slab_key(cache: str, field: str) -> str:
    """``slab.<cache>.<field>`` (the recorder's form of :class:`SlabKey`, without building one)."""
    return f"{SLAB}{cache}.{field}"


def cgroup_key(path: str, file: str, stat: str | None = None) -> str:
    """``cgroup.<path>.<file>[.<stat>]`` (the recorder's form of :class:`CgroupKey`)."""
    return f"{CGROUP}{path}.{file}.{stat}" if stat is not None else f"{CGROUP}{path}.{file}"


def process_prefix(pid: int, starttime_ticks: int) -> str:
    """``proc.<pid>:<starttime>.``: what every series of one process starts with."""
    return f"{PROC}{pid}:{starttime_ticks}."


def process_identity(key: str) -> str | None:
    """``pid:starttime`` of a ``proc.*`` key, else ``None`` (the cheap form of :func:`parse_key`)."""
    k = parse_key(key) if key.startswith(PROC) else None
    return k.identity if isinstance(k, ProcessKey) else None


def slab_cache(key: str) -> str | None:
    """The cache of a ``slab.*`` key, else ``None``."""
    k = parse_key(key) if key.startswith(SLAB) else None
    return k.cache if isinstance(k, SlabKey) else None


__all__ = ["CGROUP", "COUNTER_FAMILIES", "DERIVED", "MEMINFO", "PROC", "SLAB", "CgroupKey", "CounterKey",
           "DerivedKey", "MeminfoKey", "ProcessKey", "SeriesKey", "SlabKey", "cgroup_key", "parse_key",
           "process_identity", "process_prefix", "slab_cache", "slab_key"]
