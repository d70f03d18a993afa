"""``/proc/sys/fs/inode-nr``: ``nr_inodes nr_free_inodes``.

Two counts of in-memory inodes (``struct inodes_stat_t`` in fs/inode.c;
Documentation/admin-guide/sysctl/fs.rst).  ``/proc/sys/fs/inode-state`` is
the same two numbers followed by five reserved zeros.

Units: counts of inode objects.  Each lives in a filesystem's inode slab
cache (``ext4_inode_cache``, ``xfs_inode``, ``proc_inode_cache``...), so
their byte cost depends on the filesystem.

Traps:

* The kernel's own name for field 2 is ``nr_unused``: inodes on the LRU
  with no users, which reclaim may free.  It is not free memory.
* Both are sums of per-CPU counters: approximate, clamped at 0.
* Compare ``nr_inodes`` with ``nr_dentry`` from ``/proc/sys/fs/dentry-state``:
  on kernels without ``nr_negative`` (before 5.0), dentries far outnumbering
  inodes is how a negative-dentry flood shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/sys/fs/inode-nr"


@dataclass(frozen=True, slots=True, kw_only=True)
class InodeNr:
    """One reading of /proc/sys/fs/inode-nr."""

    #: Inodes allocated in memory.
    nr_inodes: int
    #: Unused inodes on the LRU (the kernel's ``nr_unused``).
    nr_free_inodes: int


def parse_inode_nr(text: str, *, source: str = SOURCE) -> InodeNr:
    """Parse the text of /proc/sys/fs/inode-nr (or the first two fields of inode-state)."""
    parts = text.split()
    if len(parts) not in (2, 7):
        raise ParseError(source, f"expected 2 fields, got {len(parts)}: {text.strip()!r}")
    try:
        nr_inodes, nr_free = int(parts[0]), int(parts[1])
    except ValueError:
        raise ParseError(source, f"non-integer field: {text.strip()!r}") from None
    return InodeNr(nr_inodes=nr_inodes, nr_free_inodes=nr_free)
