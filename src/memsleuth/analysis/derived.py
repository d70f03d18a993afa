"""Series derived from others, computed in one place: the unaccounted gap, legacy "used", and
KReclaimable less SReclaimable.

:func:`unaccounted` is the one definition of the gap (detection.md B.2); the
accounting tree of one snapshot (:mod:`.accounting`) and the gap series over
time (:func:`gap_series`) both call it.  :func:`with_derived` adds every
derived series to a History once, so detection and the rule matcher read the
same numbers.  numpy is imported only by the series functions: the one-snapshot
views (``free``, ``meminfo``) load none of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from memsleuth.analysis.series import History, Series

if TYPE_CHECKING:
    from memsleuth.analysis.trend import FloatArray

GAP_KEY = "derived.unaccounted_bytes"
LEGACY_USED_KEY = "derived.legacy_used_bytes"
KERNEL_MISC_KEY = "derived.kernel_misc_reclaimable_bytes"

#: subtracted from MemTotal - MemFree to get the unaccounted gap (detection.md B.2)
GAP_TERMS = ("Buffers", "Cached", "SwapCached", "AnonPages", "Slab", "KernelStack", "PageTables",
             "SecPageTables", "Percpu", "Hugetlb", "Balloon", "Zswap", "VmallocUsed")
#: what a gap series needs (without them the "gap" would be most of memory)
GAP_REQUIRED = ("MemTotal", "MemFree", "Cached", "AnonPages", "Slab")

V = TypeVar("V", float, int, "FloatArray")


def unaccounted(get: Callable[[str], V | None], *, required: Sequence[str] = GAP_REQUIRED) -> V | None:
    """``MemTotal - MemFree - Buffers - Cached - SwapCached - AnonPages - Slab - (KReclaimable -
    SReclaimable) - KernelStack - PageTables - SecPageTables - Percpu - Hugetlb - Balloon - Zswap -
    VmallocUsed``, from ``get(meminfo field)`` (a number, or an array over time).

    Terms absent on this kernel are not subtracted; ``None`` if a ``required`` field is absent.
    ``VmallocUsed`` is taken as ``get`` gives it: on ``CONFIG_VMAP_STACK`` kernels it includes the
    kernel stacks unless the caller took them off (the accounting tree does, from vmallocinfo).
    """
    if any(get(k) is None for k in required):
        return None
    total, free = get("MemTotal"), get("MemFree")
    if total is None:
        return None
    gap = total - free if free is not None else total
    for k in GAP_TERMS:
        v = get(k)
        if v is not None:
            gap = gap - v
    kr, sr = get("KReclaimable"), get("SReclaimable")
    if kr is not None:
        gap = gap - (kr - sr if sr is not None else kr)
    return gap


def gap_series(history: History) -> Series | None:
    """The unaccounted gap over time, from the meminfo series (detection.md B.2).

    ``gap = MemTotal - MemFree - Buffers - Cached - SwapCached - AnonPages -
    Slab - (KReclaimable - SReclaimable) - KernelStack - PageTables -
    SecPageTables - Percpu - Hugetlb - Balloon - Zswap - VmallocUsed``.
    Terms absent on this kernel count as absent (not subtracted); MemTotal,
    MemFree, Cached, AnonPages and Slab are required.  Only times present in
    every used series are kept.  ``VmallocUsed`` is taken whole: the
    series set has no /proc/vmallocinfo, so on ``CONFIG_VMAP_STACK`` kernels
    kernel stacks are subtracted twice -- a constant offset per thread, and a
    thread leak makes the gap *fall*, so it never fakes a gap leak.
    """
    import numpy as np

    if any(history.get(f"meminfo.{k}") is None for k in GAP_REQUIRED):
        return None
    used = [k for k in ("MemTotal", "MemFree", *GAP_TERMS, "KReclaimable", "SReclaimable")
            if history.get(f"meminfo.{k}") is not None]
    first = history.series[f"meminfo.{used[0]}"].times
    shared = all(history.series[f"meminfo.{k}"].times == first for k in used[1:])
    if shared:
        # one snapshot stream: every field has the same times (a tuple compare, not a set per field)
        if not first:
            return None
        times = np.asarray(first, dtype=np.float64)
    else:
        common: set[float] | None = None
        for k in used:
            s = history.series[f"meminfo.{k}"]
            common = set(s.times) if common is None else common & set(s.times)
        if not common:
            return None
        times = np.array(sorted(common))

    def at(k: str) -> FloatArray:
        s = history.series[f"meminfo.{k}"]
        v = np.fromiter(s.values, dtype=np.float64, count=len(s.values))
        if shared:
            return v
        return v[np.searchsorted(np.asarray(s.times, dtype=np.float64), times)]

    arrays = {k: at(k) for k in used}
    gap = unaccounted(arrays.get)
    assert gap is not None  # the required fields are there
    return Series(key=GAP_KEY, times=tuple(times.tolist()), values=tuple(gap.tolist()))


def _aligned(history: History, names: Sequence[str]) -> tuple[FloatArray, dict[str, FloatArray]] | None:
    """The times every present ``meminfo.<name>`` shares, and each one's values at those times."""
    import numpy as np

    present = [n for n in names if history.get(f"meminfo.{n}") is not None]
    if not present:
        return None
    first = history.series[f"meminfo.{present[0]}"].times
    if all(history.series[f"meminfo.{n}"].times == first for n in present[1:]):
        times = np.asarray(first, dtype=np.float64)
        return times, {n: np.asarray(history.series[f"meminfo.{n}"].values, dtype=np.float64)
                       for n in present}
    common = set(first)
    for n in present[1:]:
        common &= set(history.series[f"meminfo.{n}"].times)
    times = np.array(sorted(common), dtype=np.float64)
    out = {}
    for n in present:
        s = history.series[f"meminfo.{n}"]
        out[n] = np.asarray(s.values, dtype=np.float64)[np.searchsorted(np.asarray(s.times), times)]
    return times, out


def _series(key: str, times: FloatArray, values: FloatArray) -> Series:
    return Series(key=key, times=tuple(times.tolist()), values=tuple(values.tolist()))


def derived_series(history: History) -> dict[str, Series]:
    """``derived.*``: legacy used (MemTotal - MemFree, what CentOS 6 ``free`` calls used), the
    unaccounted gap, and KReclaimable - SReclaimable (driver pools the kernel may reclaim)."""
    out: dict[str, Series] = {}
    got = _aligned(history, ("MemTotal", "MemFree"))
    if got is not None and len(got[1]) == 2 and got[0].size:
        times, v = got
        out[LEGACY_USED_KEY] = _series(LEGACY_USED_KEY, times, v["MemTotal"] - v["MemFree"])
    got = _aligned(history, ("MemTotal", "KReclaimable", "SReclaimable"))
    if got is not None and len(got[1]) == 3 and got[0].size:
        times, v = got
        out[KERNEL_MISC_KEY] = _series(KERNEL_MISC_KEY, times, v["KReclaimable"] - v["SReclaimable"])
    gap = gap_series(history)
    if gap is not None:
        out[GAP_KEY] = gap
    return out


def with_derived(history: History) -> History:
    """``history`` with every :func:`derived_series` added (once; a second call adds nothing)."""
    if GAP_KEY in history.series or LEGACY_USED_KEY in history.series:
        return history
    extra = derived_series(history)
    return dataclasses.replace(history, series={**history.series, **extra}) if extra else history


def derived(history: History, key: str) -> Series | None:
    """A derived series: from ``history`` when :func:`with_derived` added it, else computed."""
    got = history.get(key)
    if got is not None:
        return got
    return derived_series(history).get(key) if key != GAP_KEY else gap_series(history)


__all__ = ["GAP_KEY", "GAP_REQUIRED", "GAP_TERMS", "KERNEL_MISC_KEY", "LEGACY_USED_KEY", "derived",
           "derived_series", "gap_series", "unaccounted", "with_derived"]
