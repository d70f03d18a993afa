"""``/proc/cpuinfo``: only the CPU feature flags memsleuth needs.

x86 prints ``flags\t\t: fpu vme ...`` per CPU; arm64 prints ``Features``.
We take the first CPU's list.  The one flag used is ``la57`` (5-level
paging).  On x86 the kernel clears ``la57`` from this list when it runs
4-level page tables on a capable CPU (``no5lvl`` or a kernel built without
5-level support), so its presence means 5-level paging is on; a 57-bit
user address seen in maps confirms it.
"""

from __future__ import annotations

SOURCE = "proc/cpuinfo"

_FLAG_KEYS = ("flags", "Features")


def parse_cpu_flags(text: str) -> frozenset[str]:
    """The feature flags of the first CPU listed (empty when there is no flags line)."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in _FLAG_KEYS:
            return frozenset(value.split())
    return frozenset()
