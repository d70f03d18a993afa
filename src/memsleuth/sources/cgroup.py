"""Cgroup memory files, v1 and v2, and the files that say where a task sits.

* ``memory.stat``: ``key value`` lines.  v2 (``/sys/fs/cgroup/<path>/``;
  Documentation/admin-guide/cgroup-v2.rst "memory.stat") prints ``anon``,
  ``file``, ``kernel``, ``slab`` ...; v1 (``/sys/fs/cgroup/memory/<path>/``,
  ``/cgroup/memory/`` on CentOS 6; Documentation/admin-guide/cgroup-v1/
  memory.rst section 5.2) prints ``cache``, ``rss``, ``mapped_file`` ... and
  the same again prefixed ``total_`` for the whole subtree.
  :func:`memory_stat_version` tells them apart by their keys.
* ``cgroup.stat`` (v2): ``nr_descendants``, ``nr_dying_descendants``, and
  since Linux 6.11 ``nr_subsys_<controller>`` / ``nr_dying_subsys_<controller>``.
* ``/proc/cgroups``: ``subsys_name hierarchy num_cgroups enabled``.
* ``/proc/PID/cgroup``: ``hierarchy-ID:controller-list:path`` lines;
  v2's single line is ``0::/path``.
* Single-value files: ``memory.current``, ``memory.usage_in_bytes``,
  ``memory.kmem.usage_in_bytes`` (a byte count); ``memory.max``,
  ``memory.high``, ``memory.swap.max``, ``memory.limit_in_bytes``,
  ``memory.memsw.limit_in_bytes`` (a limit).

Units: every size in ``memory.stat`` (both versions) is already *bytes*; the
event counters (``pgfault``, ``pgmajfault``, ``pgpgin``, ``pgscan``,
``workingset_*`` ...) are plain counts, cumulative since the cgroup was
created.  Byte fields end in ``_bytes``; counters keep the kernel key.

Traps:

* Unlimited: v2 prints ``max``; v1 prints ``PAGE_COUNTER_MAX * PAGE_SIZE``,
  9223372036854771712 with 4 KiB pages, 9223372036854710272 with 64 KiB
  pages, and ``LLONG_MAX`` (9223372036854775807) on kernels before 3.19,
  which used res_counter.  :func:`parse_limit` turns all of them into
  ``None``, meaning *unlimited* (the file was read, so it is not absence).
* v1 ``rss`` is anonymous memory plus swap cache, not the tasks' RSS;
  ``cache`` includes ``shmem`` (tmpfs), which reclaim cannot drop without
  swap.  v2 ``file`` likewise includes ``shmem``.
* v2 ``kernel`` (5.18+) sums ``kernel_stack``, ``pagetables``, ``percpu``,
  ``vmalloc``, ``slab`` and other kernel allocations; ``sock`` is separate.
  ``slab`` is ``slab_reclaimable + slab_unreclaimable``.
* v2 ``memory.stat`` does not exist in the root cgroup (use
  ``/proc/meminfo``); the kernel documentation warns that new keys appear
  in the middle, so we look keys up by name and keep every line in ``raw``.
* v2 ``workingset_refault`` split into ``_anon``/``_file`` in 5.9; the old
  key, like any key we do not type, is kept in ``raw``.
* ``/proc/PID/cgroup`` of a task in a removed v2 cgroup ends in
  `` (deleted)``; :func:`systemd_unit_of` strips it.  v1 named hierarchies
  keep their ``name=`` prefix as the key (``name=systemd``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Literal

from memsleuth.errors import ParseError
from memsleuth.sources._kv import parse_space_kv

SOURCE_MEMORY_STAT = "memory.stat"
SOURCE_CGROUP_STAT = "cgroup.stat"
SOURCE_PROC_CGROUPS = "proc/cgroups"
SOURCE_PID_CGROUP = "proc/PID/cgroup"
SOURCE_VALUE = "cgroup memory file"

#: v1 limits at or above this mean "no limit": LLONG_MAX rounded down to a
#: multiple of any page size up to 64 KiB.
V1_UNLIMITED_FROM = (1 << 63) - (1 << 16)

#: v2 memory.stat key -> field.  Sizes (bytes) then event counters.
# fmt: off
V2_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        **{
            k: f"{k}_bytes"
            for k in (
                "anon", "file", "kernel", "kernel_stack", "pagetables", "sec_pagetables",
                "percpu", "sock", "vmalloc", "shmem", "zswap", "zswapped", "file_mapped",
                "file_dirty", "file_writeback", "swapcached", "anon_thp", "file_thp",
                "shmem_thp", "inactive_anon", "active_anon", "inactive_file", "active_file",
                "unevictable", "slab_reclaimable", "slab_unreclaimable", "slab", "hugetlb",
            )
        },
        **{
            k: k
            for k in (
                "workingset_refault_anon", "workingset_refault_file",
                "workingset_activate_anon", "workingset_activate_file",
                "workingset_restore_anon", "workingset_restore_file", "workingset_nodereclaim",
                "pswpin", "pswpout", "pgscan", "pgsteal", "pgscan_kswapd", "pgscan_direct",
                "pgsteal_kswapd", "pgsteal_direct", "pgfault", "pgmajfault", "pgrefill",
                "pgactivate", "pgdeactivate", "thp_fault_alloc", "thp_collapse_alloc",
            )
        },
    }
)
# fmt: on

#: v1 memory.stat key -> field, for the cgroup's own line; ``total_<key>``
#: fills :attr:`MemoryStatV1.total` the same way.
# fmt: off
V1_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        **{
            k: f"{k}_bytes"
            for k in (
                "cache", "rss", "rss_huge", "shmem", "mapped_file", "dirty", "writeback",
                "swap", "swapcached", "inactive_anon", "active_anon", "inactive_file",
                "active_file", "unevictable",
            )
        },
        **{
            k: k
            for k in (
                "pgpgin", "pgpgout", "pgfault", "pgmajfault", "workingset_refault_anon",
                "workingset_refault_file", "workingset_activate_anon",
                "workingset_activate_file", "workingset_restore_anon",
                "workingset_restore_file", "workingset_nodereclaim",
            )
        },
    }
)
# fmt: on

#: keys only one version prints; what :func:`memory_stat_version` looks at.
_V1_ONLY = frozenset({"cache", "rss", "mapped_file", "pgpgin", "hierarchical_memory_limit"})
_V2_ONLY = frozenset({"anon", "file", "kernel_stack", "file_mapped", "slab"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryStatV2:
    """A cgroup v2 ``memory.stat``.  Sizes in bytes, events as counts."""

    version: ClassVar[Literal[2]] = 2

    anon_bytes: int | None = None
    file_bytes: int | None = None
    kernel_bytes: int | None = None
    kernel_stack_bytes: int | None = None
    pagetables_bytes: int | None = None
    sec_pagetables_bytes: int | None = None
    percpu_bytes: int | None = None
    sock_bytes: int | None = None
    vmalloc_bytes: int | None = None
    shmem_bytes: int | None = None
    zswap_bytes: int | None = None
    zswapped_bytes: int | None = None
    file_mapped_bytes: int | None = None
    file_dirty_bytes: int | None = None
    file_writeback_bytes: int | None = None
    swapcached_bytes: int | None = None
    anon_thp_bytes: int | None = None
    file_thp_bytes: int | None = None
    shmem_thp_bytes: int | None = None
    inactive_anon_bytes: int | None = None
    active_anon_bytes: int | None = None
    inactive_file_bytes: int | None = None
    active_file_bytes: int | None = None
    unevictable_bytes: int | None = None
    slab_reclaimable_bytes: int | None = None
    slab_unreclaimable_bytes: int | None = None
    slab_bytes: int | None = None
    hugetlb_bytes: int | None = None
    workingset_refault_anon: int | None = None
    workingset_refault_file: int | None = None
    workingset_activate_anon: int | None = None
    workingset_activate_file: int | None = None
    workingset_restore_anon: int | None = None
    workingset_restore_file: int | None = None
    workingset_nodereclaim: int | None = None
    pswpin: int | None = None
    pswpout: int | None = None
    pgscan: int | None = None
    pgsteal: int | None = None
    pgscan_kswapd: int | None = None
    pgscan_direct: int | None = None
    pgsteal_kswapd: int | None = None
    pgsteal_direct: int | None = None
    pgfault: int | None = None
    pgmajfault: int | None = None
    pgrefill: int | None = None
    pgactivate: int | None = None
    pgdeactivate: int | None = None
    thp_fault_alloc: int | None = None
    thp_collapse_alloc: int | None = None
    #: Every line as printed (already bytes or counts).
    raw: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryStatV1:
    """A cgroup v1 ``memory.stat``: this cgroup's own pages, and the subtree's.

    The record for the subtree (:attr:`total`, from the ``total_*`` lines)
    is a ``MemoryStatV1`` too, whose own ``total`` and limits are ``None``.
    """

    version: ClassVar[Literal[1]] = 1

    cache_bytes: int | None = None
    rss_bytes: int | None = None
    rss_huge_bytes: int | None = None
    shmem_bytes: int | None = None
    mapped_file_bytes: int | None = None
    dirty_bytes: int | None = None
    writeback_bytes: int | None = None
    swap_bytes: int | None = None
    swapcached_bytes: int | None = None
    inactive_anon_bytes: int | None = None
    active_anon_bytes: int | None = None
    inactive_file_bytes: int | None = None
    active_file_bytes: int | None = None
    unevictable_bytes: int | None = None
    pgpgin: int | None = None
    pgpgout: int | None = None
    pgfault: int | None = None
    pgmajfault: int | None = None
    workingset_refault_anon: int | None = None
    workingset_refault_file: int | None = None
    workingset_activate_anon: int | None = None
    workingset_activate_file: int | None = None
    workingset_restore_anon: int | None = None
    workingset_restore_file: int | None = None
    workingset_nodereclaim: int | None = None
    #: The tightest ``memory.limit_in_bytes`` on the path to the root;
    #: ``None`` when unlimited or not printed (``raw`` tells which).
    hierarchical_memory_limit_bytes: int | None = None
    #: The same for memory+swap (printed only with swap accounting).
    hierarchical_memsw_limit_bytes: int | None = None
    #: The ``total_*`` lines: this cgroup and all its descendants (its
    #: ``raw`` has the keys without the ``total_`` prefix).
    total: MemoryStatV1 | None = None
    #: Every line as printed (already bytes or counts).
    raw: Mapping[str, int] = field(default_factory=dict)


MemoryStat = MemoryStatV1 | MemoryStatV2


def memory_stat_version(keys: Iterable[str], *, source: str = SOURCE_MEMORY_STAT) -> Literal[1, 2]:
    """1 or 2: which cgroup version printed a memory.stat with these keys.

    v1 alone prints ``cache``/``rss``/``pgpgin``/``hierarchical_memory_limit``;
    v2 alone ``anon``/``file``/``slab``.  A mix, or neither, is a
    :class:`~memsleuth.errors.ParseError`.
    """
    present = set(keys)
    v1, v2 = bool(present & _V1_ONLY), bool(present & _V2_ONLY)
    if v1 and not v2:
        return 1
    if v2 and not v1:
        return 2
    why = "both v1 and v2 keys" if v1 else "neither v1 nor v2 keys"
    raise ParseError(source, f"cannot tell the cgroup version: {why}")


def _typed(raw: Mapping[str, int], table: Mapping[str, str], prefix: str = "") -> dict[str, int]:
    return {f: raw[prefix + k] for k, f in table.items() if prefix + k in raw}


def parse_memory_stat_v2(text: str, *, source: str = SOURCE_MEMORY_STAT) -> MemoryStatV2:
    """Parse a cgroup v2 memory.stat."""
    raw = parse_space_kv(text, source)
    if memory_stat_version(raw, source=source) != 2:
        raise ParseError(source, "this is a cgroup v1 memory.stat")
    return MemoryStatV2(raw=MappingProxyType(raw), **_typed(raw, V2_FIELDS))


def _limit_or_none(value: int | None) -> int | None:
    return None if value is None or value >= V1_UNLIMITED_FROM else value


def parse_memory_stat_v1(text: str, *, source: str = SOURCE_MEMORY_STAT) -> MemoryStatV1:
    """Parse a cgroup v1 memory.stat."""
    raw = parse_space_kv(text, source)
    if memory_stat_version(raw, source=source) != 1:
        raise ParseError(source, "this is a cgroup v2 memory.stat")
    total_raw = {k.removeprefix("total_"): v for k, v in raw.items() if k.startswith("total_")}
    total = (
        MemoryStatV1(raw=MappingProxyType(total_raw), total=None, **_typed(total_raw, V1_FIELDS))
        if total_raw
        else None
    )
    return MemoryStatV1(
        raw=MappingProxyType(raw),
        hierarchical_memory_limit_bytes=_limit_or_none(raw.get("hierarchical_memory_limit")),
        hierarchical_memsw_limit_bytes=_limit_or_none(raw.get("hierarchical_memsw_limit")),
        total=total,
        **_typed(raw, V1_FIELDS),
    )


def parse_memory_stat(text: str, *, source: str = SOURCE_MEMORY_STAT) -> MemoryStat:
    """Parse a memory.stat of either version (see :func:`memory_stat_version`)."""
    raw = parse_space_kv(text, source)
    if memory_stat_version(raw, source=source) == 1:
        return parse_memory_stat_v1(text, source=source)
    return parse_memory_stat_v2(text, source=source)


def parse_counter(text: str, *, source: str = SOURCE_VALUE) -> int:
    """A byte count: ``memory.current``, ``memory.usage_in_bytes``,
    ``memory.kmem.usage_in_bytes``, ``memory.swap.current``."""
    value = text.strip()
    try:
        n = int(value)
    except ValueError:
        raise ParseError(source, f"expected a byte count, got {value[:40]!r}") from None
    if n < 0:
        raise ParseError(source, f"negative byte count {n}")
    return n


def parse_limit(text: str, *, source: str = SOURCE_VALUE) -> int | None:
    """A limit in bytes, or ``None`` for *unlimited*.

    v2 ``memory.max``/``memory.high``/``memory.swap.max`` print ``max``;
    v1 ``memory.limit_in_bytes``/``memory.memsw.limit_in_bytes`` print a
    number at or above :data:`V1_UNLIMITED_FROM`.
    """
    value = text.strip()
    if value == "max":
        return None
    return _limit_or_none(parse_counter(value, source=source))


@dataclass(frozen=True, slots=True, kw_only=True)
class CgroupStat:
    """A cgroup v2 ``cgroup.stat``."""

    nr_descendants: int | None = None
    #: Removed cgroups still pinned by memory charged to them (page cache,
    #: slab): many of them is a memory leak of its own.
    nr_dying_descendants: int | None = None
    #: controller -> live css count in the subtree (6.11+; else ``None``)
    nr_subsys: Mapping[str, int] | None = None
    #: controller -> dying css count (6.11+; else ``None``)
    nr_dying_subsys: Mapping[str, int] | None = None
    raw: Mapping[str, int] = field(default_factory=dict)


def parse_cgroup_stat(text: str, *, source: str = SOURCE_CGROUP_STAT) -> CgroupStat:
    """Parse a cgroup v2 cgroup.stat."""
    raw = parse_space_kv(text, source)
    if "nr_descendants" not in raw:
        raise ParseError(source, "no nr_descendants line")
    live = {k.removeprefix("nr_subsys_"): v for k, v in raw.items() if k.startswith("nr_subsys_")}
    dying = {
        k.removeprefix("nr_dying_subsys_"): v for k, v in raw.items() if k.startswith("nr_dying_subsys_")
    }
    return CgroupStat(
        nr_descendants=raw["nr_descendants"],
        nr_dying_descendants=raw.get("nr_dying_descendants"),
        nr_subsys=MappingProxyType(live) if live else None,
        nr_dying_subsys=MappingProxyType(dying) if dying else None,
        raw=MappingProxyType(raw),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CgroupSubsys:
    """One line of /proc/cgroups."""

    subsys_name: str
    #: v1 hierarchy id; 0 when bound to v2 (or not mounted).
    hierarchy: int
    num_cgroups: int
    enabled: bool


def parse_proc_cgroups(text: str, *, source: str = SOURCE_PROC_CGROUPS) -> Mapping[str, CgroupSubsys]:
    """Parse /proc/cgroups into controller name -> :class:`CgroupSubsys`."""
    out: dict[str, CgroupSubsys] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 4:
            raise ParseError(source, f"expected 4 fields: {line!r}")
        try:
            hierarchy, num_cgroups, enabled = int(parts[1]), int(parts[2]), int(parts[3])
        except ValueError:
            raise ParseError(source, f"non-integer field: {line!r}") from None
        out[parts[0]] = CgroupSubsys(
            subsys_name=parts[0], hierarchy=hierarchy, num_cgroups=num_cgroups, enabled=enabled != 0
        )
    if not out:
        raise ParseError(source, "no controllers listed")
    return MappingProxyType(out)


def parse_pid_cgroup(text: str, *, source: str = SOURCE_PID_CGROUP) -> Mapping[str, str]:
    """Parse /proc/PID/cgroup into controller -> path.

    ``4:memory:/a`` gives ``{"memory": "/a"}``; ``2:cpu,cpuacct:/`` one key
    per controller; v2's ``0::/b`` the key ``""``; a v1 named hierarchy
    ``1:name=systemd:/c`` the key ``name=systemd``.  Paths are as printed
    (they may contain ``:`` and end in `` (deleted)``).
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].startswith("/"):
            raise ParseError(source, f"expected 'id:controllers:/path': {line!r}")
        for controller in parts[1].split(","):
            out[controller] = parts[2]
    if not out:
        raise ParseError(source, "empty file")
    return MappingProxyType(out)


def memory_cgroup_of(paths: Mapping[str, str]) -> str | None:
    """The memory cgroup a task is charged to, from :func:`parse_pid_cgroup`'s mapping.

    The v1 ``memory`` controller's path when one is listed: on a hybrid host
    (v1 controllers plus the unified hierarchy, which then carries no
    controller) ``0::/user.slice/...`` says nothing about memory.  Else the
    unified (v2) path, else systemd's named v1 hierarchy (``name=systemd``,
    a v1 host without the memory controller mounted).  ``None`` when none of
    them is listed.  The one choice for history, snapshots and attribution.
    """
    return paths.get("memory") or paths.get("") or paths.get("name=systemd")


_CONTAINER_ID = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")
_UNIT_SUFFIXES = (".service", ".scope", ".slice", ".socket", ".mount", ".swap")
_DELETED = " (deleted)"


def systemd_unit_of(path: str) -> str | None:
    """Who a cgroup path belongs to: a short container id, or a systemd unit.

    * A container: any path component holding a 64-hex-digit id (docker and
      kubelet's cgroupfs layout ``/docker/<id>``, ``/kubepods/burstable/
      pod<uid>/<id>``; systemd layout ``docker-<id>.scope``,
      ``cri-containerd-<id>.scope``, ``crio-<id>.scope``, ``libpod-<id>.scope``,
      ``...slice:cri-containerd:<id>``) gives the first 12 digits, as
      ``docker ps`` shows them.  The deepest such component wins, and a
      container beats a unit (``docker-<id>.scope/init.scope`` is the
      container).
    * Otherwise the deepest unit name: ``/system.slice/nginx.service`` ->
      ``nginx.service``; ``/user.slice/user-1000.slice/session-3.scope`` ->
      ``session-3.scope``.
    * Otherwise (``/``, a cgroup made by hand) ``None``.
    """
    path = path.removesuffix(_DELETED)
    components = [c for c in path.split("/") if c]
    for component in reversed(components):
        ids = _CONTAINER_ID.findall(component)
        if ids:
            return str(ids[-1][:12])
    for component in reversed(components):
        if component.endswith(_UNIT_SUFFIXES):
            return component
    return None
