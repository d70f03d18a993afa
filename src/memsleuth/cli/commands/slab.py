"""``memsleuth slab``."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.cli.options import positive_count, positive_seconds

if TYPE_CHECKING:
    from memsleuth.snapshot.model import Snapshot

HELP = """\
slabtop: kernel object caches sorted by memory (num_slabs x pages per slab
x page size), with objects, usage, object size, whether the cache is
reclaimable (counted in SReclaimable), SLUB merge aliases and internal
fragmentation (waste).  With an interval, adds the growth per second of each
cache.  /proc/slabinfo is root-only: without root, the totals from meminfo
are shown with a note."""

EXAMPLES = """\
  memsleuth slab
  memsleuth slab --sort waste --limit 10
  memsleuth slab 5 3            # growth over three 5-second intervals
  memsleuth slab --aliases --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from memsleuth.analysis.slab import SORT_KEYS

    parser.add_argument("interval", nargs="?", type=positive_seconds, help="seconds between readings")
    parser.add_argument("count", nargs="?", type=positive_count, help="number of readings after the first")
    parser.add_argument("--sort", "-s", choices=sorted(SORT_KEYS), default="size",
                        help="sort key (default: size)")
    parser.add_argument("--limit", "-n", type=int, default=25, help="rows to show (default 25)")
    parser.add_argument("--all", "-a", action="store_true", help="every cache, even empty ones")
    parser.add_argument("--aliases", action="store_true", help="name the merged caches")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.slab import slab_rows, sort_rows, totals, with_growth
    from memsleuth.errors import UsageError
    from memsleuth.sources.meminfo import parse_meminfo
    from memsleuth.units import human_bytes
    from memsleuth.views.common import document, missing_json
    from memsleuth.views.slab import SCHEMA, render_slab, row_json, totals_json

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    files = ("proc/slabinfo", "proc/meminfo", "proc/version", "proc/sys/kernel/hostname")
    count = 0 if args.interval is None else (args.count if args.count is not None else 1)
    if not env.host().live:
        count = 0

    def take() -> Snapshot:
        return env.snapshot(processes=False, cgroups=False, numa=False, system_files=files)

    snap = take()
    rows = slab_rows(snap)
    meminfo = snap.parse("proc/meminfo", parse_meminfo)
    if rows is None:
        reason = snap.missing.get("proc/slabinfo", "not present")
        slab_total = meminfo.slab_bytes if meminfo else None
        if env.json:
            env.emit_json(document(
                SCHEMA, snap.meta, env.host().label, caches=[], totals=None,
                meminfo_slab={
                    "slab_bytes": slab_total,
                    "s_reclaimable_bytes": meminfo.s_reclaimable_bytes if meminfo else None,
                    "s_unreclaim_bytes": meminfo.s_unreclaim_bytes if meminfo else None},
                missing=missing_json(snap.missing)))
        else:
            env.console.print(
                f"Slab {human_bytes(slab_total)} (reclaimable "
                f"{human_bytes(meminfo.s_reclaimable_bytes if meminfo else None)}, unreclaimable "
                f"{human_bytes(meminfo.s_unreclaim_bytes if meminfo else None)}) from /proc/meminfo."
            )
            env.note(f"per-cache detail needs /proc/slabinfo: {reason}; run as root")
        return 0
    growth = False
    for _ in range(count):
        time.sleep(args.interval)
        nxt = take()
        new_rows = slab_rows(nxt)
        if new_rows is None:
            break
        rows = with_growth(new_rows, rows, nxt.started_at - snap.started_at)
        snap = nxt
        growth = True
    tot = totals(rows)
    shown = rows if args.all else [r for r in rows if r.num_objs]
    shown = sort_rows(shown, args.sort)
    if not args.all:
        shown = shown[: args.limit]
    if env.json:
        env.emit_json(document(SCHEMA, snap.meta, env.host().label,
                               caches=[row_json(r) for r in shown], totals=totals_json(tot),
                               missing=missing_json(snap.missing)))
        return 0
    env.console.print(render_slab(shown, tot, growth=growth, show_aliases=args.aliases),
                      crop=env.console.is_terminal)
    return 0
