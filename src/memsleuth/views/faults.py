"""``memsleuth faults``: fault rates, untouched address space, copy-on-write sharing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.faults import CowChild, ProcessFaults, SystemFaults
from memsleuth.units import human_bytes
from memsleuth.views.common import Column, fmt_bytes, fmt_int, fmt_pct, fmt_rate, row_of, rows_json, table

SCHEMA = "memsleuth.faults/1"
COW_SCHEMA = "memsleuth.faults.cow/1"


def _program(command: str) -> str:
    """The program a command line runs (its first word's base name): prose names it, never a cut line."""
    first = command.split()[0] if command.strip() else command
    return first.rsplit("/", 1)[-1] or command


#: the process table and the JSON ``processes`` objects (hidden columns are JSON only)
PROCESS_COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID", no_wrap=True, min_width=7, meaning="process id"),
    Column("starttime_ticks", "START", show=False, meaning="start time, clock ticks after boot"),
    Column("comm", "COMM", show=False, meaning="kernel task name"),
    Column("command", "COMMAND", justify="left", no_wrap=True, max_width=16, cut=20,
           meaning="command line"),
    Column("minflt", "MINFLT", show=False, meaning="minor faults since start"),
    Column("majflt", "MAJFLT", show=False, meaning="major faults since start"),
    Column("minor_per_second", "MINFLT/s", fmt_rate, no_wrap=True, meaning="minor faults per second"),
    Column("major_per_second", "MAJFLT/s", fmt_rate, no_wrap=True, meaning="major faults per second"),
    Column("virt_bytes", "VIRT", fmt_bytes, no_wrap=True, meaning="address space"),
    Column("rss_bytes", "RSS", fmt_bytes, no_wrap=True, meaning="resident"),
    Column("swap_bytes", "SWAP", show=False, meaning="swapped out"),
    Column("untouched_bytes", "UNTOUCHED", fmt_bytes, no_wrap=True,
           meaning="VIRT - RSS - swap: address space never touched (demand paging)"),
    Column("untouched_percent", "%", fmt_pct, no_wrap=True, meaning="UNTOUCHED / VIRT"),
)
_COW_FIELDS = ("shared_pages", "copied_pages", "parent_only_pages", "child_only_pages", "swapped_pages")
#: the copy-on-write table: pages, as the kernel counts them (the explanation gives bytes)
COW_COLUMNS: tuple[Column, ...] = (
    Column("pid", "CHILD", no_wrap=True),
    *(Column(f, title, fmt_int, no_wrap=True) for f, title in zip(
        _COW_FIELDS, ("SHARED", "COPIED", "PARENT-ONLY", "CHILD-ONLY", "SWAPPED"), strict=True)),
    Column("shared_percent", "SHARED%", fmt_pct, no_wrap=True, json=False),
    Column("comm", "COMMAND", justify="left", no_wrap=True, max_width=16, cut=16),
)


def render_faults(system: SystemFaults, rows: Sequence[ProcessFaults], *,
                  explain: bool) -> RenderableType:
    if system.seconds:
        head = (f"system: {fmt_rate(system.minor_per_second)} minor/s, "
                f"{fmt_rate(system.major_per_second)} major/s over {system.seconds:.2f} s")
    else:
        head = (f"system since boot: {fmt_int(system.pgfault)} faults, {fmt_int(system.pgmajfault)} "
                "major (one reading: no rates)")
    t = table(PROCESS_COLUMNS, [row_of(PROCESS_COLUMNS, r) for r in rows], overflow="ellipsis", pipe="full")
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
            f"Demand paging: {_program(big.command)} (PID {big.pid}) holds "
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
        "processes": rows_json(PROCESS_COLUMNS, [row_of(PROCESS_COLUMNS, r) for r in rows]),
    }


def render_cow(pid: int, command: str, area_bytes: int, children: Sequence[CowChild],
               page_size_bytes: int, notes: Sequence[str], *, explain: bool) -> RenderableType:
    head = Text(f"{pid}: {command}: {human_bytes(area_bytes)} of private writable anonymous memory, "
                f"{len(children)} child{'ren' if len(children) != 1 else ''}", style="bold")
    cow_rows = []
    for c in children:
        shared, copied = c.total("shared_pages"), c.total("copied_pages")
        both = shared + copied
        cow_rows.append({"pid": c.pid, **{f: c.total(f) for f in _COW_FIELDS},
                         "shared_percent": 100.0 * shared / both if both else None, "comm": c.comm})
    t = table(COW_COLUMNS, cow_rows, overflow="ellipsis", pipe="full")
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


def cow_json(pid: int, command: str, area_bytes: int, children: Sequence[CowChild],
             page_size_bytes: int, notes: Sequence[str], sampled: bool) -> dict[str, Any]:
    fields = _COW_FIELDS
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
