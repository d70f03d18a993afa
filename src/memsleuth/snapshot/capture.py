"""Take a :class:`~memsleuth.snapshot.model.Snapshot` of a :class:`~memsleuth.host.Host`.

Order matters for consistency: system files first (they are cheap and move
together), then every process, then cgroups.

This is the collection path: it must stay light.  It imports neither rich
nor numpy, stores raw bytes, and parses only what identity needs (the
``stat`` line's state, ppid, flags and starttime) with byte operations
(:func:`~memsleuth.sources.pid_stat.parse_stat_head`).

Race policy, in one place:

* a process that exits between the ``/proc`` listing and its reads
  (ENOENT/ESRCH) is skipped and counted in ``processes_vanished``;
* a file we may not read (EACCES) leaves a partial record with the reason;
* zombies are kept (their ``stat`` and ``status`` are readable; they have no
  address space, so ``smaps_rollup`` is not read);
* kernel threads have no address space either: only ``stat`` is read.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence

from memsleuth.errors import AccessDenied, ParseError, ProcessGone, SourceMissing
from memsleuth.host import Host
from memsleuth.snapshot.model import (
    REASON_DENIED,
    REASON_MISSING,
    REASON_NOT_CAPTURED,
    ProcessSample,
    Snapshot,
)
from memsleuth.sources.pid_stat import PF_KTHREAD, parse_stat_head

#: System files every snapshot reads, relative to the root.
SYSTEM_FILES: tuple[str, ...] = (
    "proc/meminfo",
    "proc/vmstat",
    "proc/slabinfo",
    "proc/buddyinfo",
    "proc/zoneinfo",
    "proc/pagetypeinfo",
    "proc/sys/fs/dentry-state",
    "proc/sys/fs/inode-nr",
    "proc/sys/fs/file-nr",
    "proc/net/sockstat",
    "proc/net/sockstat6",
    "proc/pressure/memory",
    "proc/loadavg",
    "proc/uptime",
    "proc/stat",
    "proc/cgroups",
    "proc/version",
    "proc/sys/kernel/hostname",
    "proc/sys/kernel/random/boot_id",
    "proc/sys/kernel/pid_max",
    "proc/sys/kernel/threads-max",
    "proc/sys/net/netfilter/nf_conntrack_count",
    "proc/sys/net/netfilter/nf_conntrack_max",
    "proc/sys/fs/dentry-negative",
    "proc/sys/vm/min_free_kbytes",
    "proc/sys/vm/watermark_scale_factor",
    "proc/sys/vm/vfs_cache_pressure",
    "proc/sys/vm/swappiness",
    "proc/sys/vm/overcommit_memory",
    "proc/sys/vm/overcommit_ratio",
    "proc/sys/vm/overcommit_kbytes",
    "proc/sys/vm/admin_reserve_kbytes",
    "proc/sys/vm/user_reserve_kbytes",
    "proc/sys/vm/nr_hugepages",
    "proc/sys/vm/zone_reclaim_mode",
    "proc/sys/vm/dirty_ratio",
    "proc/sys/vm/dirty_background_ratio",
    "proc/sys/vm/max_map_count",
    "proc/sys/vm/panic_on_oom",
    "sys/kernel/mm/transparent_hugepage/enabled",
)

#: Per-NUMA-node files, under ``sys/devices/system/node/nodeN/``.
NODE_FILES: tuple[str, ...] = ("meminfo", "numastat", "cpulist")

#: Per-slab-cache files under ``sys/kernel/slab/<cache>/`` (real caches only;
#: merged aliases are symlinks, recorded in ``Snapshot.listings``, and object
#: counts are in slabinfo).  ``objects`` adds the per-NUMA-node split.
SLAB_FILES: tuple[str, ...] = ("reclaim_account",)
SLAB_FILES_NUMA: tuple[str, ...] = ("reclaim_account", "objects")

#: Files that cost more than the rest of the system part together and grow
#: with the number of tasks (vmallocinfo lists every kernel stack); read only
#: by the views and bundles that need them.
EXTRA_SYSTEM_FILES: tuple[str, ...] = ("proc/vmallocinfo",)

#: What a default process walk reads: the same set as the C floor in bench/.
#: ``cmdline`` is added by the views that print it.
DEFAULT_PROCESS_FILES: tuple[str, ...] = ("stat", "status", "smaps_rollup")

#: Files in each memory cgroup directory (v1 and v2 names; absent ones are skipped).
CGROUP_FILES: tuple[str, ...] = (
    "memory.stat",
    "memory.usage_in_bytes",
    "memory.limit_in_bytes",
    "memory.kmem.usage_in_bytes",
    "memory.current",
    "memory.max",
    "cgroup.stat",
)

_NEEDS_MM = frozenset({"smaps_rollup", "smaps", "statm", "maps", "numa_maps", "cmdline"})


def capture(
    host: Host,
    *,
    processes: bool = True,
    process_files: Sequence[str] = DEFAULT_PROCESS_FILES,
    cgroups: bool = True,
    slab_sysfs: bool = True,
    slab_files: Sequence[str] = SLAB_FILES,
    numa: bool = True,
    system_files: Iterable[str] = SYSTEM_FILES,
) -> Snapshot:
    """Read the machine once: system files, then processes, then cgroups."""
    started = time.time()
    files: dict[str, bytes] = {}
    missing: dict[str, str] = {}
    listings: dict[str, dict[str, str | None]] = {}
    known = _bundle_reasons(host)
    absent = REASON_MISSING if host.live else REASON_NOT_CAPTURED

    def grab(path: str) -> None:
        try:
            files[path] = host.read(path)
        except AccessDenied:
            missing[path] = REASON_DENIED
        except (SourceMissing, ProcessGone):
            missing[path] = known.get(path, absent)

    for path in system_files:
        grab(path)
    if numa:
        for node in _list_or_empty(host, "sys/devices/system/node"):
            if node.startswith("node") and node[4:].isdigit():
                for name in NODE_FILES:
                    grab(f"sys/devices/system/node/{node}/{name}")
    if slab_sysfs:
        try:
            listing = host.links("sys/kernel/slab")
        except (SourceMissing, AccessDenied):
            listing = {}
        if listing:
            listings["sys/kernel/slab"] = listing
            for cache, target in listing.items():
                if target is None:
                    for name in slab_files:
                        grab(f"sys/kernel/slab/{cache}/{name}")

    samples: list[ProcessSample] = []
    vanished = 0
    if processes:
        for pid in host.pids():
            sample = read_process(host, pid, process_files, known)
            if sample is None:
                vanished += 1
            else:
                samples.append(sample)

    if cgroups:
        for base in _cgroup_roots(host):
            for cg in _walk_dirs(host, base):
                for name in CGROUP_FILES:
                    path = f"{cg}/{name}"
                    try:
                        files[path] = host.read(path)
                    except (SourceMissing, ProcessGone):
                        pass  # not every hierarchy has every file
                    except AccessDenied:
                        missing[path] = REASON_DENIED

    return Snapshot(
        # the live host's meta is read once per Host: each capture carries its own time
        meta=dataclasses.replace(host.meta, captured_at=started) if host.live else host.meta,
        started_at=started if host.live else (host.meta.captured_at or started),
        ended_at=time.time() if host.live else (host.meta.captured_at or started),
        files=files,
        listings=listings,
        missing=missing,
        processes=tuple(samples),
        processes_walked=processes,
        processes_vanished=vanished,
    )


def read_process(
    host: Host, pid: int, names: Sequence[str], known: dict[str, str] | None = None
) -> ProcessSample | None:
    """Read one process's files; ``None`` if it exited before ``stat`` was read.

    ``stat`` is always read first: it gives identity (starttime), state and
    the kernel-thread flag that decide which other files make sense.
    """
    try:
        stat = host.read(f"proc/{pid}/stat")
    except (ProcessGone, SourceMissing):
        return None
    except AccessDenied:
        # /proc/PID/stat is world-readable; EACCES here means hidepid=.
        return None
    try:
        comm, state, ppid, flags, starttime = parse_stat_head(stat)
    except ParseError:
        return None  # empty read: the task died between open and read
    kthread = bool(flags & PF_KTHREAD)
    files: dict[str, bytes] = {"stat": stat}
    unreadable: dict[str, str] = {}
    for name in names:
        if name == "stat":
            continue
        if name in _NEEDS_MM and (kthread or state == "Z"):
            continue
        if kthread and name == "status":
            continue
        path = f"proc/{pid}/{name}"
        try:
            files[name] = host.read(path)
        except ProcessGone:
            return None
        except AccessDenied:
            unreadable[name] = REASON_DENIED
        except SourceMissing:
            unreadable[name] = (known or {}).get(
                path, REASON_MISSING if host.live else REASON_NOT_CAPTURED)
    if "smaps_rollup" in files and not files["smaps_rollup"]:
        # an empty read from a live task means its mm went away under us
        return None
    return ProcessSample(
        pid=pid,
        starttime_ticks=starttime,
        ppid=ppid,
        comm=comm,
        state=state,
        kernel_thread=kthread,
        files=files,
        unreadable=unreadable,
    )


def _bundle_reasons(host: Host) -> dict[str, str]:
    meta = host.bundle_meta
    raw = meta.get("missing") if meta else None
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _list_or_empty(host: Host, path: str) -> list[str]:
    try:
        return host.listdir(path)
    except (SourceMissing, AccessDenied):
        return []


def _cgroup_roots(host: Host) -> list[str]:
    """Hierarchies that carry memory accounting: v1 ``memory``, v2 unified."""
    roots = []
    if host.exists("sys/fs/cgroup/memory/memory.stat") or host.exists(
        "sys/fs/cgroup/memory/memory.usage_in_bytes"
    ):
        roots.append("sys/fs/cgroup/memory")
    for v2 in ("sys/fs/cgroup", "sys/fs/cgroup/unified"):
        controllers = host.read_optional(f"{v2}/cgroup.controllers")
        if controllers is not None and b"memory" in controllers.split():
            roots.append(v2)
            break
    return roots


def _walk_dirs(host: Host, base: str) -> list[str]:
    out = [base]
    stack = [base]
    while stack:
        current = stack.pop()
        try:
            children = host.subdirs(current)
        except (SourceMissing, AccessDenied, ProcessGone):
            continue
        for child in sorted(children):
            path = f"{current}/{child}"
            out.append(path)
            stack.append(path)
    return out
