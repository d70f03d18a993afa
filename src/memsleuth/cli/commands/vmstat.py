"""``memsleuth vmstat``."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.cli.options import positive_count, positive_seconds

if TYPE_CHECKING:
    from memsleuth.views.vmstat import VmstatOptions

HELP = """\
vmstat(8): processes, memory (KiB), swap and block I/O (KiB/s), interrupts,
context switches and CPU shares.  The first row is the average since boot,
then one row per interval, exactly as vmstat prints them.  --mem adds the
slab size and its change, dentries (and negative dentries where the kernel
counts them), and page-fault rates."""

EXAMPLES = """\
  memsleuth vmstat
  memsleuth vmstat 2 5
  memsleuth vmstat -w -t -a 1 3
  memsleuth vmstat -s -S M
  memsleuth vmstat -m
  memsleuth vmstat --mem 5
  memsleuth vmstat 1 3 --json"""


def _unit(text: str) -> str:
    if text[:1] not in ("b", "B", "k", "K", "m", "M") or len(text) != 1:
        raise argparse.ArgumentTypeError("-S requires k, K, m or M (default is KiB)")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("interval", nargs="?", type=positive_seconds, help="seconds between rows")
    parser.add_argument("count", nargs="?", type=positive_count, help="number of rows (default: forever)")
    parser.add_argument("--mem", action="store_true",
                        help="add slab, dentry and page-fault columns")
    parser.add_argument("-a", "--active", action="store_true",
                        help="inactive and active memory instead of buff and cache")
    parser.add_argument("-w", "--wide", action="store_true", help="wide output (procps's layout)")
    parser.add_argument("-t", "--timestamp", action="store_true", help="add the time of each row")
    parser.add_argument("-S", "--unit", type=_unit, default="K", metavar="k|K|m|M",
                        help="memory in 1000 (k), 1024 (K), 1000000 (m) or 1048576 (M) bytes")
    parser.add_argument("-n", "--one-header", action="store_true",
                        help="print the header once, not every 20 rows")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("-s", "--stats", action="store_true",
                      help="event counters and memory statistics (vmstat -s)")
    mode.add_argument("-m", "--slabs", action="store_true",
                      help="slab caches from /proc/slabinfo (vmstat -m; root)")
    parser.add_argument("--explain", action="store_true",
                        help="say what each column means, in plain words")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.views.vmstat import VmstatOptions

    opts = VmstatOptions(mem=args.mem, active=args.active, wide=args.wide,
                         timestamp=args.timestamp, unit=args.unit)
    if args.stats:
        return _stats(args, env)
    if args.slabs:
        return _slabs(args, env)
    code = _rows(args, env, opts)
    if args.explain and not env.json:
        from memsleuth.views.vmstat import explain_vmstat

        env.stdout.write("\n" + explain_vmstat(opts) + "\n")
    return code


def _stats(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.vmstat import FILES, point, stats
    from memsleuth.views.common import document
    from memsleuth.views.vmstat import STATS_SCHEMA, stats_json, stats_lines

    snap = env.snapshot(processes=False, cgroups=False, slab_sysfs=False, numa=False, system_files=FILES)
    st = stats(point(snap))
    if env.json:
        env.emit_json(document(STATS_SCHEMA, snap.meta, env.host().label, **stats_json(st)))
    else:
        env.stdout.write("\n".join(stats_lines(st, args.unit)) + "\n")
    return 0


def _slabs(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.sources.slabinfo import parse_slabinfo
    from memsleuth.views.common import document
    from memsleuth.views.vmstat import SLABS_SCHEMA, slab_lines, slabs_json

    count = args.count if args.count is not None else (1 if args.interval is None else None)
    if not env.host().live:
        count = 1
    n = 0
    while count is None or n < count:
        if n:
            time.sleep(args.interval)
        snap = env.snapshot(processes=False, cgroups=False, slab_sysfs=False, numa=False,
                            system_files=("proc/slabinfo", "proc/version", "proc/sys/kernel/hostname"))
        info = snap.require("proc/slabinfo", parse_slabinfo)
        if env.json:
            doc = document(SLABS_SCHEMA, snap.meta, env.host().label, **slabs_json(info.caches))
            (env.emit_json if count == 1 else env.emit_json_line)(doc)
        else:
            lines = slab_lines(info.caches)
            env.stdout.write("\n".join(lines if n == 0 or not args.one_header else lines[1:]) + "\n")
            env.stdout.flush()
        n += 1
    return 0


def _rows(args: argparse.Namespace, env: Env, opts: VmstatOptions) -> int:
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
            stamp = _local(r.captured_at)
            if n == 0 or (n % 20 == 0 and not args.one_header):
                for line in header_lines(opts, stamp[1]):
                    env.stdout.write(line + "\n")
            env.stdout.write(format_row(r, opts, stamp[0]) + "\n")
            env.stdout.flush()
        n += 1
    if env.json and count is not None:
        env.emit_json(document(SCHEMA, env.host().meta, env.host().label, rows=rows))
    return 0


def _local(at: float | None) -> tuple[str, str]:
    """(``%Y-%m-%d %H:%M:%S``, time zone name) of a reading, local time as vmstat -t prints it."""
    when = time.localtime(at if at is not None else time.time())
    return time.strftime("%Y-%m-%d %H:%M:%S", when), time.strftime("%Z", when)
