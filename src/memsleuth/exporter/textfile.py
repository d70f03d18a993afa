"""The exposition as a file for node_exporter's textfile collector, written atomically.

node_exporter reads ``*.prom`` in its ``--collector.textfile.directory`` at
every scrape; a file caught half-written is a scrape error.  So the text goes
to a temporary file in the same directory (same filesystem, so the rename is
atomic; a name not ending in ``.prom``, so the collector never reads it),
is fsynced, renamed over the target, and the directory is fsynced so the
rename survives a crash.  A reader sees the old file or the new one, whole.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

#: node_exporter usually runs as its own user: the file must be readable by it
MODE = 0o644


def write_atomic(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


__all__ = ["MODE", "write_atomic"]
