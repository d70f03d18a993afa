"""Attribution: from a growing bucket to the cache, cgroup, process, library and setting.

The chain (DESIGN.md section 5):

1. **slab cache** -> its merge group through ``/sys/kernel/slab`` (SLUB
   aliases); we say when a cache is merged, and when the kernel (SLAB,
   2.6.32) has no sysfs to tell;
2. **cgroup** -> which memory cgroup's slab charge grows (v2 ``memory.stat``
   ``slab_reclaimable``/``slab``, v1 ``memory.kmem.usage_in_bytes``), named
   as the systemd unit or container it stands for;
3. **process and library** -> which processes map the libraries a rule
   names (``/proc/PID/maps``), with package versions from dpkg, ``rpm -qf``
   (live hosts with rpm only), versioned ``/usr/share/doc/<pkg>-<ver>``
   directories (RHEL/CentOS 7 and older), else the soname;
4. **environment** -> the *one* key the rule needs, live only, through
   :meth:`Machine.environ_has` (:meth:`memsleuth.host.Host.environ_has`).

Short-lived processes (a curl probe) are usually gone before anyone reads
``/proc``; what the snapshots captured (comm, cmdline, ppid) is used then,
with the parent that is still alive (the shell loop or cron that starts it).

Nothing here reads the machine: what attribution needs to know about it is
the :class:`Machine` protocol, answered in plain records;
:class:`memsleuth.collect.inspect.HostInspector` answers it from a
:class:`~memsleuth.host.Host` (the live host, a root or a bundle).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from memsleuth.analysis.series import History
from memsleuth.errors import AccessDenied, ProcessGone, SourceMissing
from memsleuth.keys import CGROUP, CgroupKey, parse_key
from memsleuth.sources.cgroup import systemd_unit_of
from memsleuth.sources.slab_sysfs import SlabSysfs

#: library stem -> package names to look for (Debian, EL); first that answers wins
LIBRARY_PACKAGES: dict[str, tuple[str, ...]] = {
    "libsoftokn3": ("nss-softokn", "libnss3"),
    "libnss3": ("nss", "libnss3"),
    "libcurl": ("libcurl", "curl", "libcurl4", "libcurl3-gnutls", "libcurl4-openssl-dev"),
    "curl": ("curl",),
}
_SONAME_VERSION = re.compile(r"\.so\.([0-9][0-9.]*)$")
_MAX_SUSPECTS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabAttribution:
    cache: str
    #: other cache names in its SLUB merge group (empty: not merged)
    merged_with: tuple[str, ...]
    #: False when the host has no /sys/kernel/slab (SLAB, or a root without sys)
    sysfs_known: bool
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CgroupCharge:
    path: str
    #: systemd unit or short container id; None for a hand-made cgroup
    unit: str | None
    series_key: str
    growth_bytes: float
    last_bytes: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LibraryUse:
    path: str
    package: str | None
    version: str | None
    #: "dpkg", "rpm", "doc-dir" (/usr/share/doc/<pkg>-<ver>), "soname", or None
    version_source: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessRef:
    pid: int
    comm: str
    cmdline: str | None
    ppid: int | None
    #: still in /proc of the host we read (False: known from the history only)
    alive: bool


class Machine(Protocol):
    """What attribution asks of the machine it attributes on (the live host, a root, a bundle).

    Every answer is a plain value or record; a file that cannot be read is
    an empty or ``None`` answer, except for :meth:`environ_has`, whose
    caller says why it could not look.
    """

    @property
    def live(self) -> bool:
        """The running system: environments can be read, ``rpm -qf`` asked."""
        ...

    def pids(self) -> Sequence[int]:
        """Every process listed now, ascending; empty when the list cannot be read."""
        ...

    def process(self, pid: int) -> ProcessRef | None:
        """``pid`` as it runs now (comm and ppid, command line), ``alive=True``; ``None``: not running."""
        ...

    def mapped_files(self, pid: int) -> Sequence[str]:
        """Files ``pid`` maps, first mapping first, each once, `` (deleted)`` dropped; empty if unreadable."""
        ...

    def memory_cgroup(self, pid: int) -> str | None:
        """The memory cgroup ``pid`` is charged to (:func:`~memsleuth.sources.cgroup.memory_cgroup_of`)."""
        ...

    def environ_has(self, pid: int, key: str) -> str | None:
        """One environment variable of a live process, ``None`` if unset.

        Raises :class:`~memsleuth.errors.AccessDenied` (not ours, not root),
        :class:`~memsleuth.errors.ProcessGone` or
        :class:`~memsleuth.errors.SourceMissing` (exited, or not live).
        """
        ...

    def package_version(self, path: str) -> LibraryUse | None:
        """Who ships ``path`` by the package records (dpkg, rpm, doc dirs); ``None``: nobody says."""
        ...

    def slab_sysfs(self) -> SlabSysfs | None:
        """``/sys/kernel/slab`` (SLUB merge groups); ``None`` where there is none (SLAB, no sysfs)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TracedCommand:
    """What a trace saw one command, started by one parent, do (the CLI builds these from a trace).

    Short-lived processes (a probe run every few seconds) are gone before
    ``/proc`` can be read; a trace still names them by command and parent.
    """

    #: "lookups" (failed path lookups, ENOENT) or "slab" (allocations from one cache)
    kind: str
    #: the slab caches this activity fills: ("dentry",) for lookups, the merge group for slab
    caches: tuple[str, ...]
    comm: str
    ppid: int | None
    parent_comm: str | None
    #: the pid of this command with the most events
    pid: int
    processes: int
    events: int
    events_per_second: float | None
    #: its fraction of every event of that trace
    share: float
    seconds: float

    def describe(self) -> str:
        what = "failed path lookups (ENOENT)" if self.kind == "lookups" else (
            f"{self.caches[0] if self.caches else 'slab'} allocations")
        rate = f", {self.events_per_second:,.0f}/s" if self.events_per_second is not None else ""
        runs = f" over {self.processes} processes" if self.processes > 1 else ""
        return (f"traced: {self.events:,} {what} in {self.seconds:.0f} s{rate}, {self.share:.0%} of "
                f"all{runs}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Suspect:
    process: ProcessRef
    parent: ProcessRef | None
    #: why it is a suspect: "maps libsoftokn3.so", "named curl"
    reason: str
    libraries: tuple[LibraryUse, ...] = ()
    executable: LibraryUse | None = None
    cgroup: str | None = None
    unit: str | None = None
    #: environment check: key, value (None = unset), whether it was checked
    environ_key: str | None = None
    environ_value: str | None = None
    environ_checked: bool = False
    environ_note: str = ""
    #: the pid whose environment was read (or would have been), and whether it is the process
    #: itself ("self") or its parent ("parent": the suspect is one of many short runs of a command
    #: that a long-lived parent starts, and each run inherits the parent's environment)
    environ_pid: int | None = None
    environ_of: str | None = None
    #: what a trace saw it do (empty when no trace ran or the trace did not see it)
    traced: tuple[TracedCommand, ...] = ()
    #: other exited runs of the same command (name, parent, command line) it stands for
    similar_exited: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution:
    slab: tuple[SlabAttribution, ...] = ()
    cgroups: tuple[CgroupCharge, ...] = ()
    suspects: tuple[Suspect, ...] = ()
    notes: tuple[str, ...] = ()


# -- slab -------------------------------------------------------------------


def slab_aliases(machine: Machine | None, caches: Iterable[str]) -> tuple[SlabAttribution, ...]:
    out = []
    sysfs = machine.slab_sysfs() if machine is not None else None
    for cache in caches:
        if sysfs is None:
            out.append(SlabAttribution(cache=cache, merged_with=(), sysfs_known=False, note=(
                f"{cache}: no /sys/kernel/slab here (SLAB allocator or no sysfs); each slabinfo "
                "line is one cache, so the figures are the cache's own")))
            continue
        group = tuple(n for n in sysfs.aliases_of(cache) if n != cache)
        if group:
            note = (f"{cache} is merged with {', '.join(group)}: the slabinfo line counts them all; "
                    "boot with slab_nomerge to separate them")
        elif sysfs.resolve(cache) is None:
            note = f"{cache}: not listed in /sys/kernel/slab"
        else:
            note = f"{cache} is not merged with any other cache"
        out.append(SlabAttribution(cache=cache, merged_with=group, sysfs_known=True, note=note))
    return tuple(out)


# -- cgroups ----------------------------------------------------------------

#: a cgroup's slab charge, best first: v2 memory.stat slab_reclaimable, then slab, then v1 kmem usage
_CGROUP_SLAB_FILES = (("memory.stat", "slab_reclaimable"), ("memory.stat", "slab"),
                      ("memory.kmem.usage_in_bytes", None))


def cgroup_charges(history: History, *, limit: int = 3) -> tuple[CgroupCharge, ...]:
    """Memory cgroups whose slab charge grew most over the history (root excluded)."""
    best: dict[str, tuple[int, CgroupCharge]] = {}
    for key, s in history.series.items():
        k = parse_key(key) if key.startswith(CGROUP) and len(s) >= 2 else None
        if not isinstance(k, CgroupKey) or (k.file, k.stat) not in _CGROUP_SLAB_FILES:
            continue
        rank = _CGROUP_SLAB_FILES.index((k.file, k.stat))
        path = k.path
        growth = s.values[-1] - s.values[0]
        if path in ("/", "") or growth <= 0:
            continue
        if path not in best or rank < best[path][0]:
            best[path] = (rank, CgroupCharge(path=path, unit=systemd_unit_of(path), series_key=key,
                                             growth_bytes=growth, last_bytes=s.values[-1]))
    ranked = sorted((c for _, c in best.values()), key=lambda c: -c.growth_bytes)
    # a parent's charge includes its children's: keep the deepest of a chain
    out: list[CgroupCharge] = []
    for c in ranked:
        deeper = (o for o in ranked if o.growth_bytes >= 0.9 * c.growth_bytes)
        if any(o.path.startswith(c.path.rstrip("/") + "/") for o in deeper):
            continue
        out.append(c)
    return tuple(out[:limit])


# -- processes and libraries ------------------------------------------------


def _glob_any(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def library_stem(path: str) -> str:
    """``/usr/lib64/libsoftokn3.so.0d`` -> ``libsoftokn3``: the key of :data:`LIBRARY_PACKAGES`."""
    base = path.rsplit("/", 1)[-1]
    return base.split(".so", 1)[0]


def library_packages(path: str) -> tuple[str, ...]:
    """Package names that may ship ``path``, most likely first (else its stem)."""
    stem = library_stem(path)
    return LIBRARY_PACKAGES.get(stem, (stem,))


def package_version(machine: Machine | None, path: str) -> LibraryUse:
    """Who ships ``path`` and which version: dpkg, rpm -qf (live), doc dir (the machine's), soname."""
    if machine is not None:
        got = machine.package_version(path)
        if got is not None:
            return got
    m = _SONAME_VERSION.search(path)
    if m:
        return LibraryUse(path=path, package=None, version=f"soname {m.group(1)}", version_source="soname")
    return LibraryUse(path=path, package=None, version=None, version_source=None)


def _ref(machine: Machine | None, history: History, pid: int) -> ProcessRef | None:
    if machine is not None:
        ref = machine.process(pid)
        if ref is not None:
            return ref
    known = [p for p in history.processes.values() if p.pid == pid]
    if known:
        p = known[-1]
        return ProcessRef(pid=pid, comm=p.comm, cmdline=p.cmdline, ppid=p.ppid, alive=False)
    return None


def find_suspects(machine: Machine | None, history: History, *, maps_any: Sequence[str] = (),
                  comm_any: Sequence[str] = (), cmdline_any: Sequence[str] = (),
                  libraries: Sequence[str] = (), environ_key: str | None = None,
                  environ_advice: str = "", only: Iterable[int] | None = None,
                  traced: Sequence[TracedCommand] = (), any_traced: bool = False) -> tuple[Suspect, ...]:
    """Processes that map ``maps_any`` libraries or match the names, with the chain around them.

    ``traced``: what a trace saw; a traced command whose name matches
    ``comm_any`` (or any traced command, with ``any_traced``) is a suspect
    even when it has exited, and a suspect that was traced carries the counts.
    """
    wanted = set(only) if only is not None else None
    libs = tuple(dict.fromkeys((*maps_any, *libraries)))
    found: dict[int, tuple[ProcessRef, str, list[str]]] = {}
    traced_by: dict[int, list[TracedCommand]] = {}
    if machine is not None:
        for pid in machine.pids():
            if wanted is not None and pid not in wanted:
                continue
            ref = _ref(machine, history, pid)
            if ref is None:
                continue
            mapped = list(machine.mapped_files(pid)) if (libs or maps_any) else []
            hit = [m for m in mapped if _glob_any(m.rsplit("/", 1)[-1], maps_any)]
            reason = ""
            if hit:
                reason = "maps " + ", ".join(sorted({h.rsplit("/", 1)[-1] for h in hit}))
            elif comm_any and _glob_any(ref.comm, comm_any):
                reason = f"named {ref.comm}"
            elif cmdline_any and ref.cmdline and _glob_any(ref.cmdline, cmdline_any):
                reason = "command line matches"
            if reason:
                found[pid] = (ref, reason, mapped)
    # processes the snapshots saw that are gone now (short-lived probes)
    for info in history.processes.values():
        if info.pid in found or (wanted is not None and info.pid not in wanted):
            continue
        if machine is not None and machine.process(info.pid) is not None:
            continue  # alive: judged above from its maps
        if (comm_any and _glob_any(info.comm, comm_any)) or (
                cmdline_any and info.cmdline and _glob_any(info.cmdline, cmdline_any)):
            ref = ProcessRef(pid=info.pid, comm=info.comm, cmdline=info.cmdline, ppid=info.ppid, alive=False)
            found[info.pid] = (ref, f"named {info.comm} (seen in the history; exited since)", [])
    for tc in traced:
        if not (any_traced or (comm_any and _glob_any(tc.comm, comm_any))):
            continue
        same = [p for p, (r, _, _) in found.items()
                if r.comm == tc.comm and (tc.ppid is None or r.ppid == tc.ppid)]
        if same:
            for p in same:
                traced_by.setdefault(p, []).append(tc)
            continue
        ref = _traced_ref(machine, history, tc)
        found[ref.pid] = (ref, tc.describe(), [])
        traced_by.setdefault(ref.pid, []).append(tc)

    def rank(pid: int) -> tuple[int, bool, int]:
        return (-sum(t.events for t in traced_by.get(pid, ())), not found[pid][0].alive, -pid)

    # exited runs of one short-lived command (same name, parent and command line) are one suspect:
    # the newest stands for the others
    kept: list[int] = []
    similar: dict[int, int] = {}
    first_of: dict[tuple[str, int | None, str | None], int] = {}
    for pid in sorted(found, key=rank):
        ref = found[pid][0]
        if not ref.alive:
            k = (ref.comm, ref.ppid, ref.cmdline)
            if k in first_of:
                similar[first_of[k]] += 1
                continue
            first_of[k], similar[pid] = pid, 0
        kept.append(pid)
    # how many processes of each (command, parent) were seen: live, in the history, or traced
    runs: dict[tuple[str, int | None], int] = {}
    for ref, _, _ in found.values():
        runs[(ref.comm, ref.ppid)] = runs.get((ref.comm, ref.ppid), 0) + 1
    for tc in traced:
        runs[(tc.comm, tc.ppid)] = max(runs.get((tc.comm, tc.ppid), 0), tc.processes)
    suspects = []
    for pid in kept[:_MAX_SUSPECTS]:
        ref, reason, mapped = found[pid]
        parent = _ref(machine, history, ref.ppid) if ref.ppid else None
        lib_uses = tuple(package_version(machine, m) for m in mapped
                         if _glob_any(m.rsplit("/", 1)[-1], libs))
        exe_path = next((m for m in mapped if ".so" not in m.rsplit("/", 1)[-1]), None)
        exe = package_version(machine, exe_path) if exe_path else None
        cg_path = machine.memory_cgroup(pid) if machine is not None and ref.alive else None
        if cg_path is None:
            seen = next((p for p in history.processes.values() if p.pid == pid), None)
            cg_path = seen.cgroup if seen else None
        value, checked, note, env_pid, env_of = None, False, "", None, None
        if environ_key:
            repeated = not ref.alive or runs.get((ref.comm, ref.ppid), 0) > 1
            env_ref, env_of = (parent, "parent") if repeated and parent is not None else (ref, "self")
            env_pid = env_ref.pid
            value, checked, note = _environ(machine, ref, env_ref, env_of, environ_key, environ_advice)
        suspects.append(Suspect(process=ref, parent=parent, reason=reason, libraries=lib_uses,
                                executable=exe, cgroup=cg_path,
                                unit=systemd_unit_of(cg_path) if cg_path else None,
                                environ_key=environ_key, environ_value=value, environ_checked=checked,
                                environ_note=note, environ_pid=env_pid, environ_of=env_of,
                                traced=tuple(traced_by.get(pid, ())),
                                similar_exited=similar.get(pid, 0)))
    return tuple(suspects)


def _traced_ref(machine: Machine | None, history: History, tc: TracedCommand) -> ProcessRef:
    """The traced pid as a ProcessRef: live if it still runs as that command, else from the history
    (a run of the same command with the same parent gives the command line), else the trace's own."""
    ref = _ref(machine, history, tc.pid)
    if ref is not None and ref.comm == tc.comm:
        return ref
    seen = [p for p in history.processes.values()
            if p.comm == tc.comm and (tc.ppid is None or p.ppid == tc.ppid)]
    cmdline = seen[-1].cmdline if seen else None
    return ProcessRef(pid=tc.pid, comm=tc.comm, cmdline=cmdline, ppid=tc.ppid, alive=False)


def _environ(machine: Machine | None, ref: ProcessRef, target: ProcessRef, of: str, key: str,
             advice: str) -> tuple[str | None, bool, str]:
    """Only ``key`` of ``target``'s environment, through :meth:`Machine.environ_has`.

    ``target`` is ``ref`` itself, or (``of == "parent"``) its parent: when the
    suspect is one of many short runs of a command (a probe started every few
    seconds), each run inherits the long-lived parent's environment, and the
    parent is where the setting is made.  Reading whichever run happened to be
    alive at the moment would name a different pid every time, or none.
    """
    tail = f": {advice}" if advice else ""
    if machine is None or not machine.live:
        return None, False, f"environment not checked (bundle){tail}"
    whose = (f"its parent, pid {target.pid} ({target.comm}), whose environment each run of "
             f"{ref.comm} inherits" if of == "parent" else f"pid {target.pid}")
    if not target.alive:
        gone = f"pid {ref.pid} and its parent have exited" if of == "parent" else f"pid {ref.pid} has exited"
        return None, False, f"environment not checked ({gone}){tail}"
    try:
        value = machine.environ_has(target.pid, key)
    except AccessDenied:
        return None, False, f"environment not checked (no permission to read pid {target.pid}){tail}"
    except (SourceMissing, ProcessGone):
        return None, False, f"environment not checked ({whose} exited as it was read){tail}"
    if value is None:
        return None, True, f"{key} is not set in {whose}{tail}"
    return value, True, f"{key}={value} in {whose}"


__all__ = ["LIBRARY_PACKAGES", "Attribution", "CgroupCharge", "LibraryUse", "Machine", "ProcessRef",
           "SlabAttribution", "Suspect", "TracedCommand", "cgroup_charges", "find_suspects",
           "library_packages", "library_stem", "package_version", "slab_aliases"]
