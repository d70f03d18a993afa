"""``memsleuth reclaim``."""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env

if TYPE_CHECKING:
    from memsleuth.snapshot.model import Snapshot

HELP = """\
Drop caches, carefully.  Without --yes this is a dry run: it shows what
drop_caches would free (reclaimable slab, by cache, and clean page cache:
Active(file) + Inactive(file) - Dirty - Writeback; shmem/tmpfs is never
freed) and warns about the cost.  With --yes it writes 2 (--slab, the
default), 1 (--pagecache, after sync) or 3 (--both) to
/proc/sys/vm/drop_caches, then measures every bucket before and after.
MemFree can lag for seconds after a drop on VMs with free page reporting, so
the buckets are read directly and MemFree again after --settle seconds.

It never runs by itself; it is a stop-gap while the cause is fixed."""

EXAMPLES = """\
  memsleuth reclaim                    # dry run: what --slab would free
  memsleuth reclaim --both             # dry run for slab and page cache
  memsleuth reclaim --slab --yes       # echo 2 > /proc/sys/vm/drop_caches, measured
  memsleuth reclaim --pagecache --yes --json"""


def EXPLAIN() -> str:
    """--explain (cli/main.py adds the option): the columns and concepts, from views/topics."""
    from memsleuth.views.reclaim import CACHE_COLUMNS
    from memsleuth.views.topics import column_fields, explain_text

    return explain_text(column_fields(CACHE_COLUMNS), ("reclaimable-slab", "page-cache", "negative-dentries"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--slab", dest="mode", action="store_const", const="slab",
                       help="reclaimable slab objects: dentries, inodes (drop_caches=2; default)")
    which.add_argument("--pagecache", dest="mode", action="store_const", const="pagecache",
                       help="clean page cache (sync, then drop_caches=1)")
    which.add_argument("--both", dest="mode", action="store_const", const="both",
                       help="both (sync, then drop_caches=3)")
    parser.set_defaults(mode="slab")
    parser.add_argument("--yes", action="store_true", help="really drop (default: dry run)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds to wait before re-reading MemFree (default 3)")
    parser.add_argument("--limit", "-n", type=int, default=8,
                        help="reclaimable caches to list (default 8)")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.reclaim import FILES, buckets, changes, plan
    from memsleuth.errors import UsageError
    from memsleuth.views.common import document
    from memsleuth.views.reclaim import SCHEMA, plan_json, render_reclaim, result_json

    if args.settle < 0 or args.limit < 1:
        raise UsageError("--settle must be >= 0 and --limit >= 1")
    host = env.host()
    if args.yes and not host.live:
        raise UsageError("reclaim --yes acts on the live host; it cannot run on a bundle (--root)")
    if args.yes and os.geteuid() != 0:
        raise UsageError("reclaim --yes writes /proc/sys/vm/drop_caches: run as root")

    def take() -> Snapshot:
        return env.snapshot(processes=False, cgroups=False, numa=False, system_files=FILES)

    snap = take()
    the_plan = plan(snap, args.mode)
    result = None
    if args.yes:
        from memsleuth.views.live import Progress

        progress = Progress(env.stderr, enabled=env.stderr.isatty() and not env.json)
        value = the_plan.drop_caches_value
        sync_seconds = None
        if value & 1:
            progress.update("sync: writing dirty pages back before dropping the page cache")
            t0 = time.monotonic()
            os.sync()
            sync_seconds = time.monotonic() - t0
        progress.update(f"writing {value} to /proc/sys/vm/drop_caches")
        t0 = time.monotonic()
        host.write("proc/sys/vm/drop_caches", f"{value}\n")
        write_seconds = time.monotonic() - t0
        after = buckets(take())
        with progress.countdown("letting MemFree settle before the second reading", args.settle):
            time.sleep(args.settle)
        progress.done()
        settled = buckets(take())
        result = result_json(changes(the_plan.buckets, after), sync_seconds=sync_seconds,
                             write_seconds=write_seconds, settle_seconds=args.settle,
                             settled=settled)
    doc = document(SCHEMA, snap.meta, host.label, **plan_json(the_plan, limit=args.limit),
                   dry_run=not args.yes, result=result)
    if env.json:
        env.emit_json(doc)
    else:
        env.console.print(render_reclaim(doc), crop=env.console.is_terminal)
        if "proc/slabinfo" in snap.missing:
            env.note(f"per-cache detail needs /proc/slabinfo: {snap.missing['proc/slabinfo']}; "
                     "run as root")
    return 0
