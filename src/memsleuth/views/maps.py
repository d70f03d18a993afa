"""``memsleuth maps PID``: the address space by class (text, data, bss, heap ...)."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.layout import CLASSES, Layout, Totals
from memsleuth.units import human_bytes
from memsleuth.views.common import BLANK, Column, fmt_bytes, row_of, rows_json, table

SCHEMA = "memsleuth.maps/1"

#: The short form of each class's meaning, to keep the table within 80 columns
#: (the long form from :data:`CLASSES` is in the JSON schema doc and --explain).
_SHORT = {
    "text": "code", "rodata": "constants", "data": "initialised globals",
    "bss": "zeroed globals", "heap": "small malloc", "stack": "main thread locals",
    "thread_stack": "other threads' locals", "anon_mmap": "big malloc, arenas",
    "file_mmap": "mapped files, shm", "shared_lib": "library code + data",
    "guard": "PROT_NONE, no RAM", "vdso": "kernel fast calls", "other": "",
}
_NAME_WIDTH = 22
assert set(_SHORT) == {key for key, _, _ in CLASSES}


#: one class, one library or the total; the JSON objects have the same keys but HOLDS
COLUMNS: tuple[Column, ...] = (
    Column("key", "KEY", show=False, meaning="class key, or the library's file name"),
    Column("label", "CLASS", justify="left", cut=_NAME_WIDTH,
           meaning="class (libraries indented under 'shared libs')"),
    Column("virt_bytes", "VIRT", fmt_bytes, meaning="address space"),
    Column("rss_bytes", "RSS", fmt_bytes, meaning="resident"),
    Column("pss_bytes", "PSS", fmt_bytes, meaning="resident, shared pages divided among sharers"),
    Column("swap_bytes", "SWAP", fmt_bytes, meaning="swapped out"),
    Column("mappings", "MAPS", meaning="number of mappings"),
    Column("holds", "HOLDS", justify="left", json=False, meaning="what the class holds, in short"),
)


def _totals_row(t: Totals) -> dict[str, Any]:
    return row_of(COLUMNS, t)


def render_layout(pid: int, command: str, layout: Layout, *, libraries: int,
                  explain: bool) -> RenderableType:
    rows: list[dict[str, Any]] = []
    for totals in layout.classes:
        if totals.mappings == 0 and totals.key not in ("text", "data", "bss", "heap", "stack"):
            continue
        rows.append({**_totals_row(totals), "holds": _SHORT[totals.key]})
        if totals.key == "shared_lib":
            for lib in layout.libraries[:libraries]:
                rows.append({**_totals_row(lib), "label": Text("  " + lib.label, style="dim"),
                             "holds": BLANK})
            rest = len(layout.libraries) - libraries
            if rest > 0:
                rows.append({"label": Text(f"  ... {rest} more", style="dim"),
                             **{c.key: BLANK for c in COLUMNS[2:]}})
    rows.append({**_totals_row(layout.total), "label": Text("total", style="bold"), "holds": BLANK})
    t = table(COLUMNS, rows, title=Text(f"{pid}: {command}"), title_justify="left", overflow="ellipsis",
              pipe="full")
    parts: list[RenderableType] = [t]
    exe = layout.exe_path or "-"
    how = {"exe": "/proc/PID/exe", "first_file": "first file mapping"}.get(layout.exe_source or "", "")
    parts.append(Text(f"executable: {exe}" + (f" (from {how})" if how else ""), style="dim"))
    for note in layout.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if explain:
        parts += [Text(""), Text(explain_text(layout))]
    return Group(*parts)


def _vr(t: Totals) -> str:
    return f"{human_bytes(t.virt_bytes)} of address space, {human_bytes(t.rss_bytes)} in RAM"


def explain_text(layout: Layout) -> str:
    """Each class related to the program's variables, with this process's numbers."""
    c = layout.of
    lines = [
        "How your program's variables map to these numbers:",
        "",
        f"* Code (your functions) is text: {_vr(c('text'))}.  It is read from the "
        "executable file on first use and shared by every process running it.",
        f"* Constants and string literals (const char *msg = \"...\") are rodata: {_vr(c('rodata'))}.",
        f"* Initialised globals and statics (int limit = 10; char table[N] = {{1}};) are data: "
        f"{_vr(c('data'))}.  Their starting values come from the file; a page becomes a private "
        "copy once written.",
        f"* Zero-initialised globals (static char buffer[N];) are bss: {_vr(c('bss'))}.  They take "
        "no room in the file; a bss page uses RAM only once written (reads see the shared zero page).",
        f"* malloc()/new of small blocks comes from the heap: {_vr(c('heap'))}.  glibc serves "
        "blocks below the mmap threshold (128 KiB by default, M_MMAP_THRESHOLD; it rises "
        "after large blocks are freed) from this brk area, and keeps freed blocks for reuse, so "
        "the heap rarely shrinks.",
        f"* Larger malloc() blocks each get their own anonymous mapping: anon mmap is "
        f"{_vr(c('anon_mmap'))} in {c('anon_mmap').mappings} mappings; free() returns them to "
        "the kernel at once.  Other threads' malloc arenas are here too.",
        f"* Local variables of main() and its callees are on the stack: {_vr(c('stack'))}.  It "
        "grows on demand, up to 'ulimit -s', and pages it touched stay resident.",
    ]
    ts = c("thread_stack")
    if ts.mappings:
        lines.append(f"* Each other thread has its own stack: {ts.mappings} thread stacks, {_vr(ts)}; "
                     "each reserves 'ulimit -s' (8 MiB by default) but uses RAM only for what its "
                     "deepest call chain touched.")
    lib = c("shared_lib")
    lines.append(f"* {len(layout.libraries)} shared libraries: {_vr(lib)}, PSS "
                 f"{human_bytes(lib.pss_bytes)}.  Library code is shared with other processes, so "
                 "PSS (each shared page divided by its number of users) is this process's fair share.")
    fm = c("file_mmap")
    if fm.mappings:
        lines.append(f"* Files mapped with mmap(): {_vr(fm)}; clean pages can be dropped and "
                     "re-read, so this RAM is reclaimable.")
    total = layout.total
    untouched = total.virt_bytes - total.rss_bytes - (total.swap_bytes or 0)
    lines += [
        "",
        f"In all, {human_bytes(total.virt_bytes)} of address space (VIRT) but "
        f"{human_bytes(total.rss_bytes)} in RAM (RSS): {human_bytes(untouched)} was never touched "
        "or was dropped.  Linux gives address space at once and RAM only when a page is first "
        "touched (demand paging); 'memsleuth faults' shows that happening.",
    ]
    return "\n".join(lines)


def totals_json(t: Totals) -> dict[str, Any]:
    return rows_json(COLUMNS, [_totals_row(t)])[0]


def layout_json(pid: int, command: str, layout: Layout) -> dict[str, Any]:
    return {
        "pid": pid,
        "command": command,
        "exe_path": layout.exe_path,
        "exe_source": layout.exe_source,
        "classes": [totals_json(t) for t in layout.classes],
        "libraries": [totals_json(t) for t in layout.libraries],
        "total": totals_json(layout.total),
        "mappings": [
            {"start": c.mapping.start, "end": c.mapping.end, "perms": c.mapping.perms,
             "pathname": c.mapping.pathname, "class": c.klass, "library": c.library,
             "size_bytes": c.mapping.size_bytes, "rss_bytes": c.mapping.rss_bytes,
             "pss_bytes": c.mapping.pss_bytes, "swap_bytes": c.mapping.swap_bytes}
            for c in layout.mappings
        ],
        "notes": list(layout.notes),
    }
