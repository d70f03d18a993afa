"""Write a snapshot as a bundle: a ``.tar.gz`` shaped like ``/`` plus ``memsleuth.json``.

A bundle holds the raw bytes the capture read, at their own paths, so
``memsleuth --root bundle.tar.gz COMMAND`` runs every command on it exactly
as on the live host.  It never holds ``/proc/PID/environ``: environments
carry secrets, and no command needs more than one key of them, which is
read live and never stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator, Sequence

from memsleuth.errors import AccessDenied, ProcessGone, SourceMissing
from memsleuth.host import BUNDLE_FORMAT, BUNDLE_VERSION, META_NAME, Host
from memsleuth.snapshot.model import REASON_VANISHED, ProcessSample, Snapshot
from memsleuth.sources._kv import scan_fields

#: Per-process files a bundle carries: enough for top, smaps-free attribution
#: (maps names the libraries) and cgroup grouping.
BUNDLE_PROCESS_FILES: tuple[str, ...] = (
    "stat",
    "status",
    "statm",
    "smaps_rollup",
    "cmdline",
    "maps",
    "cgroup",
)

_FORBIDDEN_NAMES = frozenset({"environ"})


def with_full_smaps(host: Host, snap: Snapshot, *, top: int, pids: Sequence[int] = ()) -> Snapshot:
    """``snap`` with ``proc/PID/smaps`` added for the ``top`` processes by PSS (RSS where PSS is
    unreadable) and for ``pids``; a process that exited or denies the read is left as it was."""
    def size(p: ProcessSample) -> int:
        found = scan_fields(p.files.get("smaps_rollup") or b"", ("Pss",)) or scan_fields(
            p.files.get("status") or b"", ("VmRSS",))
        return next(iter(found.values()), 0)

    users = [p for p in snap.processes if not p.kernel_thread and not p.zombie]
    chosen = {p.pid for p in sorted(users, key=size, reverse=True)[:top]} | set(pids)
    out = []
    for p in snap.processes:
        if p.pid in chosen and "smaps" not in p.files:
            try:
                data = host.read(f"proc/{p.pid}/smaps")
            except (AccessDenied, ProcessGone, SourceMissing):
                data = b""
            if data:
                p = dataclasses.replace(p, files={**p.files, "smaps": data})
        out.append(p)
    return dataclasses.replace(snap, processes=tuple(out))


def _is_forbidden(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in _FORBIDDEN_NAMES


def iter_members(snap: Snapshot) -> Iterator[tuple[str, bytes]]:
    """Every ``(path, bytes)`` a bundle of ``snap`` contains, environ excluded."""
    for path, data in snap.files.items():
        if not _is_forbidden(path):
            yield path, data
    for proc in snap.processes:
        for name, data in proc.files.items():
            if name not in _FORBIDDEN_NAMES:
                yield f"proc/{proc.pid}/{name}", data


def metadata(snap: Snapshot) -> dict[str, object]:
    from memsleuth.version import __version__

    missing = dict(snap.missing)
    for proc in snap.processes:
        for name, reason in proc.unreadable.items():
            missing[f"proc/{proc.pid}/{name}"] = reason
    m = snap.meta
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "created_by": f"memsleuth {__version__}",
        "hostname": m.hostname,
        "kernel_release": m.kernel_release,
        "kernel_version": m.kernel_version,
        "boot_id": m.boot_id,
        "page_size_bytes": m.page_size_bytes,
        "clock_ticks_per_second": m.clock_ticks_per_second,
        "captured_at": snap.started_at,
        "capture_seconds": snap.duration_seconds,
        "root_access": m.root_access,
        "processes": len(snap.processes),
        "processes_vanished": snap.processes_vanished,
        "processes_vanished_reason": REASON_VANISHED,
        "missing": missing,
    }


def write_bundle(snap: Snapshot, path: str | os.PathLike[str]) -> int:
    """Write ``snap`` to ``path`` atomically; return the number of files stored."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    mtime = int(snap.started_at)
    count = 0
    fd, tmp = tempfile.mkstemp(prefix=".memsleuth-", suffix=".tar.gz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            meta = json.dumps(metadata(snap), indent=2, sort_keys=True).encode()
            _add_file(tar, META_NAME, meta, mtime)
            for member, data in iter_members(snap):
                _add_file(tar, member, data, mtime)
                count += 1
            for directory_path, entries in snap.listings.items():
                for name, target_link in entries.items():
                    if target_link is not None:
                        info = tarfile.TarInfo(f"{directory_path}/{name}")
                        info.type = tarfile.SYMTYPE
                        info.linkname = target_link
                        info.mtime = mtime
                        tar.addfile(info)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return count


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o444
    tar.addfile(info, io.BytesIO(data))
