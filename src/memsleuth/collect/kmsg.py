"""The kernel log's OOM-killer lines, for ``status``.

Read from ``/dev/kmsg`` (Documentation/ABI/testing/dev-kmsg): opened
non-blocking, each ``read()`` returns one record ``PRI,SEQ,USEC,FLAGS;text``
(continuation lines start with a space and are skipped), ``EAGAIN`` ends
the buffer, ``EPIPE`` means a record was overwritten while we read (we go
on).  Readable by root, or by anyone when ``kernel.dmesg_restrict`` is 0.
When ``/dev/kmsg`` does not exist, ``dmesg`` is tried.  Never fatal: what
could not be read is said (``KernelLog.reason``).

The OOM lines are ``Out of memory: Killed process PID (comm) ...`` (4.x+;
``Kill process`` before 4.19, followed by ``Killed process``), ``Memory
cgroup out of memory: Killed process ...`` for a cgroup's limit, and the
one-line summary ``oom-kill:constraint=...`` (4.19+).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

KMSG = "/dev/kmsg"
#: the most records read (the buffer is a few MiB at most; this bounds a pathological one)
MAX_RECORDS = 200_000
#: the most OOM lines kept (the newest)
MAX_LINES = 20

_OOM = re.compile(r"Killed process \d+|Out of memory|oom-kill:|invoked oom-killer")
_DMESG = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLine:
    #: when the kernel logged it, seconds after boot (CLOCK_MONOTONIC as printk stamps it)
    seconds_since_boot: float
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelLog:
    readable: bool
    #: why not (``readable`` False), e.g. "permission denied (kernel.dmesg_restrict=1)"
    reason: str | None = None
    #: /dev/kmsg or dmesg
    source: str | None = None
    #: the OOM lines, oldest first (the newest MAX_LINES)
    lines: tuple[LogLine, ...] = ()
    #: kills ("Killed process") among all records read
    kills: int = 0


def parse_kmsg_record(record: str) -> LogLine | None:
    """``6,1234,5678901,-;text`` -> LogLine(5.678901, "text"); ``None`` for a continuation or
    a malformed record."""
    head, sep, text = record.partition(";")
    if not sep:
        return None
    fields = head.split(",")
    if len(fields) < 3:
        return None
    try:
        usec = int(fields[2])
    except ValueError:
        return None
    return LogLine(seconds_since_boot=usec / 1e6, message=text.split("\n", 1)[0])


def oom_lines(lines: list[LogLine]) -> tuple[tuple[LogLine, ...], int]:
    """The OOM-killer lines among ``lines`` (the newest MAX_LINES) and the number of kills."""
    oom = [ln for ln in lines if _OOM.search(ln.message)]
    kills = sum(1 for ln in oom if "Killed process" in ln.message)
    return tuple(oom[-MAX_LINES:]), kills


def _read_kmsg() -> list[LogLine]:
    fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK)
    out: list[LogLine] = []
    try:
        for _ in range(MAX_RECORDS):
            try:
                data = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # overwritten while we read: go on from the next
                    continue
                raise
            if not data:
                break
            line = parse_kmsg_record(data.decode("utf-8", "replace"))
            if line is not None:
                out.append(line)
    finally:
        os.close(fd)
    return out


def _read_dmesg() -> list[LogLine]:
    exe = shutil.which("dmesg")
    if exe is None:
        raise FileNotFoundError("dmesg")
    p = subprocess.run([exe], capture_output=True, text=True, timeout=10, check=False)
    if p.returncode != 0:
        raise PermissionError(p.stderr.strip() or f"dmesg exited {p.returncode}")
    out = []
    for raw in p.stdout.splitlines():
        m = _DMESG.match(raw)
        if m is not None:
            out.append(LogLine(seconds_since_boot=float(m.group(1)), message=m.group(2)))
    return out


def read_kernel_log() -> KernelLog:
    """The live host's OOM lines, or why they could not be read."""
    source = KMSG
    try:
        try:
            lines = _read_kmsg()
        except FileNotFoundError:
            source = "dmesg"
            lines = _read_dmesg()
    except PermissionError as exc:
        detail = "" if source == KMSG else f": {exc}"
        return KernelLog(readable=False, source=source,
                         reason=f"{source}: permission denied{detail} (root, or kernel.dmesg_restrict=0)")
    except (OSError, subprocess.SubprocessError) as exc:
        return KernelLog(readable=False, source=source, reason=f"{source}: {exc}")
    found, kills = oom_lines(lines)
    return KernelLog(readable=True, source=source, lines=found, kills=kills)


__all__ = ["KMSG", "KernelLog", "LogLine", "oom_lines", "parse_kmsg_record", "read_kernel_log"]
