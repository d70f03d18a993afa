"""``memsleuth faults``."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.cli.options import positive_count, positive_seconds

if TYPE_CHECKING:
    from array import array

    from memsleuth.snapshot.model import Snapshot
    from memsleuth.sources.maps import VmArea

HELP = """\
Page faults.  System minor and major fault rates (/proc/vmstat pgfault and
pgmajfault), then the processes faulting most, with their address space
never touched (VIRT - RSS - swap: demand paging).  With --cow PID: how much
of PID's private writable anonymous memory its children still share with
it copy-on-write, and how much has been copied (pagemap and kpagecount,
root only).  A bundle (--root) is one moment: it has totals, no rates."""

EXAMPLES = """\
  memsleuth faults
  memsleuth faults 2 5 --limit 5
  memsleuth faults --explain
  memsleuth faults --cow $(pgrep -o gunicorn)
  memsleuth faults 1 --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("interval", nargs="?", type=positive_seconds,
                        help="seconds between readings (default 1)")
    parser.add_argument("count", nargs="?", type=positive_count, help="number of intervals (default 1)")
    parser.add_argument("--limit", "-n", type=int, default=10, help="processes shown (default 10)")
    parser.add_argument("--cow", type=int, metavar="PID",
                        help="copy-on-write sharing between PID and its children (root)")
    parser.add_argument("--explain", action="store_true", help="explain faults, demand paging and COW")


def run(args: argparse.Namespace, env: Env) -> int:
    if args.cow is not None:
        return _cow(args, env)
    return _rates(args, env)


def _rates(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.faults import process_faults, system_faults, top_by_rate
    from memsleuth.views.common import document
    from memsleuth.views.faults import SCHEMA, faults_json, render_faults

    files = ("proc/vmstat", "proc/version", "proc/sys/kernel/hostname")

    def reading() -> Snapshot:
        return env.snapshot(cgroups=False, slab_sysfs=False, numa=False,
                            process_files=("stat", "status", "cmdline"), system_files=files)

    host = env.host()
    interval = args.interval if args.interval is not None else 1.0
    count = args.count if args.count is not None else 1
    samples = []
    prev = reading() if host.live else None
    if not host.live:
        count = 1
        env.note("a bundle is one moment: fault totals since start, no rates")
    for n in range(count):
        if host.live:
            time.sleep(interval)
        cur = reading()
        system = system_faults(cur, prev)
        rows = top_by_rate(process_faults(cur, prev), max(args.limit, 0))
        if env.json:
            samples.append(faults_json(system, rows))
        else:
            if n:
                env.console.print()
            env.console.print(render_faults(system, rows, explain=args.explain and n == count - 1),
                              crop=env.console.is_terminal)
        prev = cur
    if env.json:
        env.emit_json(document(SCHEMA, host.meta, host.label, samples=samples))
    return 0


def _cow(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.faults import (
        CowChild,
        compare_area,
        confirmed_shared,
        cow_areas,
        overlaps,
    )
    from memsleuth.cli.commands._process import gone
    from memsleuth.errors import AccessDenied, ProcessGone, SourceMissing
    from memsleuth.snapshot.capture import read_process
    from memsleuth.snapshot.pages import read_kpagecount, read_pagemap
    from memsleuth.sources.maps import parse_maps
    from memsleuth.sources.pagemap import PFN_MASK, PM_PRESENT
    from memsleuth.views.common import document
    from memsleuth.views.faults import COW_SCHEMA, cow_json, render_cow

    host = env.host()
    page = host.page_size
    parent = read_process(host, args.cow, ("stat", "maps", "cmdline"))
    if parent is None:
        raise gone(host, args.cow)
    if "maps" not in parent.files:
        raise AccessDenied(f"proc/{args.cow}/maps")
    children = []
    for pid in host.pids():
        if pid == args.cow:
            continue
        s = read_process(host, pid, ("stat",))
        if s is not None and s.ppid == args.cow and not s.zombie:
            children.append(s)

    def areas_of(pid: int, maps_text: str) -> tuple[list[VmArea], bool, dict[int, array[int]]]:
        areas, cut = cow_areas(parse_maps(maps_text))
        entries: dict[int, array[int]] = {}
        for v in areas:
            try:
                values = read_pagemap(host, pid, v.start, v.end, page)
            except (SourceMissing, ProcessGone):
                raise ProcessGone(pid) from None
            if any(x & PM_PRESENT and not x & PFN_MASK for x in values):
                raise AccessDenied(f"proc/{pid}/pagemap (frame numbers are hidden without root)")
            entries[v.start] = values
        return areas, cut, entries

    p_areas, sampled, p_entries = areas_of(args.cow, parent.files["maps"].decode("utf-8", "replace"))
    notes: list[str] = []
    if sampled:
        notes.append("over 4 GiB of private writable anonymous memory: only the first 4 GiB "
                     "(in address order) were compared")
    results = []
    for child in children:
        got = read_process(host, child.pid, ("stat", "maps"))
        if got is None or "maps" not in got.files:
            notes.append(f"child {child.pid} exited or is unreadable; skipped")
            continue
        try:
            c_areas, _, c_entries = areas_of(child.pid, got.files["maps"].decode("utf-8", "replace"))
        except ProcessGone:
            notes.append(f"child {child.pid} exited during the read; skipped")
            continue
        compared = []
        shared_pfns: list[int] = []
        for pv, cv, start, end in overlaps(p_areas, c_areas):
            area, pfns = compare_area(start, end, pv.pathname, page, p_entries[pv.start],
                                      pv.start, c_entries[cv.start], cv.start)
            compared.append(area)
            shared_pfns += pfns
        confirmed: int | None
        try:
            confirmed = confirmed_shared(shared_pfns, read_kpagecount(host, shared_pfns))
        except (AccessDenied, SourceMissing):
            confirmed = None
            notes.append("kpagecount unreadable: shared pages not confirmed by mapcount")
        results.append(CowChild(pid=child.pid, comm=child.comm, areas=tuple(compared),
                                shared_mapcount_confirmed=confirmed))
    if not children:
        notes.append(f"process {args.cow} has no children: nothing is shared copy-on-write")
    command = parent.cmdline() or f"[{parent.comm}]"
    area_bytes = sum(v.size_bytes for v in p_areas)
    if env.json:
        env.emit_json(document(COW_SCHEMA, host.meta, host.label,
                               **cow_json(args.cow, command, area_bytes, results, page, notes, sampled)))
    else:
        env.console.print(render_cow(args.cow, command, area_bytes, results, page, notes,
                                     explain=args.explain), crop=env.console.is_terminal)
    return 0
