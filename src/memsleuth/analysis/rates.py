"""Rates from raw counters: (current, previous, elapsed) -> per second.

Counters are stored raw; a rate exists only between two readings.  A
counter that went backwards (reboot, wrap, a reused identity) gives
``None``, never a negative or a zero rate.
"""

from __future__ import annotations


def rate(current: int | None, previous: int | None, seconds: float) -> float | None:
    if current is None or previous is None or seconds <= 0 or current < previous:
        return None
    return (current - previous) / seconds


def delta(current: int | None, previous: int | None) -> int | None:
    if current is None or previous is None:
        return None
    return current - previous
