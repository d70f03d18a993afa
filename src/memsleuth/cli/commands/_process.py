"""What the per-process commands share: read one process's files, or say why not."""

from __future__ import annotations

from collections.abc import Sequence

from memsleuth.errors import AccessDenied, NoSuchProcess, ProcessGone, SourceMissing, UsageError
from memsleuth.host import Host
from memsleuth.snapshot.capture import read_process
from memsleuth.snapshot.model import REASON_DENIED, ProcessSample


def gone(host: Host, pid: int) -> ProcessGone:
    """The error for a process we could not read: it never existed here, or it exited as we read."""
    return ProcessGone(pid) if host.exists(f"proc/{pid}") else NoSuchProcess(pid)


def read_address_space(host: Host, pid: int, needed: str, extra: Sequence[str] = ()) -> ProcessSample:
    """``stat``, ``needed`` (``smaps``, ``maps`` ...) and ``extra`` of ``pid``.

    Raises :class:`ProcessGone` if it exited, :class:`SourceMissing` for a
    kernel thread or zombie (no address space) or a file the kernel or the
    bundle does not have, and :class:`AccessDenied` when ``needed`` needs
    root.  The ``extra`` files are best effort.
    """
    sample = read_process(host, pid, ("stat", needed, *extra))
    if sample is None:
        raise gone(host, pid)
    if sample.kernel_thread or sample.zombie:
        raise SourceMissing(f"proc/{pid}/{needed} (a kernel thread or zombie has no address space)")
    if needed not in sample.files:
        if sample.unreadable.get(needed) == REASON_DENIED:
            raise AccessDenied(f"proc/{pid}/{needed}")
        if not host.live and needed == "smaps":
            raise UsageError(f"{host.label} has no smaps of pid {pid}: a bundle keeps the full smaps of "
                             f"its largest processes only; capture it with 'memsleuth capture -o FILE "
                             f"--smaps-pid {pid}'")
        raise SourceMissing(f"proc/{pid}/{needed}")
    return sample
