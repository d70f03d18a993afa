"""``memsleuth buddy``."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
The buddy allocator: free blocks per order in each zone (/proc/buddyinfo)
and per migrate type (/proc/pagetypeinfo, root), the largest free block,
and for each order the kernel's fragmentation index (extfrag_index) and
unusable free space index, computed as mm/vmstat.c does.  Says whether an
order-3 (kernel stack, slab page) and an order-9 (2 MiB THP) allocation
would succeed now, above the low watermark (an approximation of
__zone_watermark_ok).  Also slab internal fragmentation: the waste per
cache and in total (/proc/slabinfo, root).  --explain says what external
fragmentation is, with this host's numbers."""

EXAMPLES = """\
  memsleuth buddy
  memsleuth buddy --order 9 --explain
  memsleuth buddy --order 4 --json
  memsleuth --root host.tar.gz buddy"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--order", type=int, metavar="N",
                        help="also check an order-N allocation (2^N pages) and highlight its row")
    parser.add_argument("--explain", action="store_true",
                        help="explain external fragmentation with this host's numbers")
    parser.add_argument("--slab", type=int, default=8, metavar="N",
                        help="slab caches listed by waste (default 8)")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.buddy import DEFAULT_CHECK_ORDERS, buddy_report
    from memsleuth.errors import SourceMissing, UsageError
    from memsleuth.views.buddy import SCHEMA, render_buddy, report_json
    from memsleuth.views.common import document, missing_json

    if args.order is not None and not 0 <= args.order <= 20:
        raise UsageError("--order must be between 0 and 20")
    if args.slab < 0:
        raise UsageError("--slab must not be negative")
    orders = tuple(sorted({*DEFAULT_CHECK_ORDERS, *(() if args.order is None else (args.order,))}))
    files = ("proc/buddyinfo", "proc/pagetypeinfo", "proc/zoneinfo", "proc/slabinfo",
             "proc/version", "proc/sys/kernel/hostname")
    snap = env.snapshot(processes=False, cgroups=False, numa=False, system_files=files)
    report = buddy_report(snap, check_orders=orders, slab_limit=args.slab)
    if report is None:
        reason = snap.missing.get("proc/buddyinfo", "not captured")
        raise SourceMissing(f"proc/buddyinfo ({reason})")
    if args.order is not None and report.zones and args.order >= len(report.zones[0].free_blocks):
        raise UsageError(f"--order {args.order}: this kernel's largest order is "
                         f"{len(report.zones[0].free_blocks) - 1}")
    if env.json:
        env.emit_json(document(SCHEMA, snap.meta, env.host().label, **report_json(report),
                               missing=missing_json(snap.missing)))
        return 0
    env.console.print(render_buddy(report, explain=args.explain, order=args.order),
                      crop=env.console.is_terminal)
    return 0
