"""``/proc/PID/statm``: seven numbers, ``size resident shared text lib data dt``.

Units: every field is in *pages*.  The page size is the host's
(:class:`~memsleuth.host.Host`), so fields stay ``_pages`` here and callers
multiply.

Traps (fs/proc/task_mmu.c ``task_statm``):

* ``size`` is ``VmSize`` and ``resident`` is ``VmRSS``, in pages.
* ``shared`` is resident file-backed plus shmem pages (``RssFile +
  RssShmem`` in status) since Linux 4.5; before, it was the file counter,
  which then also included shmem.  procps top's SHR column is this field.
* ``text`` is the executable's code (``VmExe``), not shared libraries.
* ``data`` is ``VmData + VmStk`` (data, heap *and* stack, virtual, not
  resident) on 4.5+; older kernels printed ``total_vm - shared_vm``.
* ``lib`` and ``dt`` have printed 0 since Linux 2.6.
* Kernel threads and zombies print ``0 0 0 0 0 0 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/PID/statm"


@dataclass(frozen=True, slots=True, kw_only=True)
class PidStatm:
    """One reading of /proc/PID/statm, in pages."""

    size_pages: int
    resident_pages: int
    shared_pages: int
    text_pages: int
    #: Always 0 since 2.6.
    lib_pages: int
    data_pages: int
    #: Always 0 since 2.6.
    dt_pages: int


def parse_pid_statm(text: str, *, source: str = SOURCE) -> PidStatm:
    """Parse the text of /proc/PID/statm into a :class:`PidStatm`."""
    parts = text.split()
    if len(parts) != 7:
        raise ParseError(source, f"expected 7 numbers, got {len(parts)}: {text[:80]!r}")
    try:
        size, resident, shared, text_, lib, data, dt = (int(p) for p in parts)
    except ValueError:
        raise ParseError(source, f"non-integer field in {text[:80]!r}") from None
    return PidStatm(
        size_pages=size,
        resident_pages=resident,
        shared_pages=shared,
        text_pages=text_,
        lib_pages=lib,
        data_pages=data,
        dt_pages=dt,
    )
