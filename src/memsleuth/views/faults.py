"""``memsleuth faults``: fault rates, untouched address space, copy-on-write sharing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memsleuth.analysis.faults import CowChild, ProcessFaults, SystemFaults
from memsleuth.units import human_bytes
from memsleuth.views.common import fmt_bytes, fmt_int, fmt_pct, fmt_rate

SCHEMA = "memsleuth.faults/1"
COW_SCHEMA = "memsleuth.faults.cow/1"


def _short(command: str, width: int = 20) -> str:
    return command if len(command) <= width else command[: width - 1] + "…"


def render_faults(system: SystemFaults, rows: Sequence[ProcessFaults], *,
                  explain: bool) -> RenderableType:
    if system.seconds:
        head = (f"system: {fmt_rate(system.minor_per_second)} minor/s, "
                f"{fmt_rate(system.major_per_second)} major/s over {system.seconds:.2f} s")
    else:
        head = (f"system since boot: {fmt_int(system.pgfault)} faults, {fmt_int(system.pgmajfault)} "
                "major (one reading: no rates)")
    t = Table(box=None, header_style="bold", pad_edge=False)
    t.add_column("PID", justify="right", no_wrap=True, min_width=7)
    t.add_column("COMMAND", no_wrap=True, overflow="ellipsis", max_width=16)
    for title in ("MINFLT/s", "MAJFLT/s", "VIRT", "RSS", "UNTOUCHED", "%"):
        t.add_column(title, justify="right", no_wrap=True)
    for r in rows:
        t.add_row(str(r.pid), Text(_short(r.command)), fmt_rate(r.minor_per_second),
                  fmt_rate(r.major_per_second), fmt_bytes(r.virt_bytes), fmt_bytes(r.rss_bytes),
                  fmt_bytes(r.untouched_bytes), fmt_pct(r.untouched_percent))
    parts: list[RenderableType] = [Text(head, style="bold"), t]
    if explain:
        parts += [Text(""), Text(explain_faults(system, rows))]
    return Group(*parts)


def explain_faults(system: SystemFaults, rows: Sequence[ProcessFaults]) -> str:
    lines = [
        "A page fault is the CPU finding no usable page-table entry for an address.  The kernel "
        "then looks the address up: a minor fault is fixed from memory (a fresh zeroed page, a "
        "page already in the page cache, a copy-on-write copy); a major fault had to wait for "
        "disk or swap, which takes milliseconds instead of microseconds.",
    ]
    if system.seconds:
        lines.append(f"Over these {system.seconds:.2f} s the whole system took "
                     f"{fmt_rate(system.minor_per_second)} minor and {fmt_rate(system.major_per_second)} "
                     "major faults per second.  Minor faults by the thousand are normal (every new "
                     "page a program touches is one); sustained major faults mean the working set "
                     "does not fit in RAM or files are read through mmap.")
    withvirt = [r for r in rows if r.untouched_bytes is not None and r.virt_bytes]
    if withvirt:
        big = max(withvirt, key=lambda r: r.untouched_bytes or 0)
        lines.append(
            f"Demand paging: {_short(big.command, 40)} (PID {big.pid}) holds "
            f"{human_bytes(big.virt_bytes)} of address space but only {human_bytes(big.rss_bytes)} is "
            f"in RAM; {human_bytes(big.untouched_bytes)} ({fmt_pct(big.untouched_percent)}) was never "
            "touched.  malloc and mmap only reserve addresses; RAM is given page by page at the "
            "first touch, each one a minor fault.  That is why VIRT overstates memory use.")
    return "\n\n".join(lines)


def faults_json(system: SystemFaults, rows: Sequence[ProcessFaults]) -> dict[str, Any]:
    return {
        "system": {
            "seconds": system.seconds, "pgfault": system.pgfault, "pgmajfault": system.pgmajfault,
            "faults_delta": system.faults_delta, "major_delta": system.major_delta,
            "minor_per_second": system.minor_per_second, "major_per_second": system.major_per_second,
        },
        "processes": [
            {"pid": r.pid, "starttime_ticks": r.starttime_ticks, "comm": r.comm, "command": r.command,
             "minflt": r.minflt, "majflt": r.majflt, "minor_per_second": r.minor_per_second,
             "major_per_second": r.major_per_second, "virt_bytes": r.virt_bytes,
             "rss_bytes": r.rss_bytes, "swap_bytes": r.swap_bytes,
             "untouched_bytes": r.untouched_bytes, "untouched_percent": r.untouched_percent}
            for r in rows
        ],
    }


def render_cow(pid: int, command: str, area_bytes: int, children: Sequence[CowChild],
               page_size_bytes: int, notes: Sequence[str], *, explain: bool) -> RenderableType:
    head = Text(f"{pid}: {command}: {human_bytes(area_bytes)} of private writable anonymous memory, "
                f"{len(children)} child{'ren' if len(children) != 1 else ''}", style="bold")
    t = Table(box=None, header_style="bold", pad_edge=False)
    for title in ("CHILD", "SHARED", "COPIED", "PARENT-ONLY", "CHILD-ONLY", "SWAPPED", "SHARED%"):
        t.add_column(title, justify="right", no_wrap=True)
    t.add_column("COMMAND", no_wrap=True, overflow="ellipsis", max_width=16)
    for c in children:
        shared, copied = c.total("shared_pages"), c.total("copied_pages")
        both = shared + copied
        t.add_row(str(c.pid), *(_pages(c.total(f), page_size_bytes) for f in
                                ("shared_pages", "copied_pages", "parent_only_pages",
                                 "child_only_pages", "swapped_pages")),
                  fmt_pct(100.0 * shared / both if both else None), Text(_short(c.comm, 16)))
    parts: list[RenderableType] = [head, t]
    for note in notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if explain and children:
        c = children[0]
        shared, copied = c.total("shared_pages"), c.total("copied_pages")
        parts += [Text(""), Text(
            "fork() does not copy memory.  The child gets a copy of the parent's page tables with "
            "every private writable page marked read-only in both; the frames are shared.  The first "
            "write by either process takes a (minor) page fault, the kernel copies that one page, "
            "and the writer continues on its private copy: copy-on-write.\n\n"
            f"Child {c.pid} still shares {shared:,} pages ({human_bytes(shared * page_size_bytes)}) "
            f"with its parent: one frame each, mapped twice"
            + (f" (kpagecount confirms {c.shared_mapcount_confirmed:,} of them)"
               if c.shared_mapcount_confirmed is not None else "")
            + f".  {copied:,} pages ({human_bytes(copied * page_size_bytes)}) have been copied since "
            "the fork.  RSS counts shared pages in both processes; PSS halves them.")]
    return Group(*parts)


def _pages(n: int, page_size_bytes: int) -> str:
    # pages, as the kernel counts them; the explanation gives bytes
    return f"{n:,}"


def cow_json(pid: int, command: str, area_bytes: int, children: Sequence[CowChild],
             page_size_bytes: int, notes: Sequence[str], sampled: bool) -> dict[str, Any]:
    fields = ("shared_pages", "copied_pages", "parent_only_pages", "child_only_pages", "swapped_pages")
    return {
        "pid": pid,
        "command": command,
        "page_size_bytes": page_size_bytes,
        "area_bytes": area_bytes,
        "sampled": sampled,
        "children": [
            {"pid": c.pid, "comm": c.comm, **{f: c.total(f) for f in fields},
             "shared_mapcount_confirmed": c.shared_mapcount_confirmed,
             "areas": [{"start": a.start, "end": a.end, "pathname": a.pathname,
                        **{f: getattr(a, f) for f in fields}} for a in c.areas]}
            for c in children
        ],
        "notes": list(notes),
    }
