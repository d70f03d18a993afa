"""Unit conversions and the one human formatter shared by views and report.

Kernel files speak kB (KiB), pages and clock ticks; records speak bytes and
seconds.  Conversions happen once, at the parser boundary or here.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB

_BINARY_UNITS = ("B", "Ki", "Mi", "Gi", "Ti", "Pi")


def human_bytes(value: int | float | None, *, missing: str = "-", precision: int = 1) -> str:
    """``1536 -> '1.5Ki'`` in the style of ``free -h`` (binary units).

    ``None`` (unknown) renders as ``missing``, never as 0.
    """
    if value is None:
        return missing
    sign = "-" if value < 0 else ""
    v = float(abs(value))
    for unit in _BINARY_UNITS:
        if v < 1024 or unit == _BINARY_UNITS[-1]:
            if unit == "B":
                return f"{sign}{int(v)}B"
            return f"{sign}{v:.{precision}f}{unit}"
        v /= 1024
    raise AssertionError("unreachable")


def percent(part: int | float | None, whole: int | float | None) -> float | None:
    """``part / whole * 100``, or ``None`` when either is unknown or whole is 0."""
    if part is None or whole is None or whole == 0:
        return None
    return 100.0 * part / whole


def human_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``2.1 d`` (the sign is dropped: callers say ago or in)."""
    s = abs(seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"
