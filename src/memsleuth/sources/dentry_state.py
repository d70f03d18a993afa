"""``/proc/sys/fs/dentry-state``: six numbers about the dentry cache.

The line is ``nr_dentry nr_unused age_limit want_pages nr_negative dummy``
(``struct dentry_stat_t`` in fs/dcache.c; Documentation/admin-guide/sysctl/
fs.rst).

Units: ``nr_dentry``, ``nr_unused`` and ``nr_negative`` are dentry *counts*
(objects in the ``dentry`` slab cache, roughly 192 bytes each on x86_64);
``age_limit`` is seconds; ``want_pages`` is a page count the kernel has not
used in decades and always prints 0.

Traps:

* The fifth field only means something since Linux 5.0: Linux kernel commit
  af0c9af1b3f6 ("fs/dcache: track & report number of negative dentries")
  (in v5.0) turned the first of two reserved ``dummy`` words into
  ``nr_negative``.  Before that (2.6.32 on CentOS 6, 3.10 on CentOS 7, 4.x)
  the word exists and is always 0, because nothing ever wrote it.  The
  *shape* of the file did not change, only the meaning of a field, so the
  text alone cannot tell "no negative dentries" from "not counted".  See
  :func:`parse_dentry_state` for the rule we use and
  :func:`kernel_has_nr_negative` for the one version check memsleuth allows.
* ``nr_negative`` counts negative dentries on the LRU lists only (unused
  ones); ones in flight or on a shrink list are not included (per the
  commit message).  It is a subset of ``nr_unused``.
* ``nr_dentry`` includes negative dentries.  On kernels without
  ``nr_negative`` a dentry count far above the inode count
  (``/proc/sys/fs/inode-nr``) is the usual sign of a negative-dentry flood.
* The counters are sums of per-CPU counters read without locking: they are
  approximate and can briefly disagree with each other.
* 2.6.32 prints ``int`` fields, 3.x+ ``long``; the text is the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/sys/fs/dentry-state"

#: (major, minor) of the first mainline release that fills field 5.
NR_NEGATIVE_SINCE = (5, 0)

_RELEASE = re.compile(r"^\s*(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class DentryState:
    """One reading of /proc/sys/fs/dentry-state."""

    #: Dentries allocated (positive and negative).
    nr_dentry: int
    #: Dentries with no users, on the LRU: what the shrinker can free.
    nr_unused: int
    #: Seconds; always 45 in mainline.
    age_limit_seconds: int
    #: Always 0.
    want_pages: int
    #: Unused negative dentries, or ``None`` when the kernel does not count
    #: them or we cannot tell (see :func:`parse_dentry_state`).
    nr_negative: int | None = None


def kernel_has_nr_negative(release: str) -> bool | None:
    """Whether a kernel with this release string fills ``nr_negative``.

    ``release`` is ``uname -r`` (``6.18.44-fc``, ``2.6.32-431.el6.x86_64``).
    Returns ``True`` for mainline 5.0 and later, ``False`` before, and
    ``None`` if the string does not start with ``X.Y``.

    This is memsleuth's one allowed kernel-version check (STYLE.md pattern 8
    says detect features instead): the file kept its shape across the
    change, so there is no feature to detect, only a meaning to know.
    ``False`` is a mainline fact; a distribution may have backported the
    commit, which is why :func:`parse_dentry_state` still trusts a non-zero
    fifth field.
    """
    m = _RELEASE.match(release)
    if m is None:
        return None
    return (int(m.group(1)), int(m.group(2))) >= NR_NEGATIVE_SINCE


def parse_dentry_state(
    text: str, *, has_nr_negative: bool | None = None, source: str = SOURCE
) -> DentryState:
    """Parse the text of /proc/sys/fs/dentry-state.

    The rule for ``nr_negative`` (field 5):

    * non-zero: the value, whatever the hint.  Kernels without the counter
      never write that word, so a non-zero value proves the kernel counts
      (e.g. a distribution kernel older than 5.0 with the commit backported).
    * zero and ``has_nr_negative=True``: 0, a real count.
    * zero otherwise (``False``: older kernel; ``None``: unknown): ``None``,
      because 0 is what an old kernel prints for "not counted", and absent
      must not read as zero.

    Pass ``has_nr_negative=kernel_has_nr_negative(release)`` when the
    snapshot knows the kernel release.
    """
    parts = text.split()
    if len(parts) != 6:
        raise ParseError(source, f"expected 6 fields, got {len(parts)}: {text.strip()!r}")
    try:
        nr_dentry, nr_unused, age_limit, want_pages, field5, _dummy = (int(p) for p in parts)
    except ValueError:
        raise ParseError(source, f"non-integer field: {text.strip()!r}") from None
    if field5 != 0:
        nr_negative: int | None = field5
    elif has_nr_negative:
        nr_negative = 0
    else:
        nr_negative = None
    return DentryState(
        nr_dentry=nr_dentry,
        nr_unused=nr_unused,
        age_limit_seconds=age_limit,
        want_pages=want_pages,
        nr_negative=nr_negative,
    )
