"""``memsleuth translate PID ADDR``."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
Translate a virtual address of a process to a physical one: the page-table
index at each level (PGD/P4D/PUD/PMD/PTE) and the page offset, the mapping
that contains it, the /proc/PID/pagemap entry (present, swapped, PFN), and
for a present page the physical address, its kpageflags, its mapcount
(kpagecount) and its NUMA node.  Needs root: the kernel hides frame numbers
from other users, and kpageflags/kpagecount are root-only.  --explain walks
the translation step by step.  The live host only: a bundle does not keep
the page tables (/proc/PID/pagemap)."""

EXAMPLES = """\
  memsleuth translate 1234 0x7ffd12345678
  memsleuth translate $$ 55d0c0de1000 --explain
  memsleuth translate 1234 0x7f00deadb000 --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", type=int, help="process id")
    parser.add_argument("address", help="virtual address, hexadecimal (0x prefix optional)")
    parser.add_argument("--explain", action="store_true",
                        help="walk the translation step by step, in plain words")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.translate import parse_address, translate
    from memsleuth.cli.commands._process import read_address_space
    from memsleuth.errors import AccessDenied, SourceMissing, UsageError
    from memsleuth.snapshot.pages import node_of_pfn, read_kpagecount, read_kpageflags, read_pagemap
    from memsleuth.sources.cpuinfo import parse_cpu_flags
    from memsleuth.sources.maps import parse_maps
    from memsleuth.sources.pagemap import pfn_of
    from memsleuth.views.common import document
    from memsleuth.views.translate import SCHEMA, render_translation, translation_json

    try:
        address = parse_address(args.address)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    host = env.host()
    page = host.page_size
    sample = read_address_space(host, args.pid, "maps")
    vmas = parse_maps(sample.files["maps"].decode("utf-8", "replace"))
    cpuinfo = host.read_optional("proc/cpuinfo")
    cpu_flags = parse_cpu_flags(cpuinfo.decode("utf-8", "replace")) if cpuinfo else frozenset()

    notes: list[str] = []
    page_start = address - address % page
    try:
        entries = read_pagemap(host, args.pid, page_start, page_start + page, page)
        value: int | None = entries[0]
    except AccessDenied:
        raise AccessDenied(f"proc/{args.pid}/pagemap") from None
    except SourceMissing:
        if host.live:
            raise
        raise UsageError(f"{host.label} has no page tables to walk: a bundle does not keep "
                         "/proc/PID/pagemap (a process's whole address space, mostly empty); run "
                         f"'memsleuth translate {args.pid} {args.address}' on the host") from None
    except OSError as exc:  # EINVAL/EIO: an address the pagemap cannot describe
        value = None
        notes.append(f"pagemap has no entry for this address ({exc.strerror})")
    pfn = None if value is None else pfn_of(value)
    flags_word = mapcount = node = None
    if pfn is not None:
        try:
            flags_word = read_kpageflags(host, [pfn]).get(pfn)
            mapcount = read_kpagecount(host, [pfn]).get(pfn)
        except (AccessDenied, SourceMissing) as exc:
            notes.append(f"page flags and mapcount unavailable: {exc}")
        node = node_of_pfn(host, pfn, page)
    t = translate(pid=args.pid, address=address, page_size_bytes=page, vmas=vmas, cpu_flags=cpu_flags,
                  pagemap_value=value, flags_word=flags_word, mapcount=mapcount, numa_node=node,
                  notes=notes)
    if env.json:
        env.emit_json(document(SCHEMA, host.meta, host.label, **translation_json(t)))
    else:
        env.console.print(render_translation(t, explain=args.explain), crop=env.console.is_terminal)
    if t.entry is not None and t.entry.pfn_hidden:
        env.error("cannot translate to a physical address without root: the kernel shows this "
                  "process's pagemap with frame numbers zeroed (CAP_SYS_ADMIN needed)")
        return 2
    return 0
