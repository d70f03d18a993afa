"""The proc/sys root memsleuth reads from: the live host, a directory, or a bundle.

:class:`Host` is the only place in memsleuth that opens files, and
:meth:`Host.write` (live host only) is its one write path.  Everything
above it asks for paths relative to the root (``proc/meminfo``,
``sys/kernel/slab/dentry/reclaim_account``) and gets bytes or a typed error:

* :class:`~memsleuth.errors.SourceMissing` - no such file on this kernel/bundle;
* :class:`~memsleuth.errors.AccessDenied` - EACCES/EPERM (not root);
* :class:`~memsleuth.errors.ProcessGone` - a ``proc/PID/...`` file whose
  process exited under us (ENOENT/ESRCH on a PID path).

A root is shaped like ``/``: ``ROOT/proc/meminfo``, ``ROOT/sys/kernel/slab``.
A bundle (``.tar.gz`` from ``memsleuth capture``) unpacks to the same shape
plus ``memsleuth.json``; a bare directory without it is still a valid root,
whose capture time is the mtime of ``proc/meminfo``.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from memsleuth.errors import AccessDenied, BundleError, ProcessGone, SourceMissing, UsageError

META_NAME = "memsleuth.json"
BUNDLE_FORMAT = "memsleuth-bundle"
BUNDLE_VERSION = 1
_CHUNK = 1 << 16
_DEFAULT_PAGE_SIZE = 4096
_DEFAULT_CLOCK_TICKS = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class HostMeta:
    """Identity of what we read: from the live system or a bundle's metadata."""

    hostname: str | None
    kernel_release: str | None
    kernel_version: str | None
    boot_id: str | None
    page_size_bytes: int
    clock_ticks_per_second: int
    #: Wall-clock time (Unix seconds) the data describes: now for a live host.
    captured_at: float | None
    #: Whether the reader had root when the data was taken.
    root_access: bool | None


def _pid_of(path: str) -> int | None:
    # "proc/1234/status" -> 1234; anything else -> None
    if path.startswith("proc/"):
        head = path[5:].partition("/")[0]
        if head.isdigit():
            return int(head)
    return None


def _map_oserror(exc: OSError, path: str) -> Exception:
    pid = _pid_of(path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return AccessDenied(path)
    if pid is not None and exc.errno in (errno.ENOENT, errno.ESRCH):
        return ProcessGone(pid)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return SourceMissing(path)
    return exc


class _DirBackend:
    """A directory shaped like ``/``; the live host is ``_DirBackend("/")``."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") + "/" if root != "/" else "/"

    def read(self, path: str) -> bytes:
        full = self.root + path
        try:
            fd = os.open(full, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise _map_oserror(exc, path) from None
        try:
            chunks = []
            while True:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as exc:
            raise _map_oserror(exc, path) from None
        finally:
            os.close(fd)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(self.root + path)
        except OSError as exc:
            raise _map_oserror(exc, path) from None

    def readlink(self, path: str) -> str | None:
        try:
            return os.readlink(self.root + path)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                return None
            raise _map_oserror(exc, path) from None

    def links(self, path: str) -> dict[str, str | None]:
        """Entries of a directory with the target of those that are symlinks."""
        out: dict[str, str | None] = {}
        try:
            with os.scandir(self.root + path) as it:
                for entry in it:
                    out[entry.name] = os.readlink(entry.path) if entry.is_symlink() else None
        except OSError as exc:
            raise _map_oserror(exc, path) from None
        return out

    def subdirs(self, path: str) -> list[str]:
        try:
            with os.scandir(self.root + path) as it:
                return [e.name for e in it if e.is_dir(follow_symlinks=False)]
        except OSError as exc:
            raise _map_oserror(exc, path) from None

    def mtime(self, path: str) -> float | None:
        try:
            return os.stat(self.root + path).st_mtime
        except OSError:
            return None


class _TarBackend:
    """A captured bundle, held in memory (bundles are a few MB)."""

    def __init__(self, path: str) -> None:
        # imported here: only bundles need them, and the CLI starts faster without
        import tarfile
        import zlib

        self.files: dict[str, bytes] = {}
        self.symlinks: dict[str, str] = {}
        self.dirs: dict[str, set[str]] = {}
        self.mtimes: dict[str, float] = {}
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    name = member.name.removeprefix("./").rstrip("/")
                    if not name or name.startswith("/") or ".." in name.split("/"):
                        raise BundleError(f"{path}: unsafe member name {member.name!r}")
                    self._add_parents(name)
                    if member.issym():
                        self.symlinks[name] = member.linkname
                    elif member.isfile():
                        fobj = tar.extractfile(member)
                        if fobj is None:
                            raise BundleError(f"{path}: unreadable member {name}")
                        self.files[name] = fobj.read()
                        self.mtimes[name] = float(member.mtime)
                    elif member.isdir():
                        self.dirs.setdefault(name, set())
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            # tarfile's ReadError lists every compression it tried, one per line: keep the first
            why = str(exc).splitlines()[0].rstrip(":") if str(exc) else exc.__class__.__name__
            raise BundleError(
                f"{path}: not a readable bundle ({why}); it may be truncated or not a memsleuth capture"
            ) from None
        if META_NAME not in self.files and "proc/meminfo" not in self.files:
            raise BundleError(
                f"{path}: a tar archive, but not a memsleuth bundle "
                f"(no {META_NAME} and no proc/meminfo)"
            )

    def _add_parents(self, name: str) -> None:
        parts = name.split("/")
        for i in range(1, len(parts)):
            self.dirs.setdefault("/".join(parts[:i]), set()).add(parts[i])
        self.dirs.setdefault("", set()).add(parts[0])

    def read(self, path: str) -> bytes:
        data = self.files.get(path)
        if data is None:
            pid = _pid_of(path)
            if pid is not None and f"proc/{pid}" not in self.dirs:
                raise ProcessGone(pid)
            raise SourceMissing(path)
        return data

    def listdir(self, path: str) -> list[str]:
        entries = self.dirs.get(path.rstrip("/"))
        if entries is None:
            raise SourceMissing(path)
        return sorted(entries)

    def readlink(self, path: str) -> str | None:
        if path in self.symlinks:
            return self.symlinks[path]
        if path in self.files or path in self.dirs:
            return None
        raise SourceMissing(path)

    def links(self, path: str) -> dict[str, str | None]:
        base = path.rstrip("/")
        return {name: self.symlinks.get(f"{base}/{name}") for name in self.listdir(base)}

    def subdirs(self, path: str) -> list[str]:
        base = path.rstrip("/")
        return [n for n in self.listdir(base) if f"{base}/{n}" in self.dirs]

    def mtime(self, path: str) -> float | None:
        return self.mtimes.get(path)


class Host:
    """A root to read kernel files from.

    Build one with :meth:`open` (``None`` for the live host, a directory, or
    a bundle file) and hand it down; nothing in memsleuth reads ``/proc``
    any other way.
    """

    def __init__(self, backend: _DirBackend | _TarBackend, *, live: bool, label: str) -> None:
        self._backend = backend
        self.live = live
        self.label = label
        self._bundle_meta: Mapping[str, object] | None = None
        if not live:
            try:
                raw = backend.read(META_NAME)
            except SourceMissing:
                raw = None
            if raw is not None:
                import json

                try:
                    meta = json.loads(raw)
                except ValueError as exc:
                    raise BundleError(f"{label}: {META_NAME} is not valid JSON: {exc}") from None
                if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
                    raise BundleError(f"{label}: {META_NAME} is not a memsleuth bundle header")
                if int(meta.get("version", 0)) > BUNDLE_VERSION:
                    raise BundleError(
                        f"{label}: bundle version {meta.get('version')} is newer than this "
                        f"memsleuth understands ({BUNDLE_VERSION}); upgrade memsleuth"
                    )
                self._bundle_meta = meta
        self.meta = self._load_meta()

    # -- construction -------------------------------------------------------
    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> Host:
        """The live host for ``None`` or ``/``; else a directory or a bundle file."""
        if root is None or os.fspath(root) in ("/", ""):
            return cls(_DirBackend("/"), live=True, label="live host")
        path = os.fspath(root)
        if os.path.isdir(path):
            return cls(_DirBackend(path), live=False, label=path)
        if os.path.isfile(path):
            return cls(_TarBackend(path), live=False, label=path)
        raise BundleError(f"{path}: no such directory or bundle file")

    # -- reading ------------------------------------------------------------
    def read(self, path: str) -> bytes:
        """Bytes of ``path`` (relative to the root, e.g. ``proc/meminfo``)."""
        return self._backend.read(path)

    def read_at(self, path: str, offset: int, size: int) -> bytes:
        """``size`` bytes of a binary file from ``offset`` (``proc/PID/pagemap``, ``proc/kpageflags``).

        One ``pread`` loop on a directory root: pagemap and kpageflags are
        indexed by page, so a caller reads one contiguous range per area
        instead of the whole (address-space sized) file.  A short result
        means the file ended (kpageflags past the last PFN).  Errors are
        those of :meth:`read`.
        """
        if offset < 0 or size < 0:
            raise ValueError(f"read_at({path!r}, {offset}, {size}): negative offset or size")
        backend = self._backend
        if not isinstance(backend, _DirBackend):
            return backend.read(path)[offset : offset + size]
        try:
            fd = os.open(backend.root + path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise _map_oserror(exc, path) from None
        chunks: list[bytes] = []
        got = 0
        try:
            while got < size:
                chunk = os.pread(fd, size - got, offset + got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        except OSError as exc:
            raise _map_oserror(exc, path) from None
        finally:
            os.close(fd)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def write(self, path: str, data: bytes | str, *, create: bool = False) -> None:
        """Write ``data`` to ``path`` on the live host: memsleuth's one write path.

        Used only behind an explicit flag or by a session that restores what it
        changed: ``reclaim --yes`` (``proc/sys/vm/drop_caches``) and ``trace``
        (tracefs control files and its own state file under ``run/memsleuth``).
        ``create`` makes a new file (mode 0600, truncated); without it the file
        must exist, as kernel control files do.  A bundle or a directory root
        is read-only: :class:`~memsleuth.errors.UsageError`.  Errors map as in
        :meth:`read`; a kernel refusal (EINVAL on a bad tracefs filter, EBUSY)
        is raised as the :class:`OSError` itself.
        """
        if not self.live or not isinstance(self._backend, _DirBackend):
            raise UsageError(f"{self.label}: cannot write {path} to a bundle or directory root")
        raw = data.encode() if isinstance(data, str) else data
        flags = os.O_WRONLY | os.O_CLOEXEC | (os.O_CREAT | os.O_TRUNC if create else 0)
        try:
            fd = os.open(self._backend.root + path, flags, 0o600)
        except OSError as exc:
            raise _map_oserror(exc, path) from None
        try:
            os.write(fd, raw)
        except OSError as exc:
            raise _map_oserror(exc, path) from None
        finally:
            os.close(fd)

    def read_text(self, path: str) -> str:
        return self._backend.read(path).decode("utf-8", "replace")

    def read_optional(self, path: str) -> bytes | None:
        """Like :meth:`read`, but ``None`` when the file does not exist."""
        try:
            return self._backend.read(path)
        except SourceMissing:
            return None

    def listdir(self, path: str) -> list[str]:
        return self._backend.listdir(path)

    def readlink(self, path: str) -> str | None:
        """The target of a symlink, or ``None`` when ``path`` is not one."""
        return self._backend.readlink(path)

    def links(self, path: str) -> dict[str, str | None]:
        """``{entry: symlink target or None}`` for a directory, in one pass."""
        return self._backend.links(path)

    def subdirs(self, path: str) -> list[str]:
        """Names of the directories directly below ``path`` (symlinks excluded)."""
        return self._backend.subdirs(path)

    def exists(self, path: str) -> bool:
        try:
            self._backend.readlink(path)
        except (SourceMissing, ProcessGone):
            return False
        except AccessDenied:
            return True
        return True

    def pids(self) -> list[int]:
        """The numeric entries of ``proc/``, in ascending order."""
        return sorted(int(n) for n in self._backend.listdir("proc") if n.isdigit())

    def mtime(self, path: str) -> float | None:
        return self._backend.mtime(path)

    def environ_has(self, pid: int, key: str) -> str | None:
        """The value of one environment variable of a live process; ``None`` if unset.

        The only reader of ``/proc/PID/environ`` in memsleuth.  It keeps the
        one ``key`` a rule asks about and drops every other byte before it
        returns: nothing else from the environment is logged, stored,
        bundled or returned.  Bundles and directories never contain
        environ, so for them this raises :class:`SourceMissing`; another
        user's process without root raises :class:`AccessDenied`.
        """
        if not key or "=" in key or "\0" in key:
            raise ValueError(f"environ_has: not a variable name: {key!r}")
        path = f"proc/{pid}/environ"
        if not self.live:
            raise SourceMissing(path)
        data = self._backend.read(path)
        prefix = key.encode() + b"="
        found: bytes | None = None
        for entry in data.split(b"\0"):
            if entry.startswith(prefix):
                found = entry[len(prefix):]
        del data
        return None if found is None else found.decode("utf-8", "replace")

    @property
    def bundle_meta(self) -> Mapping[str, object] | None:
        """The bundle's ``memsleuth.json`` header, if it has one."""
        return self._bundle_meta

    # -- identity -----------------------------------------------------------
    def _first_line(self, path: str) -> str | None:
        try:
            data = self._backend.read(path)
        except (SourceMissing, AccessDenied):
            return None
        line = data.decode("utf-8", "replace").strip()
        return line or None

    def _load_meta(self) -> HostMeta:
        version = self._first_line("proc/version")
        release = version.split()[2] if version and len(version.split()) > 2 else None
        if self.live:
            return HostMeta(
                hostname=self._first_line("proc/sys/kernel/hostname"),
                kernel_release=release,
                kernel_version=version,
                boot_id=self._first_line("proc/sys/kernel/random/boot_id"),
                page_size_bytes=os.sysconf("SC_PAGE_SIZE"),
                clock_ticks_per_second=os.sysconf("SC_CLK_TCK"),
                captured_at=time.time(),
                root_access=os.geteuid() == 0,
            )
        meta = self._bundle_meta or {}

        def _int(key: str, default: int) -> int:
            value = meta.get(key)
            return int(value) if isinstance(value, (int, str)) else default

        def _str(key: str, fallback: str | None) -> str | None:
            value = meta.get(key)
            return str(value) if isinstance(value, str) else fallback

        captured = meta.get("captured_at")
        root_access = meta.get("root_access")
        return HostMeta(
            hostname=_str("hostname", self._first_line("proc/sys/kernel/hostname")),
            kernel_release=_str("kernel_release", release),
            kernel_version=_str("kernel_version", version),
            boot_id=_str("boot_id", self._first_line("proc/sys/kernel/random/boot_id")),
            page_size_bytes=_int("page_size_bytes", _DEFAULT_PAGE_SIZE),
            clock_ticks_per_second=_int("clock_ticks_per_second", _DEFAULT_CLOCK_TICKS),
            captured_at=(
                float(captured)
                if isinstance(captured, (int, float))
                else self._backend.mtime("proc/meminfo")
            ),
            root_access=root_access if isinstance(root_access, bool) else None,
        )

    @property
    def page_size(self) -> int:
        return self.meta.page_size_bytes

    @property
    def clock_ticks(self) -> int:
        return self.meta.clock_ticks_per_second

    def __repr__(self) -> str:
        return f"Host({self.label!r})"


__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "META_NAME", "Host", "HostMeta"]
