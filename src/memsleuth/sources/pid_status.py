"""``/proc/PID/status``: ``Key:<TAB>value`` lines, human-oriented.

Units: ``Vm*``, ``Rss*`` and ``HugetlbPages`` are printed in ``kB`` and
converted to bytes here; ``Threads`` and the ``*ctxt_switches`` are counts;
``Umask`` is octal; ``Uid``/``Gid`` carry four ids (real, effective, saved
set, filesystem); ``Sig*``, ``Cap*``, ``Cpus_allowed``, ``Mems_allowed`` are
hexadecimal masks, kept out of :attr:`PidStatus.raw` (see
:data:`NOT_DECIMAL`), where a mask like ``0000000000000000`` would otherwise
pass for the decimal 0.

Traps:

* Kernel threads have no mm: no ``Vm*``/``Rss*`` lines at all.  Zombies have
  dropped theirs too.  Those fields are then ``None``, never 0.
* ``RssAnon``, ``RssFile`` and ``RssShmem`` appeared in Linux 4.5 (commit
  8cee852ec53f, "mm, procfs: breakdown RSS for anon, shmem and file in
  /proc/pid/status"); 2.6.32 (CentOS 6) lacks them.  ``VmPin`` is 3.2+,
  ``VmSwap`` 2.6.34+ (RHEL 6 backported it), ``HugetlbPages`` 4.4+,
  ``Umask`` 4.7+, ``NSpid`` 4.1+, ``Kthread`` 6.x.  ``VmPMD`` existed only
  in 4.0–5.x.
* ``VmRSS`` = ``RssAnon + RssFile + RssShmem``, read from batched
  counters (per-thread caches before 6.2, per-CPU counters since), so on a
  busy process they can lag smaps' page-table walk by a few pages per
  thread or CPU.
* ``Name`` escapes ``\\`` and newline (as ``\\\\`` and ``\\n``); we unescape.
  It is truncated to 15 bytes like ``comm``.
* ``VmLck`` (mlock) and ``VmPin`` (pinned) overlap ``VmRSS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/PID/status"

#: kernel key -> record field for the single-integer lines.  Keys whose line
#: ends in ``kB`` become bytes; the others are counts or ids.
FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "Tgid": "tgid",
        "Ngid": "ngid",
        "Pid": "pid",
        "PPid": "ppid",
        "TracerPid": "tracer_pid",
        "FDSize": "fd_size",
        "Threads": "threads",
        "VmPeak": "vm_peak_bytes",
        "VmSize": "vm_size_bytes",
        "VmLck": "vm_lck_bytes",
        "VmPin": "vm_pin_bytes",
        "VmHWM": "vm_hwm_bytes",
        "VmRSS": "vm_rss_bytes",
        "RssAnon": "rss_anon_bytes",
        "RssFile": "rss_file_bytes",
        "RssShmem": "rss_shmem_bytes",
        "VmData": "vm_data_bytes",
        "VmStk": "vm_stk_bytes",
        "VmExe": "vm_exe_bytes",
        "VmLib": "vm_lib_bytes",
        "VmPTE": "vm_pte_bytes",
        "VmPMD": "vm_pmd_bytes",
        "VmSwap": "vm_swap_bytes",
        "HugetlbPages": "hugetlb_pages_bytes",
        "voluntary_ctxt_switches": "voluntary_ctxt_switches",
        "nonvoluntary_ctxt_switches": "nonvoluntary_ctxt_switches",
    }
)

REQUIRED = ("Name", "State", "Tgid", "Pid", "PPid")

#: Hexadecimal masks and lists: never read as one decimal into ``raw``
#: (``Cpus_allowed: 3`` or ``NStgid: 42`` would otherwise slip through).
NOT_DECIMAL = frozenset(
    {
        "Cpus_allowed_list",
        "Mems_allowed_list",
        "NStgid",
        "NSpid",
        "NSpgid",
        "NSsid",
        "SigPnd",
        "ShdPnd",
        "SigBlk",
        "SigIgn",
        "SigCgt",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "Cpus_allowed",
        "Mems_allowed",
        "untag_mask",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ids:
    """The four ids of a ``Uid:`` or ``Gid:`` line."""

    real: int
    effective: int
    saved: int
    fs: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PidStatus:
    """One reading of /proc/PID/status.  Byte fields end in ``_bytes``."""

    name: str
    #: One letter, as in stat (the text in parentheses is dropped).
    state: str
    tgid: int
    pid: int
    ppid: int
    umask: int | None = None
    ngid: int | None = None
    tracer_pid: int | None = None
    uid: Ids | None = None
    gid: Ids | None = None
    fd_size: int | None = None
    threads: int | None = None
    #: ``Kthread:`` line (6.x); ``None`` on kernels that do not print it.
    kthread: bool | None = None
    vm_peak_bytes: int | None = None
    vm_size_bytes: int | None = None
    vm_lck_bytes: int | None = None
    vm_pin_bytes: int | None = None
    vm_hwm_bytes: int | None = None
    vm_rss_bytes: int | None = None
    rss_anon_bytes: int | None = None
    rss_file_bytes: int | None = None
    rss_shmem_bytes: int | None = None
    vm_data_bytes: int | None = None
    vm_stk_bytes: int | None = None
    vm_exe_bytes: int | None = None
    vm_lib_bytes: int | None = None
    vm_pte_bytes: int | None = None
    vm_pmd_bytes: int | None = None
    vm_swap_bytes: int | None = None
    hugetlb_pages_bytes: int | None = None
    voluntary_ctxt_switches: int | None = None
    nonvoluntary_ctxt_switches: int | None = None
    #: NUMA nodes the task may allocate from, expanded from ``0-1,3``.
    mems_allowed_list: tuple[int, ...] | None = None
    #: The pid in each pid namespace, outermost first.
    nspid: tuple[int, ...] | None = None
    #: Every single-integer line, kB converted to bytes, Umask as octal;
    #: masks (:data:`NOT_DECIMAL`) and multi-value lines are left out.
    raw: Mapping[str, int] = field(default_factory=dict)

    @property
    def virt_bytes(self) -> int | None:
        """top's VIRT: ``VmSize``."""
        return self.vm_size_bytes

    @property
    def res_bytes(self) -> int | None:
        """top's RES: ``VmRSS``."""
        return self.vm_rss_bytes

    @property
    def shr_bytes(self) -> int | None:
        """top's SHR: ``RssFile + RssShmem``; ``None`` before Linux 4.5.

        procps top reads SHR from statm's ``shared`` field, which the kernel
        computes from the same counters (``MM_FILEPAGES + MM_SHMEMPAGES``)
        since 4.5, so the two agree.  Before 4.5 status has no ``RssFile``:
        fall back to :attr:`memsleuth.sources.pid_statm.PidStatm.shared_pages`
        times the page size, which is what top shows there too.
        """
        if self.rss_file_bytes is None or self.rss_shmem_bytes is None:
            return None
        return self.rss_file_bytes + self.rss_shmem_bytes


def _ids(value: str, line: str, source: str) -> Ids:
    parts = value.split()
    if len(parts) != 4:
        raise ParseError(source, f"expected four ids: {line!r}")
    try:
        r, e, s, f = (int(p) for p in parts)
    except ValueError:
        raise ParseError(source, f"id is not an integer: {line!r}") from None
    return Ids(real=r, effective=e, saved=s, fs=f)


def _int_list(value: str, line: str, source: str) -> tuple[int, ...]:
    """Expand a kernel list (``0-3,8``) or a space-separated list (NSpid)."""
    out: list[int] = []
    try:
        for chunk in value.replace(",", " ").split():
            lo, dash, hi = chunk.partition("-")
            if dash:
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(lo))
    except ValueError:
        raise ParseError(source, f"not a list of integers: {line!r}") from None
    return tuple(out)


def _unescape_name(name: str) -> str:
    if "\\" not in name:
        return name
    out: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "\\" and i + 1 < len(name) and name[i + 1] in "\\n":
            out.append("\n" if name[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_pid_status(text: str, *, source: str = SOURCE) -> PidStatus:
    """Parse the text of /proc/PID/status into a :class:`PidStatus`."""
    raw: dict[str, int] = {}
    name: str | None = None
    state = ""
    uid: Ids | None = None
    gid: Ids | None = None
    mems: tuple[int, ...] | None = None
    nspid: tuple[int, ...] | None = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if line.strip():
                raise ParseError(source, f"line without a colon: {line!r}")
            continue
        if key == "Name":
            # Strip only the tab: a name may end in spaces.
            name = _unescape_name(value[1:] if value.startswith("\t") else value)
        elif key == "State":
            state = value.strip()[:1]
        elif key == "Uid":
            uid = _ids(value, line, source)
        elif key == "Gid":
            gid = _ids(value, line, source)
        elif key == "Mems_allowed_list":
            mems = _int_list(value, line, source)
        elif key == "NSpid":
            nspid = _int_list(value, line, source)
        elif key == "Umask":
            try:
                raw[key] = int(value, 8)
            except ValueError:
                raise ParseError(source, f"Umask is not octal: {line!r}") from None
        elif key not in NOT_DECIMAL:
            parts = value.split()
            if len(parts) == 2 and parts[1] == "kB":
                try:
                    raw[key] = int(parts[0]) * 1024
                except ValueError:
                    raise ParseError(source, f"value is not an integer: {line!r}") from None
            elif len(parts) == 1:
                try:
                    raw[key] = int(parts[0])
                except ValueError:
                    if key in FIELDS:
                        raise ParseError(source, f"value is not an integer: {line!r}") from None
            elif key in FIELDS:
                raise ParseError(source, f"expected one integer: {line!r}")
    if name is None or not state:
        raise ParseError(source, "missing required field Name or State")
    missing = [k for k in REQUIRED[2:] if k not in raw]
    if missing:
        raise ParseError(source, f"missing required field(s) {', '.join(missing)}")
    kwargs = {FIELDS[k]: v for k, v in raw.items() if k in FIELDS}
    kthread = raw.get("Kthread")
    return PidStatus(
        name=name,
        state=state,
        umask=raw.get("Umask"),
        uid=uid,
        gid=gid,
        kthread=None if kthread is None else bool(kthread),
        mems_allowed_list=mems,
        nspid=nspid,
        raw=MappingProxyType(raw),
        **kwargs,
    )
