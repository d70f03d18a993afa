"""Shared tokenisers for the ``Key:   value [kB]`` family of kernel files.

meminfo, node meminfo, status, smaps, smaps_rollup and cgroup memory.stat
all print one key per line followed by an integer and sometimes ``kB``.
"""

from __future__ import annotations

from collections.abc import Iterator

from memsleuth.errors import ParseError


def iter_colon_kb(text: str, source: str) -> Iterator[tuple[str, int, bool]]:
    """Yield ``(key, value, had_kb_suffix)`` for each ``Key: N [kB]`` line.

    Lines whose value is not an integer (status's ``Name:``, ``Cpus_allowed``)
    are skipped: those are for field-specific parsers to read.
    """
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            if line.strip():
                raise ParseError(source, f"line without a colon: {line!r}")
            continue
        parts = rest.split()
        if not parts:
            continue
        try:
            value = int(parts[0])
        except ValueError:
            continue
        yield key.strip(), value, len(parts) > 1 and parts[1] == "kB"


def parse_space_kv(text: str, source: str) -> dict[str, int]:
    """Parse ``key value`` lines (vmstat, cgroup memory.stat, numastat)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ParseError(source, f"expected 'key value': {line!r}")
        try:
            out[parts[0]] = int(parts[1])
        except ValueError:
            raise ParseError(source, f"value is not an integer: {line!r}") from None
    return out
