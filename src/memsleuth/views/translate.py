"""``memsleuth translate PID ADDR``: the walk from a virtual address to a page frame."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.translate import Translation
from memsleuth.sources.kpageflags import FLAGS
from memsleuth.sources.maps import VmArea
from memsleuth.units import human_bytes
from memsleuth.views.common import Column, table

SCHEMA = "memsleuth.translate/1"

_MEANING = {name: meaning for name, meaning in FLAGS.values()}
#: the walk, one step a row: what was looked up and what it gave
STEP_COLUMNS: tuple[Column, ...] = (
    Column("name", "", justify="left", style="bold"),
    Column("value", "", justify="left"),
)


def _vma(v: VmArea | None) -> str:
    if v is None:
        return "none: the address is not mapped"
    name = v.pathname or "[anonymous]"
    return f"{v.start:x}-{v.end:x} {v.perms} {name} ({human_bytes(v.size_bytes)})"


def _bits(t: Translation) -> str:
    return " ".join(f"{i.level} {i.index}" for i in t.split.indices) + f" offset 0x{t.split.page_offset:x}"


def render_translation(t: Translation, *, explain: bool) -> RenderableType:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: str) -> None:
        rows.append({"name": name, "value": value})

    add("paging", f"{t.split.levels}-level ({t.levels_reason})")
    add("indices", _bits(t))
    add("vma", _vma(t.vma))
    e = t.entry
    state = {"unmapped": "not mapped (an access is a segmentation fault)",
             "present": "present in RAM",
             "swapped": "swapped out",
             "not_present": "not present (never touched, or dropped): the next access faults",
             "unknown": "unknown (pagemap unreadable)"}[t.state]
    add("page", state)
    if e is not None:
        bits = [name for name, on in (("file/shared-anon", e.file_or_shared_anon),
                                      ("exclusive", e.exclusive), ("soft-dirty", e.soft_dirty),
                                      ("uffd-wp", e.uffd_wp), ("guard", e.guard_region)) if on]
        add("pagemap", f"0x{e.raw:016x}" + (f" ({', '.join(bits)})" if bits else ""))
        if e.present:
            add("pfn", "hidden (needs root)" if e.pfn is None else f"0x{e.pfn:x} ({e.pfn})")
        if e.swapped and e.swap_type is not None:
            add("swap", f"type {e.swap_type}, offset 0x{e.swap_offset or 0:x}")
    if t.physical_address is not None:
        add("physical", f"0x{t.physical_address:x}")
    if t.flags is not None:
        add("flags", " ".join(t.flags.names) or "(none)")
    if t.mapcount is not None:
        entries = "entry maps" if t.mapcount == 1 else "entries map"
        add("mapcount", f"{t.mapcount} page-table {entries} this frame")
    if t.entry is not None and t.entry.pfn is not None:
        add("numa node", "-" if t.numa_node is None else str(t.numa_node))
    g = table(STEP_COLUMNS, rows, title=Text(f"{t.pid}: 0x{t.address:x}"), title_justify="left",
              show_header=False, overflow="ellipsis", pipe="full")
    parts: list[RenderableType] = [g]
    for note in t.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if explain:
        parts += [Text(""), Text(explain_text(t))]
    return Group(*parts)


def explain_text(t: Translation) -> str:
    """The walk, step by step, with this address's numbers."""
    lines = [f"How the CPU turns 0x{t.address:x} into a RAM address ({t.split.levels}-level paging, "
             f"{t.page_size_bytes // 1024} KiB pages):", ""]
    if t.vma is None:
        lines.append("No mapping contains this address: the process never asked for it. An access "
                     "makes the MMU fault, the kernel finds no VMA and sends SIGSEGV.")
        return "\n".join(lines)
    lines.append(f"The address is inside the mapping {_vma(t.vma)}, so the kernel knows what belongs "
                 "there.")
    step = 1
    lines.append(f"{step}. CR3 holds the physical address of this process's top table (the PGD); "
                 "each table has 512 entries of 8 bytes, and 9 bits of the address pick one.")
    for i, idx in enumerate(t.split.indices):
        step += 1
        nxt = t.split.indices[i + 1].level if i + 1 < len(t.split.indices) else None
        target = f"the {nxt} table" if nxt else "the page frame"
        lines.append(f"{step}. Bits {idx.high_bit}-{idx.low_bit} = {idx.index}: entry {idx.index} of "
                     f"the {idx.level} table, which points to {target}.")
    step += 1
    e = t.entry
    if t.state == "present" and e is not None:
        if e.pfn is None:
            lines.append(f"{step}. The last entry is present and holds a frame number, which the "
                         "kernel hides from non-root readers.")
        else:
            lines.append(f"{step}. The PTE holds frame number (PFN) 0x{e.pfn:x}; the MMU adds the low "
                         f"{t.split.indices[-1].low_bit} bits, offset 0x{t.split.page_offset:x}: "
                         f"physical address 0x{e.pfn:x} * {t.page_size_bytes} + 0x{t.split.page_offset:x}"
                         f" = 0x{t.physical_address or 0:x}.")
        lines.append("The TLB caches the result, so this walk happens only on a TLB miss.")
        if t.flags is not None:
            lines.append("")
            lines.append("What the kernel knows about the frame (kpageflags):")
            lines += [f"  {name}: {_MEANING.get(name, '')}" for name in t.flags.names]
        if t.mapcount is not None:
            lines.append(f"  mapcount {t.mapcount}: " + (
                "only this process maps it" if t.mapcount == 1 else
                "several page tables point at it (shared library page, shared memory, or a "
                "copy-on-write page shared with a fork)"))
    elif t.state == "swapped" and e is not None:
        lines.append(f"{step}. The PTE is not present but holds a swap entry (type {e.swap_type}, offset "
                     f"{e.swap_offset}). An access raises a page fault; the kernel reads the page back "
                     "from that swap slot into a free frame, fixes the PTE and restarts the "
                     "instruction: a major fault, milliseconds on disk.")
    elif t.state == "not_present":
        anon = t.vma.pathname is None or t.vma.pathname.startswith("[")
        source = ("hands out a zero-filled page (a read may first map the shared zero page)" if anon
                  else "finds the file page in the page cache, or reads it from disk (a major fault)")
        lines.append(f"{step}. The walk ends at an empty entry: no frame yet.  This is demand paging: "
                     "mmap and malloc only reserve address space.  The first access raises a page "
                     f"fault; the kernel sees the address is inside the mapping, {source}, writes "
                     "the PTE and restarts the instruction.  Without disk I/O that is a minor fault.")
    return "\n".join(lines)


def translation_json(t: Translation) -> dict[str, Any]:
    e = t.entry
    return {
        "pid": t.pid,
        "address": t.address,
        "address_hex": f"0x{t.address:x}",
        "page_size_bytes": t.page_size_bytes,
        "levels": t.split.levels,
        "levels_reason": t.levels_reason,
        "indices": [{"level": i.level, "index": i.index, "high_bit": i.high_bit, "low_bit": i.low_bit}
                    for i in t.split.indices],
        "page_offset": t.split.page_offset,
        "vma": None if t.vma is None else {
            "start": t.vma.start, "end": t.vma.end, "perms": t.vma.perms, "pathname": t.vma.pathname},
        "state": t.state,
        "pagemap": None if e is None else {
            "raw": e.raw, "present": e.present, "swapped": e.swapped,
            "file_or_shared_anon": e.file_or_shared_anon, "exclusive": e.exclusive,
            "soft_dirty": e.soft_dirty, "uffd_wp": e.uffd_wp, "guard_region": e.guard_region,
            "pfn": e.pfn, "pfn_hidden": e.pfn_hidden, "swap_type": e.swap_type,
            "swap_offset": e.swap_offset},
        "physical_address": t.physical_address,
        "physical_address_hex": None if t.physical_address is None else f"0x{t.physical_address:x}",
        "page_flags": None if t.flags is None else {"raw": t.flags.raw, "names": list(t.flags.names)},
        "mapcount": t.mapcount,
        "numa_node": t.numa_node,
        "notes": list(t.notes),
    }
