"""``/proc/pressure/{memory,io,cpu,irq}`` and cgroup v2 ``*.pressure``: PSI.

Each line is ``some|full avg10=A avg60=B avg300=C total=T`` (kernel/sched/
psi.c ``psi_show``; Documentation/accounting/psi.rst).  ``some`` is the
share of wall time in which at least one task stalled on the resource;
``full`` the share in which all non-idle tasks stalled at once.

Units: ``avg*`` are percentages of wall time (0-100, two decimals) averaged
over 10, 60 and 300 seconds; ``total`` is the cumulative stall time in
*microseconds* since boot.  We keep ``total_us`` raw (a counter: rates come
from two readings) and offer :attr:`PressureLine.total_seconds`.

Traps:

* PSI exists since Linux 4.20 (Linux kernel commit eb414681d5a0, "psi:
  pressure stall information for CPU, memory, and IO").  CentOS 6/7 have no
  ``/proc/pressure``; kernels built with ``CONFIG_PSI_DEFAULT_DISABLED``
  (RHEL 8) or booted with ``psi=0`` have none either.  Absence is the
  caller's business (``SourceMissing``), not a parse error.
* ``/proc/pressure/cpu`` printed only ``some`` until 5.13 ("psi: Add
  PSI_CPU_FULL state"); at the system level its ``full`` line is always
  zero.  ``/proc/pressure/irq`` (6.1+) prints only ``full``.  So either line
  may be absent: it is then ``None``.
* The averages are decaying averages, not exact windows, and are updated
  about every 2 seconds; ``total`` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/pressure"
_KEYS = ("avg10", "avg60", "avg300", "total")


@dataclass(frozen=True, slots=True, kw_only=True)
class PressureLine:
    """One ``some`` or ``full`` line."""

    avg10_percent: float
    avg60_percent: float
    avg300_percent: float
    #: Cumulative stall time since boot, in microseconds.
    total_us: int

    @property
    def total_seconds(self) -> float:
        return self.total_us / 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Pressure:
    """One reading of a PSI file."""

    some: PressureLine | None = None
    full: PressureLine | None = None


def _parse_line(fields: list[str], line: str, source: str) -> PressureLine:
    values: dict[str, str] = {}
    for f in fields:
        key, sep, value = f.partition("=")
        if not sep or key in values:
            raise ParseError(source, f"bad field {f!r} in {line!r}")
        values[key] = value
    missing = [k for k in _KEYS if k not in values]
    if missing:
        raise ParseError(source, f"missing {', '.join(missing)} in {line!r}")
    try:
        return PressureLine(
            avg10_percent=float(values["avg10"]),
            avg60_percent=float(values["avg60"]),
            avg300_percent=float(values["avg300"]),
            total_us=int(values["total"]),
        )
    except ValueError:
        raise ParseError(source, f"non-numeric value in {line!r}") from None


def parse_pressure(text: str, *, source: str = SOURCE) -> Pressure:
    """Parse a PSI file: ``/proc/pressure/memory`` or a cgroup's ``memory.pressure``."""
    lines: dict[str, PressureLine] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        kind = parts[0]
        if kind not in ("some", "full") or kind in lines:
            raise ParseError(source, f"unexpected line {line!r}")
        lines[kind] = _parse_line(parts[1:], line, source)
    if not lines:
        raise ParseError(source, "no 'some' or 'full' line")
    return Pressure(some=lines.get("some"), full=lines.get("full"))
