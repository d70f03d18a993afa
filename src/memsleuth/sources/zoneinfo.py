"""``/proc/zoneinfo``: per (node, zone) free pages, watermarks and counters.

Units: everything is in pages.  ``protection`` is the zone's lowmem_reserve
array: pages that allocations aimed at higher zones must leave free here.

Formats:

* 2.6.32 (CentOS 6): ``pages free N``, then ``min``, ``low``, ``high``,
  ``scanned``, ``spanned``, ``present`` (no ``managed``), then the
  ``nr_*`` counters, then ``protection: (a, b, c)``.
* 4.8+: a ``per-node stats`` block under the first zone of each node;
  ``managed`` (3.x+); 5.x+ ``boost``, 6.x ``promo``; ``protection`` moved up
  among the watermarks.  We read every ``key value`` line of a zone into
  :attr:`Zone.counters` and type the ones that matter.

The kernel's MemAvailable estimate (``si_mem_available``) uses the sum of
the zones' *low* watermarks and ``totalreserve_pages``
(``calculate_totalreserve_pages`` in ``mm/page_alloc.c``): for each zone,
the largest lowmem_reserve entry plus the *high* watermark, capped at the
zone's managed pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/zoneinfo"


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    node: int
    name: str
    free_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    spanned_pages: int | None
    present_pages: int | None
    #: ``None`` on kernels before ``managed`` existed (2.6.32)
    managed_pages: int | None
    protection_pages: tuple[int, ...]
    counters: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneInfo:
    zones: tuple[Zone, ...]
    #: node -> the ``per-node stats`` counters (4.8+); empty before
    node_stats: Mapping[int, Mapping[str, int]] = field(default_factory=dict)


def _zone(node: int, name: str, values: dict[str, int], protection: tuple[int, ...]) -> Zone:
    try:
        return Zone(
            node=node,
            name=name,
            free_pages=values["pages free"],
            min_pages=values["min"],
            low_pages=values["low"],
            high_pages=values["high"],
            spanned_pages=values.get("spanned"),
            present_pages=values.get("present"),
            managed_pages=values.get("managed"),
            protection_pages=protection,
            counters=MappingProxyType(dict(values)),
        )
    except KeyError as exc:
        raise ParseError(SOURCE, f"node {node} zone {name}: no {exc.args[0]!r} line") from None


def parse_zoneinfo(text: str) -> ZoneInfo:
    zones: list[Zone] = []
    node_stats: dict[int, dict[str, int]] = {}
    current: tuple[int, str] | None = None
    values: dict[str, int] = {}
    protection: tuple[int, ...] = ()
    in_node_stats = False

    def flush() -> None:
        if current is not None:
            zones.append(_zone(current[0], current[1], values, protection))

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if line.startswith("Node "):
            flush()
            head, _, zone = line.partition(", zone")
            try:
                node = int(head.split()[1].rstrip(","))
            except (IndexError, ValueError):
                raise ParseError(SOURCE, f"bad zone header {line!r}") from None
            current = (node, zone.strip())
            values, protection, in_node_stats = {}, (), False
            continue
        if current is None:
            raise ParseError(SOURCE, f"data before the first zone header: {line!r}")
        if stripped == "per-node stats":
            in_node_stats = True
            continue
        if stripped.startswith("protection:"):
            inner = stripped.partition(":")[2].strip().strip("()")
            try:
                protection = tuple(int(v) for v in inner.replace(",", " ").split())
            except ValueError:
                raise ParseError(SOURCE, f"bad protection line {line!r}") from None
            continue
        if stripped.startswith("pages free"):
            in_node_stats = False
            values["pages free"] = _int(stripped.split()[-1], line)
            continue
        if stripped in ("pagesets",) or stripped.startswith(("cpu:", "count:", "high:", "batch:",
                                                             "vm stats threshold", "node_unreclaimable",
                                                             "start_pfn", "all_unreclaimable",
                                                             "prev_priority", "inactive_ratio")):
            in_node_stats = False if stripped == "pagesets" else in_node_stats
            continue
        parts = stripped.split()
        if len(parts) != 2:
            continue
        value = _int(parts[1], line)
        if in_node_stats:
            node_stats.setdefault(current[0], {})[parts[0]] = value
        elif parts[0] not in values:
            values[parts[0]] = value
    flush()
    if not zones:
        raise ParseError(SOURCE, "no zones")
    return ZoneInfo(zones=tuple(zones),
                    node_stats=MappingProxyType({n: MappingProxyType(v)
                                                 for n, v in node_stats.items()}))


def _int(value: str, line: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ParseError(SOURCE, f"non-numeric value in {line!r}") from None


def total_low_watermark_pages(info: ZoneInfo) -> int:
    """Sum of every zone's low watermark (``wmark_low`` in si_mem_available)."""
    return sum(z.low_pages for z in info.zones)


def totalreserve_pages(info: ZoneInfo) -> int:
    """``calculate_totalreserve_pages()``: per zone max(lowmem_reserve) + high,
    capped at managed pages (present pages on kernels without ``managed``)."""
    total = 0
    for z in info.zones:
        reserve = max(z.protection_pages, default=0) + z.high_pages
        cap = z.managed_pages if z.managed_pages is not None else z.present_pages
        if cap is not None:
            reserve = min(reserve, cap)
        total += reserve
    return total
