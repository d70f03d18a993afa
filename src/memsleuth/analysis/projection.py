"""Time to a threshold: hours until 80%, 90% and OOM at the current slope, with a range.

Against real headroom: ``used`` is MemTotal - MemAvailable (what procps-ng 4
and node-mixin see; estimated where the kernel has no MemAvailable), and
``legacy_used`` is MemTotal - MemFree (what CentOS 6 ``free`` sees), the
basis for a reclaimable cache that MemAvailable hides.
"""

from __future__ import annotations

from memsleuth.analysis.findings import Assessment, GrowthClass, Projection
from memsleuth.analysis.growth import HOUR
from memsleuth.analysis.series import History


def _last(history: History, key: str) -> tuple[float, float] | None:
    s = history.get(key)
    if s is None or not len(s):
        return None
    return s.times[-1], s.values[-1]


def used_now(history: History, basis: str) -> tuple[float, float] | None:
    """(time, bytes used) at the last sample: ``used`` = MemTotal - MemAvailable
    (estimated as MemFree + Buffers + Cached - Shmem + SReclaimable where the
    kernel has no MemAvailable); ``legacy_used`` = MemTotal - MemFree."""
    total = mem_total(history)
    free = _last(history, "meminfo.MemFree")
    if total is None or free is None:
        return None
    if basis == "legacy_used":
        return free[0], total - free[1]
    avail = _last(history, "meminfo.MemAvailable")
    if avail is not None:
        return avail[0], total - avail[1]
    est = free[1]
    for k, sign in (("Buffers", 1), ("Cached", 1), ("Shmem", -1), ("SReclaimable", 1)):
        v = _last(history, f"meminfo.{k}")
        if v is not None:
            est += sign * v[1]
    return free[0], total - min(est, total)


def mem_total(history: History) -> float | None:
    if history.mem_total_bytes:
        return float(history.mem_total_bytes)
    last = _last(history, "meminfo.MemTotal")
    return last[1] if last is not None else None


def project(*, used_bytes: float, total_bytes: float, rate: float, low: float, high: float,
            elapsed_hours: float = 0.0, basis: str = "used",
            thresholds: tuple[tuple[str, float], ...] = (("80%", 0.8), ("90%", 0.9), ("oom", 1.0)),
            ) -> tuple[Projection, ...]:
    """Hours until ``used_bytes`` growing at ``rate`` bytes/h reaches each fraction of the total.

    ``low``/``high`` are the slope interval: ``hours_low`` is at the upper
    slope (sooner), ``hours_high`` at the lower slope (``None``: never, the
    interval includes no growth).  ``elapsed_hours`` since the last sample
    are taken off.  Already past a threshold: 0.  "oom" is used = MemTotal.
    """
    out = []
    for name, frac in thresholds:
        room = frac * total_bytes - used_bytes

        def h(r: float, room: float = room) -> float | None:
            if room <= 0:
                return 0.0
            if r <= 0:
                return None
            return max(0.0, room / r - elapsed_hours)

        out.append(Projection(threshold=name, hours=h(rate), hours_low=h(high), hours_high=h(low),
                              basis=basis))
    return tuple(out)


def projections_for(history: History, a: Assessment, *, unit: str, total: float | None,
                    now: float | None) -> tuple[Projection, ...]:
    """The projections of one growing byte series: against ``used`` for a leak (80%, 90%, OOM),
    against ``legacy_used`` for a reclaimable cache (80%, 90%; it does not run the host out of
    memory, the risk is reclaim stalls).  None for counts, bounded growth or an unknown total."""
    if unit != "bytes" or total is None or a.growth_class is GrowthClass.BOUNDED:
        return ()
    basis = "legacy_used" if a.growth_class is GrowthClass.UNBOUNDED_CACHE else "used"
    cur = used_now(history, basis)
    if cur is None:
        return ()
    elapsed = max(0.0, ((now if now is not None else cur[0]) - cur[0]) / HOUR)
    thresholds: tuple[tuple[str, float], ...] = (("80%", 0.8), ("90%", 0.9), ("oom", 1.0))
    if basis == "legacy_used":
        thresholds = (("80%", 0.8), ("90%", 0.9))
    out = project(used_bytes=cur[1], total_bytes=total, rate=a.slope_per_hour, low=a.slope_low_per_hour,
                  high=a.slope_high_per_hour, elapsed_hours=elapsed, basis=basis, thresholds=thresholds)
    if basis == "legacy_used":
        out += (Projection(threshold="oom", hours=None, basis="used"),)
    return out


__all__ = ["mem_total", "project", "projections_for", "used_now"]
