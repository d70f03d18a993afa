"""Three views of "how full is this host", and why they disagree.

1. **legacy used** - ``MemTotal - MemFree`` (CentOS 6 ``free``, many old
   alerting rules);
2. **available-based used** - ``MemTotal - MemAvailable`` (procps-ng 4
   ``free``, the stock Prometheus alerts);
3. **buckets** - what the pages actually hold (:mod:`.accounting`).
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.analysis.system import SystemMemory
from memsleuth.units import human_bytes, percent


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """One contributor to the difference between the legacy and modern views."""

    key: str
    label: str
    size_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageViews:
    total_bytes: int
    legacy_used_bytes: int
    legacy_used_percent: float
    available_bytes: int
    available_estimated: bool
    available_method: str
    available_used_bytes: int
    available_used_percent: float
    reclaimable_slab_bytes: int | None
    #: group ("user", "cache", "kernel", "free", "reserved", "unaccounted") -> bytes
    groups: dict[str, int]
    #: biggest reasons the two "used" numbers differ, largest first
    reasons: tuple[Reason, ...]

    @property
    def disagreement_percent(self) -> float:
        return self.legacy_used_percent - self.available_used_percent

    def explanation(self) -> str:
        """One paragraph an SRE can paste into a ticket."""
        parts = ", ".join(f"{r.label} {human_bytes(r.size_bytes)}" for r in self.reasons[:3])
        est = " (estimated: this kernel does not report MemAvailable)" if (
            self.available_estimated) else ""
        text = (
            f"Legacy 'used' (total - free) is {self.legacy_used_percent:.0f}%, while "
            f"total - MemAvailable{est} is {self.available_used_percent:.0f}%. "
        )
        if parts:
            text += (
                f"The {self.disagreement_percent:.0f} points between them are memory the "
                f"kernel can reclaim: {parts}. "
            )
        if self.reclaimable_slab_bytes and self.reclaimable_slab_bytes > 0.2 * self.total_bytes:
            text += (
                f"Reclaimable slab alone is {human_bytes(self.reclaimable_slab_bytes)} "
                f"({percent(self.reclaimable_slab_bytes, self.total_bytes) or 0:.0f}% of RAM): "
                "CentOS 6 free calls it used, MemAvailable calls it free. Neither says what "
                "is growing; see 'memsleuth slab' for the cache behind it. "
            )
        return text.strip()


def usage_views(mem: SystemMemory) -> UsageViews:
    m = mem.meminfo
    total = m.mem_total_bytes
    legacy_used = total - m.mem_free_bytes
    avail = mem.available.available_bytes
    groups = mem.accounting.by_group()
    groups["unaccounted"] = mem.accounting.unaccounted_bytes
    reasons = sorted(
        (
            Reason(key=b.key, label=b.label, size_bytes=b.size_bytes or 0)
            for b in mem.accounting.buckets
            if b.reclaimable and b.key != "free" and (b.size_bytes or 0) > 0
        ),
        key=lambda r: -r.size_bytes,
    )
    return UsageViews(
        total_bytes=total,
        legacy_used_bytes=legacy_used,
        legacy_used_percent=100.0 * legacy_used / total,
        available_bytes=avail,
        available_estimated=mem.available.estimated,
        available_method=mem.available.method,
        available_used_bytes=total - avail,
        available_used_percent=100.0 * (total - avail) / total,
        reclaimable_slab_bytes=m.s_reclaimable_bytes,
        groups=groups,
        reasons=tuple(reasons),
    )
