"""The snapshot model: raw kernel bytes, parsed on read.

A :class:`Snapshot` keeps the bytes the kernel printed, keyed by their path
relative to the root (``proc/meminfo``), so that a bundle written from it is
byte-for-byte what was read, and parsers can improve without recapturing.
Values are derived on read through :meth:`Snapshot.parse`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from memsleuth.errors import MemsleuthError
from memsleuth.host import HostMeta

T = TypeVar("T")

#: Why a file is not in a snapshot.  The views print these words.
REASON_MISSING = "not present on this kernel"
REASON_NOT_CAPTURED = "not in this bundle or root"
REASON_DENIED = "permission denied (needs root)"
REASON_VANISHED = "process exited during the read"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessSample:
    """The raw files of one process, read back to back.

    Identity is ``(pid, starttime_ticks)``: a reused PID gets a different
    start time, so it never joins another process's history.
    """

    pid: int
    starttime_ticks: int
    ppid: int
    comm: str
    state: str
    kernel_thread: bool
    #: file name under ``proc/PID`` -> bytes (``stat``, ``status``, ``smaps_rollup`` ...)
    files: Mapping[str, bytes]
    #: file name -> reason, for files we could not read (EACCES, kernel thread ...)
    unreadable: Mapping[str, str] = field(default_factory=dict)

    @property
    def identity(self) -> tuple[int, int]:
        return (self.pid, self.starttime_ticks)

    @property
    def zombie(self) -> bool:
        return self.state == "Z"

    @property
    def partial(self) -> bool:
        return bool(self.unreadable)

    def text(self, name: str) -> str | None:
        data = self.files.get(name)
        return None if data is None else data.decode("utf-8", "replace")

    def cmdline(self) -> str | None:
        """The command line with NULs as spaces, or ``None`` if not captured."""
        data = self.files.get("cmdline")
        if data is None:
            return None
        return data.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Everything one capture read, with its timing and what it could not read."""

    meta: HostMeta
    #: Unix time at the start and end of the capture.
    started_at: float
    ended_at: float
    #: path (relative to the root) -> raw bytes, for system and cgroup files
    files: Mapping[str, bytes]
    #: directory path -> {entry: symlink target or None} (e.g. sys/kernel/slab)
    listings: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    #: path -> reason, for every file we tried and could not read
    missing: Mapping[str, str] = field(default_factory=dict)
    processes: tuple[ProcessSample, ...] = ()
    #: whether the capture walked processes at all
    processes_walked: bool = False
    #: processes that exited between listing /proc and reading them
    processes_vanished: int = 0

    @property
    def duration_seconds(self) -> float:
        return self.ended_at - self.started_at

    @property
    def processes_partial(self) -> int:
        return sum(1 for p in self.processes if p.partial)

    def text(self, path: str) -> str | None:
        data = self.files.get(path)
        return None if data is None else data.decode("utf-8", "replace")

    def parse(self, path: str, parser: Callable[[str], T]) -> T | None:
        """``parser(text)`` of ``path``, or ``None`` if the file was not captured."""
        text = self.text(path)
        return None if text is None else parser(text)

    def require(self, path: str, parser: Callable[[str], T]) -> T:
        """Like :meth:`parse`, but a missing file is an error that says why."""
        text = self.text(path)
        if text is None:
            reason = self.missing.get(path, "not captured")
            raise SnapshotMissing(path, reason)
        return parser(text)

    def paths_under(self, prefix: str) -> list[str]:
        """Captured paths that start with ``prefix`` (sorted)."""
        return sorted(p for p in self.files if p.startswith(prefix))

    def process(self, pid: int) -> ProcessSample | None:
        for p in self.processes:
            if p.pid == pid:
                return p
        return None


class SnapshotMissing(MemsleuthError):
    """A view needs a file that this snapshot does not have."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"/{path} is not available: {reason}")
        self.path = path
        self.reason = reason
