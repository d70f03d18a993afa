"""A tracefs session that puts back everything it changed.

What a session may change, in order, and how each is undone:

1. **the tracefs mount** (``mount -t tracefs nodev /sys/kernel/tracing``) when
   no tracefs is mounted: undone by ``umount`` when the last memsleuth
   session on this boot ends.  Ownership sits in ``/run/memsleuth/
   tracefs-mount.json``, so a session that found tracefs already mounted by
   someone else never unmounts it, and two concurrent sessions do not pull it
   from under each other;
2. **a private instance** ``instances/memsleuth-<pid>``: its own ring buffer,
   event enables, filters, ``buffer_size_kb`` and ``tracing_on``, so the
   global buffer and whatever another tool set up there stay untouched.
   Undone by ``rmdir``;
3. **control-file writes inside the instance** (enable, filter,
   ``buffer_size_kb``, ``tracing_on``): each old value is read and journaled
   before the write, and written back in reverse order on close (redundant
   before the ``rmdir``, but it keeps the journal honest if the ``rmdir`` fails).

Before any change, the session writes its plan to ``/run/memsleuth/
trace-<pid>.json`` (boot id, pid start time, mount point, instance, then each
journal entry before its write).  A run killed with ``kill -9`` leaves that
file behind; the next session (or :func:`repair_leftovers`) finds files whose
process is gone, reverts their writes, removes their instance, unmounts
tracefs if memsleuth mounted it and nobody else is tracing, and reports what
it repaired.  ``instances/memsleuth-<pid>`` of a dead pid with no state file
is removed too.

Signals: for the session's life SIGINT and SIGTERM raise
:class:`TraceStopped` (a ``BaseException``, so no ``except Exception`` swallows
it) and the previous handlers come back on close; during the restore both are
ignored, so a second Ctrl-C cannot cut it short.

File access: reads and control-file writes go through :class:`Host`
(:meth:`Host.read`, :meth:`Host.write`).  Three things do not fit Host's model
of a readable root and live here, in this one module, as the documented
exception: the non-blocking ``trace_pipe`` stream, ``mkdir``/``rmdir`` of the
instance and ``unlink`` of our own state files, and ``mount``/``umount`` (run
as the mount(8)/umount(8) commands).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from memsleuth.errors import AccessDenied, MemsleuthError, SourceMissing
from memsleuth.host import Host
from memsleuth.sources.pid_stat import parse_stat_head

MOUNTPOINT = "sys/kernel/tracing"
STATE_DIR = "run/memsleuth"
MOUNT_OWNER = f"{STATE_DIR}/tracefs-mount.json"
STATE_FORMAT = "memsleuth-trace-state"
STATE_VERSION = 1
INSTANCE_PREFIX = "memsleuth-"
_READ_CHUNK = 1 << 20


class TraceUnavailable(MemsleuthError):
    """Tracing cannot be done here: not root, not live, no tracefs, no such event."""


class TraceStopped(BaseException):
    """SIGINT or SIGTERM arrived during a session."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True, slots=True, kw_only=True)
class Repair:
    """What an earlier, killed session left behind and what was done about it."""

    pid: int | None
    instance: str | None
    actions: tuple[str, ...]


def _state_path(pid: int) -> str:
    return f"{STATE_DIR}/trace-{pid}.json"


def _first_line(host: Host, path: str) -> str | None:
    try:
        return host.read_text(path).strip() or None
    except (SourceMissing, AccessDenied, MemsleuthError):
        return None


def _starttime(host: Host, pid: int) -> int | None:
    try:
        return parse_stat_head(host.read(f"proc/{pid}/stat"))[4]
    except MemsleuthError:  # gone, unreadable, or not a stat line
        return None


def _boot_id(host: Host) -> str | None:
    return _first_line(host, "proc/sys/kernel/random/boot_id")


def tracefs_mounts(host: Host) -> list[str]:
    """Mount points (relative to ``/``) of every mounted tracefs."""
    out = []
    for line in host.read_text("proc/mounts").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "tracefs":
            out.append(parts[1].lstrip("/").replace("\\040", " "))
    return out


def _normalise(path: str, old: str) -> str | None:
    """The value to write back for what reading ``path`` returned; ``None``: cannot restore."""
    old = old.strip()
    name = path.rsplit("/", 1)[-1]
    if name == "filter":
        return "0" if old in ("", "none") else old
    if name == "buffer_size_kb":
        return old.split()[0] if old else None
    if name == "enable" and old not in ("0", "1"):
        return None  # "X": a subsystem with mixed enables; we only write single events
    return old


def _rmdir(full: str, tries: int = 20) -> None:
    for i in range(tries):
        try:
            os.rmdir(full)
            return
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return
            if exc.errno != errno.EBUSY or i == tries - 1:
                raise
            time.sleep(0.05)


def _unlink(full: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(full)


def _run(argv: list[str]) -> str | None:
    """Run mount/umount; ``None`` on success, else the error text."""
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if res.returncode == 0 else (res.stderr.strip() or f"exit {res.returncode}")


def _live_sessions(host: Host, *, exclude: int | None = None) -> list[int]:
    """PIDs of memsleuth trace sessions on this boot whose process still runs."""
    boot = _boot_id(host)
    out = []
    for name in _listdir(host, STATE_DIR):
        if not (name.startswith("trace-") and name.endswith(".json")):
            continue
        state = _load_state(host, f"{STATE_DIR}/{name}")
        if state is None:
            continue
        pid = state.get("pid")
        if not isinstance(pid, int) or pid == exclude:
            continue
        if state.get("boot_id") == boot and _starttime(host, pid) == state.get("starttime"):
            out.append(pid)
    return out


def _listdir(host: Host, path: str) -> list[str]:
    try:
        return sorted(host.listdir(path))
    except (SourceMissing, AccessDenied):
        return []


def _load_state(host: Host, path: str) -> dict[str, Any] | None:
    try:
        data = json.loads(host.read(path))
    except (SourceMissing, AccessDenied, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == STATE_FORMAT else None


def _maybe_unmount(host: Host, *, exclude: int | None) -> str | None:
    """Unmount tracefs if memsleuth mounted it and no other session runs; what was done."""
    owner = _load_state_raw(host, MOUNT_OWNER)
    if owner is None:
        return None
    if owner.get("boot_id") != _boot_id(host):
        _unlink("/" + MOUNT_OWNER)
        return None
    if _live_sessions(host, exclude=exclude):
        return None
    mountpoint = str(owner.get("mountpoint", MOUNTPOINT))
    if mountpoint not in tracefs_mounts(host):
        _unlink("/" + MOUNT_OWNER)
        return None
    err = _run(["umount", "/" + mountpoint])
    if err is not None:
        return f"could not unmount tracefs at /{mountpoint}: {err}"
    _unlink("/" + MOUNT_OWNER)
    return f"unmounted tracefs at /{mountpoint} (memsleuth had mounted it)"


def _load_state_raw(host: Host, path: str) -> dict[str, Any] | None:
    try:
        data = json.loads(host.read(path))
    except (SourceMissing, AccessDenied, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _revert_writes(host: Host, base: str, writes: list[Any]) -> list[str]:
    problems = []
    for entry in reversed(writes):
        if not isinstance(entry, dict):
            continue
        path, old = entry.get("path"), entry.get("restore")
        if not isinstance(path, str) or not isinstance(old, str):
            continue
        try:
            host.write(f"{base}/{path}", old)
        except SourceMissing:
            pass  # the instance (and the file with it) is already gone
        except (OSError, MemsleuthError) as exc:
            problems.append(f"could not restore {path}: {exc}")
    return problems


def repair_leftovers(host: Host, *, exclude: int | None = None) -> list[Repair]:
    """Undo what killed sessions left behind; one :class:`Repair` per leftover."""
    repairs: list[Repair] = []
    boot = _boot_id(host)
    handled_instances: set[str] = set()
    for name in _listdir(host, STATE_DIR):
        if not (name.startswith("trace-") and name.endswith(".json")):
            continue
        path = f"{STATE_DIR}/{name}"
        state = _load_state(host, path)
        pid = state.get("pid") if state else None
        if state is not None and isinstance(pid, int):
            if pid == exclude:
                continue
            if state.get("boot_id") == boot and _starttime(host, pid) == state.get("starttime"):
                continue  # a session that is still running
        actions: list[str] = []
        instance = state.get("instance") if state else None
        mountpoint = str(state.get("mountpoint", MOUNTPOINT)) if state else MOUNTPOINT
        if state is None:
            actions.append(f"removed unreadable state file /{path}")
        elif state.get("boot_id") != boot:
            actions.append(f"removed state file /{path} from an earlier boot (nothing to undo)")
        elif isinstance(instance, str):
            handled_instances.add(instance)
            base = f"{mountpoint}/instances/{instance}"
            if mountpoint in tracefs_mounts(host) and host.exists(base):
                writes = state.get("writes") or []
                actions.extend(_revert_writes(host, base, writes))
                actions.append(f"reverted {len(writes)} control-file writes in instances/{instance}")
                try:
                    _rmdir("/" + base)
                    actions.append(f"removed stale instance instances/{instance}")
                except OSError as exc:
                    actions.append(f"could not remove instances/{instance}: {exc}")
            else:
                actions.append(f"instance {instance} was already gone")
        _unlink("/" + path)
        repairs.append(Repair(pid=pid if isinstance(pid, int) else None,
                              instance=instance if isinstance(instance, str) else None,
                              actions=tuple(actions)))
    # instances of dead memsleuth sessions whose state file is gone
    for mp in tracefs_mounts(host):
        for inst in _listdir(host, f"{mp}/instances"):
            if not inst.startswith(INSTANCE_PREFIX) or inst in handled_instances:
                continue
            tail = inst[len(INSTANCE_PREFIX):]
            if not tail.isdigit() or int(tail) == exclude or _starttime(host, int(tail)) is not None:
                continue
            try:
                _rmdir(f"/{mp}/instances/{inst}")
                repairs.append(Repair(pid=int(tail), instance=inst,
                                      actions=(f"removed orphan instance instances/{inst}",)))
            except OSError as exc:
                repairs.append(Repair(pid=int(tail), instance=inst,
                                      actions=(f"could not remove instances/{inst}: {exc}",)))
    done = _maybe_unmount(host, exclude=exclude)
    if done is not None and repairs:
        repairs.append(Repair(pid=None, instance=None, actions=(done,)))
    elif done is not None:
        repairs.append(Repair(pid=None, instance=None, actions=(done + " (left by a killed run)",)))
    return repairs


class TraceSession:
    """A private tracefs instance; ``with TraceSession(host) as s:`` restores on any exit.

    Use :meth:`write` for every control file (it journals the old value),
    :meth:`stream` to read the instance's ``trace_pipe``.
    """

    def __init__(self, host: Host, *, buffer_kb: int = 8192) -> None:
        self.host = host
        self.buffer_kb = buffer_kb
        self.pid = os.getpid()
        self.instance = f"{INSTANCE_PREFIX}{self.pid}"
        self.mountpoint = MOUNTPOINT
        self.mounted_by_us = False
        self.repairs: list[Repair] = []
        self.restore_problems: list[str] = []
        self._writes: list[dict[str, str]] = []
        self._state: dict[str, Any] = {}
        self._instance_created = False
        self._pipe_fd: int | None = None
        self._old_handlers: dict[int, Any] = {}
        self._closed = False

    # -- paths ----------------------------------------------------------------
    @property
    def base(self) -> str:
        """The instance directory, relative to ``/``."""
        return f"{self.mountpoint}/instances/{self.instance}"

    def exists(self, rel: str) -> bool:
        return self.host.exists(f"{self.base}/{rel}")

    def read(self, rel: str) -> str:
        return self.host.read_text(f"{self.base}/{rel}")

    # -- lifecycle ------------------------------------------------------------
    def __enter__(self) -> TraceSession:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        if not self.host.live:
            raise TraceUnavailable("tracing reads the live kernel; it cannot run on a bundle (--root)")
        if os.geteuid() != 0:
            raise TraceUnavailable("tracing needs root (tracefs is root-only): run with sudo")

    def _save_state(self) -> None:
        self._state["writes"] = self._writes
        self.host.write(_state_path(self.pid), json.dumps(self._state, indent=1), create=True)

    def _start(self) -> None:
        self._check()
        os.makedirs("/" + STATE_DIR, mode=0o755, exist_ok=True)
        self.repairs = repair_leftovers(self.host, exclude=self.pid)
        mounts = tracefs_mounts(self.host)
        need_mount = not mounts
        if mounts:
            self.mountpoint = MOUNTPOINT if MOUNTPOINT in mounts else mounts[0]
        elif not self._fs_supported():
            raise TraceUnavailable("this kernel has no tracefs (CONFIG_TRACING is off)")
        self._state = {
            "format": STATE_FORMAT, "version": STATE_VERSION, "pid": self.pid,
            "starttime": _starttime(self.host, self.pid), "boot_id": _boot_id(self.host),
            "mountpoint": self.mountpoint, "will_mount": need_mount, "instance": self.instance,
            "started_at": time.time(), "writes": [],
        }
        self._save_state()
        self._install_handlers()
        if need_mount:
            self.host.write(MOUNT_OWNER, json.dumps({"boot_id": self._state["boot_id"],
                                                     "mountpoint": self.mountpoint,
                                                     "pid": self.pid}), create=True)
            err = _run(["mount", "-t", "tracefs", "nodev", "/" + self.mountpoint])
            if err is not None:
                _unlink("/" + MOUNT_OWNER)
                raise TraceUnavailable(f"cannot mount tracefs at /{self.mountpoint}: {err}")
            self.mounted_by_us = True
        if not self.host.exists(f"{self.mountpoint}/instances"):
            raise TraceUnavailable(
                f"/{self.mountpoint} has no instances/ directory (kernel older than 3.10?); "
                "memsleuth only traces in a private instance, to leave the global buffer alone")
        try:
            os.mkdir("/" + self.base)
        except OSError as exc:
            raise TraceUnavailable(f"cannot create tracefs instance /{self.base}: {exc}") from None
        self._instance_created = True
        self.write("tracing_on", "0")
        self.write("buffer_size_kb", str(self.buffer_kb))

    def _fs_supported(self) -> bool:
        try:
            text = self.host.read_text("proc/filesystems")
        except (SourceMissing, AccessDenied):
            return False
        return any(line.split()[-1:] == ["tracefs"] for line in text.splitlines())

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        raise TraceStopped(signum)

    def _install_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, self._handler)

    def write(self, rel: str, value: str) -> None:
        """Write a control file of the instance, journaling its old value first."""
        path = f"{self.base}/{rel}"
        old = self.host.read_text(path)
        restore = _normalise(rel, old)
        if restore is not None:
            self._writes.append({"path": rel, "restore": restore})
            self._save_state()
        try:
            self.host.write(path, value)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise TraceUnavailable(f"the kernel refused {value!r} for {rel}") from None
            raise

    def close(self) -> None:
        """Restore everything; safe to call twice, and after a failed start."""
        if self._closed:
            return
        self._closed = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            if sig in self._old_handlers:
                signal.signal(sig, signal.SIG_IGN)
        try:
            if self._pipe_fd is not None:
                os.close(self._pipe_fd)
                self._pipe_fd = None
            if self._instance_created:
                self.restore_problems.extend(_revert_writes(self.host, self.base, self._writes))
                try:
                    _rmdir("/" + self.base)
                except OSError as exc:
                    self.restore_problems.append(f"could not remove /{self.base}: {exc}")
            if self._state:
                _unlink("/" + _state_path(self.pid))
            done = _maybe_unmount(self.host, exclude=self.pid)
            if done is not None and done.startswith("could not"):
                self.restore_problems.append(done)
        finally:
            for signum, old in self._old_handlers.items():
                signal.signal(signum, old)
            self._old_handlers.clear()

    # -- reading --------------------------------------------------------------
    def stream(self, seconds: float, *, poll_seconds: float = 0.05,
               on_idle: Callable[[], None] | None = None) -> Iterator[list[bytes]]:
        """Turn tracing on for ``seconds`` and yield batches of ``trace_pipe`` lines.

        Tracing is switched off at the end and the pipe drained, so every event
        recorded in the window is read.  A :class:`TraceStopped` raised by a
        signal leaves through the caller's loop.
        """
        self._pipe_fd = os.open("/" + f"{self.base}/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
        rest = b""
        self.write("tracing_on", "1")
        end = time.monotonic() + seconds
        draining = False
        while True:
            try:
                chunk = os.read(self._pipe_fd, _READ_CHUNK)
            except BlockingIOError:
                chunk = b""
            if chunk:
                data = rest + chunk
                lines = data.split(b"\n")
                rest = lines.pop()
                yield lines
                continue
            if draining:
                break
            if time.monotonic() >= end:
                self.host.write(f"{self.base}/tracing_on", "0")
                draining = True
                continue
            if on_idle is not None:
                on_idle()
            time.sleep(min(poll_seconds, max(end - time.monotonic(), 0.0)))
        if rest:
            yield [rest]

    def stop_tracing(self) -> None:
        """Switch the instance's ``tracing_on`` off (after an interrupt)."""
        with contextlib.suppress(OSError, MemsleuthError):
            self.host.write(f"{self.base}/tracing_on", "0")

    def drain(self) -> Iterator[list[bytes]]:
        """What is still in the pipe after :meth:`stop_tracing`."""
        if self._pipe_fd is None:
            return
        rest = b""
        while True:
            try:
                chunk = os.read(self._pipe_fd, _READ_CHUNK)
            except BlockingIOError:
                break
            if not chunk:
                break
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield lines
        if rest:
            yield [rest]

    def lost_events(self) -> int | None:
        """Events the ring buffer overwrote or dropped (per_cpu stats), ``None`` if unknown."""
        total = 0
        seen = False
        for cpu in _listdir(self.host, f"{self.base}/per_cpu"):
            try:
                text = self.host.read_text(f"{self.base}/per_cpu/{cpu}/stats")
            except (SourceMissing, AccessDenied):
                continue
            for line in text.splitlines():
                key, _, value = line.partition(":")
                if key.strip() in ("overrun", "dropped events"):
                    try:
                        total += int(value.split()[0])
                        seen = True
                    except (ValueError, IndexError):
                        pass
        return total if seen else None


__all__ = ["MOUNTPOINT", "Repair", "TraceSession", "TraceStopped", "TraceUnavailable",
           "repair_leftovers", "tracefs_mounts"]
