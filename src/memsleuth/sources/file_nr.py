"""``/proc/sys/fs/file-nr``: ``allocated unused max`` file handles.

``struct files_stat_struct`` in fs/file_table.c (``nr_files``,
``nr_free_files``, ``max_files``); Documentation/admin-guide/sysctl/fs.rst.

Units: counts of ``struct file`` objects (the ``filp`` slab cache).

Traps:

* The middle field has been 0 since Linux 2.6: the kernel frees unused file
  handles instead of keeping a free list.  The documentation says so; 0 is
  the true count, not "unknown", so it stays an ``int``.
* ``nr_files`` is a per-CPU counter read without summing all CPUs
  (``percpu_counter_read_positive``): it can lag by a few hundred per CPU.
* ``max_files`` is ``fs.file-max``; on 64-bit it may be as large as
  ``LONG_MAX`` (9223372036854775807) when set "unlimited".
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/sys/fs/file-nr"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileNr:
    """One reading of /proc/sys/fs/file-nr."""

    #: File handles allocated (open files, system-wide).
    nr_files: int
    #: Allocated but unused handles: always 0 since 2.6.
    nr_free_files: int
    #: ``fs.file-max``: the system-wide limit.
    max_files: int


def parse_file_nr(text: str, *, source: str = SOURCE) -> FileNr:
    """Parse the text of /proc/sys/fs/file-nr."""
    parts = text.split()
    if len(parts) != 3:
        raise ParseError(source, f"expected 3 fields, got {len(parts)}: {text.strip()!r}")
    try:
        nr_files, nr_free, max_files = (int(p) for p in parts)
    except ValueError:
        raise ParseError(source, f"non-integer field: {text.strip()!r}") from None
    return FileNr(nr_files=nr_files, nr_free_files=nr_free, max_files=max_files)
