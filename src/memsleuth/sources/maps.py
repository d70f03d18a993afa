"""``/proc/PID/maps``: one line per virtual memory area (VMA).

Each line is ``start-end perms offset dev inode [pathname]``; this is also the
header line of every block in ``/proc/PID/smaps`` (and of the single block of
``smaps_rollup``), so :func:`parse_vma_header` is shared with
:mod:`memsleuth.sources.smaps`.

Units: ``start``, ``end`` and ``offset`` are hexadecimal addresses/byte
offsets, converted to ints here; ``dev`` is ``major:minor`` in hexadecimal;
``inode`` is decimal.  Nothing here is in pages.

Traps:

* The pathname may contain spaces: everything after the inode field is the
  name.  The kernel pads the name to a fixed column, so leading spaces of a
  file name are indistinguishable from padding and are lost.  Only ``\\n`` is
  escaped in names (as ``\\012``); we leave escapes as printed.
* Anonymous mappings have no name.  Pseudo-names in brackets are not paths:
  ``[heap]``, ``[stack]``, ``[vdso]``, ``[vvar]``, ``[vsyscall]``,
  ``[uprobes]``, ``[anon:<name>]`` (``prctl(PR_SET_VMA_ANON_NAME)``, 5.17) and
  ``[anon_shmem:<name>]``.
* ``(deleted)`` is appended (after a space) when the file was unlinked; it is
  stripped into :attr:`VmArea.deleted`.  A file literally named
  ``"x (deleted)"`` cannot be told apart.  memfd and SysV shm segments show
  as ``/memfd:name (deleted)`` and ``/SYSV00000000 (deleted)``.
* ``[vsyscall]`` (x86-64 gate area) is listed in maps/smaps but is not a VMA
  of the mm, so ``smaps_rollup``'s span and totals do not include it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/PID/maps"

_DELETED = " (deleted)"

#: What :func:`parse_vma_header` returns: start, end, perms, offset,
#: dev_major, dev_minor, inode, pathname (``None`` when anonymous), deleted.
VmaHeader = tuple[int, int, str, int, int, int, int, str | None, bool]


def parse_vma_header(line: str, source: str = SOURCE) -> VmaHeader:
    """Split one ``start-end perms offset dev inode [pathname]`` line.

    Returns a plain tuple (see :data:`VmaHeader`): this runs once per VMA
    of every process, so it stays free of record construction.
    """
    parts = line.split(None, 5)
    if len(parts) < 5:
        raise ParseError(source, f"not a mapping header: {line!r}")
    span, perms, offset, dev, inode = parts[0], parts[1], parts[2], parts[3], parts[4]
    start, dash, end = span.partition("-")
    major, colon, minor = dev.partition(":")
    if not dash or not colon or len(perms) != 4:
        raise ParseError(source, f"not a mapping header: {line!r}")
    try:
        header: VmaHeader = (
            int(start, 16),
            int(end, 16),
            perms,
            int(offset, 16),
            int(major, 16),
            int(minor, 16),
            int(inode),
            None,
            False,
        )
    except ValueError:
        raise ParseError(source, f"not a mapping header: {line!r}") from None
    if len(parts) == 6:
        pathname = parts[5]
        deleted = pathname.endswith(_DELETED)
        if deleted:
            pathname = pathname[: -len(_DELETED)]
        return (*header[:7], pathname, deleted)
    return header


@dataclass(frozen=True, slots=True, kw_only=True)
class VmArea:
    """One line of /proc/PID/maps."""

    start: int
    end: int
    #: ``rwxp`` / ``r--s``: read, write, execute, then ``p`` private or ``s`` shared.
    perms: str
    offset: int
    dev_major: int
    dev_minor: int
    inode: int
    #: File path or bracketed pseudo-name; ``None`` for an anonymous mapping.
    pathname: str | None = None
    #: The kernel appended `` (deleted)`` (stripped from :attr:`pathname`).
    deleted: bool = False

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    @property
    def dev(self) -> str:
        """``major:minor`` as the kernel prints it (``fe:00``)."""
        return f"{self.dev_major:02x}:{self.dev_minor:02x}"

    @property
    def shared(self) -> bool:
        """Mapped ``MAP_SHARED`` (perms end in ``s``)."""
        return self.perms[3] == "s"

    @property
    def anon_name(self) -> str | None:
        """The name given with ``PR_SET_VMA_ANON_NAME``, if any."""
        p = self.pathname
        if p is not None and p.startswith("[anon:") and p.endswith("]"):
            return p[6:-1]
        return None


def iter_maps(text: str, *, source: str = SOURCE) -> Iterator[VmArea]:
    """Yield a :class:`VmArea` per line of /proc/PID/maps."""
    for line in text.splitlines():
        if not line.strip():
            continue
        s, e, perms, off, ma, mi, ino, path, deleted = parse_vma_header(line, source)
        yield VmArea(
            start=s,
            end=e,
            perms=perms,
            offset=off,
            dev_major=ma,
            dev_minor=mi,
            inode=ino,
            pathname=path,
            deleted=deleted,
        )


def parse_maps(text: str, *, source: str = SOURCE) -> tuple[VmArea, ...]:
    """Parse the text of /proc/PID/maps.

    Kernel threads and zombies have no address space: their maps is empty,
    which gives an empty tuple.
    """
    return tuple(iter_maps(text, source=source))
