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


def scan_fields(data: bytes, keys: tuple[str, ...]) -> dict[str, int]:
    """The first integer of each ``Key:`` line named in ``keys``, kB -> bytes.

    A fast partial parse for hot paths (one ``find`` per key instead of a
    full parse): status and smaps_rollup of thousands of processes.  Keys
    that are absent, or whose value is not an integer, are left out.
    """
    out: dict[str, int] = {}
    for key in keys:
        needle = key.encode() + b":"
        pos = 0 if data.startswith(needle) else data.find(b"\n" + needle)
        if pos < 0:
            continue
        start = pos + len(needle) + (0 if pos == 0 else 1)
        end = data.find(b"\n", start)
        parts = data[start : end if end >= 0 else len(data)].split()
        if not parts or not parts[0].isdigit():
            continue
        value = int(parts[0])
        out[key] = value * 1024 if len(parts) > 1 and parts[1] == b"kB" else value
    return out
