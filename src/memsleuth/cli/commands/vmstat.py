"""``memsleuth vmstat``."""

from __future__ import annotations

import argparse
import time

from memsleuth.cli.env import Env
from memsleuth.cli.options import positive_count, positive_seconds

HELP = """\
vmstat(8): processes, memory (KiB), swap and block I/O (KiB/s), interrupts,
context switches and CPU shares.  The first row is the average since boot,
then one row per interval, exactly as vmstat prints them.  --mem adds the
slab size and its change, dentries (and negative dentries where the kernel
counts them), and page-fault rates."""

EXAMPLES = """\
  memsleuth vmstat
  memsleuth vmstat 2 5
  memsleuth vmstat --mem 5
  memsleuth vmstat 1 3 --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("interval", nargs="?", type=positive_seconds, help="seconds between rows")
    parser.add_argument("count", nargs="?", type=positive_count, help="number of rows (default: forever)")
    parser.add_argument("--mem", action="store_true",
                        help="add slab, dentry and page-fault columns")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.vmstat import FILES, VmstatPoint, point, row
    from memsleuth.views.common import document
    from memsleuth.views.vmstat import SCHEMA, format_row, header_lines, row_json

    count = args.count if args.count is not None else (1 if args.interval is None else None)
    if not env.host().live:
        count = 1  # a bundle is one moment: only the since-boot row exists

    rows = []
    prev: VmstatPoint | None = None
    n = 0
    while count is None or n < count:
        if n:
            time.sleep(args.interval)
        snap = env.snapshot(processes=False, cgroups=False, slab_sysfs=False, numa=False, system_files=FILES)
        cur = point(snap)
        r = row(cur, prev)
        prev = cur
        if env.json and count is None:
            # endless: one document per row and line (JSON Lines), printed as each row is taken
            env.emit_json_line(document(SCHEMA, snap.meta, env.host().label, rows=[row_json(r)]))
        elif env.json:
            rows.append(row_json(r))
        else:
            if n % 20 == 0:
                for line in header_lines(args.mem):
                    env.stdout.write(line + "\n")
            env.stdout.write(format_row(r, args.mem) + "\n")
            env.stdout.flush()
        n += 1
    if env.json and count is not None:
        env.emit_json(document(SCHEMA, env.host().meta, env.host().label, rows=rows))
    return 0
