"""memsleuth: from a memory alarm to its root cause on Linux.

The public API is small on purpose: a :class:`Host` to read from, and
:func:`capture` to take a :class:`Snapshot` of it.  Parsers live in
:mod:`memsleuth.sources` and are pure functions of the kernel's text.
"""

from __future__ import annotations

from memsleuth.errors import (
    AccessDenied,
    BundleError,
    MemsleuthError,
    ParseError,
    ProcessGone,
    SourceError,
    SourceMissing,
)
from memsleuth.host import Host
from memsleuth.snapshot.capture import capture
from memsleuth.snapshot.model import Snapshot
from memsleuth.version import __version__

__all__ = [
    "AccessDenied",
    "BundleError",
    "Host",
    "MemsleuthError",
    "ParseError",
    "ProcessGone",
    "Snapshot",
    "SourceError",
    "SourceMissing",
    "__version__",
    "capture",
]
