"""``memsleuth free``."""

from __future__ import annotations

import argparse
import time

from memsleuth.cli.env import Env
from memsleuth.cli.options import positive_count, positive_seconds

HELP = """\
Show free and used memory the way procps-ng 4 'free' does (used = total -
available; cache = Cached + SReclaimable), with the same flags.  --legacy adds
the CentOS 6 (procps 3.2) view, which counts reclaimable slab as used, and
explains why the two disagree.  On kernels without MemAvailable (before 3.14)
'available' is estimated with the kernel's own formula from zoneinfo."""

EXAMPLES = """\
  memsleuth free -h -w
  memsleuth free -b -w --json
  memsleuth free --legacy -g
  memsleuth free -s 2 -c 5"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    units = parser.add_mutually_exclusive_group()
    units.add_argument("-b", "--bytes", dest="unit", action="store_const", const="bytes")
    units.add_argument("-k", "--kibi", dest="unit", action="store_const", const="kibi",
                       help="kibibytes (the default)")
    units.add_argument("-m", "--mebi", dest="unit", action="store_const", const="mebi")
    units.add_argument("-g", "--gibi", dest="unit", action="store_const", const="gibi")
    units.add_argument("-h", "--human", dest="unit", action="store_const", const="human",
                       help="human-readable units (Ki, Mi, Gi)")
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument("-w", "--wide", action="store_true", help="buffers and cache apart")
    parser.add_argument("-t", "--total", action="store_true", help="add a Total line (RAM + swap)")
    parser.add_argument("-s", "--seconds", type=positive_seconds, metavar="DELAY",
                        help="repeat every DELAY seconds")
    parser.add_argument("-c", "--count", type=positive_count, metavar="N", help="repeat N times")
    parser.add_argument("--legacy", action="store_true",
                        help="add the CentOS 6 view of 'used' and why it differs")
    parser.set_defaults(unit="kibi")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.system import FILES, system_memory
    from memsleuth.views.common import document
    from memsleuth.views.free import SCHEMA, FreeOptions, free_json, render_free

    opts = FreeOptions(unit=args.unit, wide=args.wide, total=args.total, legacy=args.legacy)
    count = args.count if args.count is not None else (None if args.seconds else 1)
    delay = args.seconds if args.seconds is not None else 1.0
    if not env.host().live and (count or 1) > 1:
        count = 1  # a bundle does not change between reads
    i = 0
    while count is None or i < count:
        if i:
            time.sleep(delay)
        snap = env.snapshot(processes=False, cgroups=False, slab_sysfs=False, numa=False,
                            system_files=FILES)
        mem = system_memory(snap)
        if env.json:
            doc = document(SCHEMA, snap.meta, env.host().label, **free_json(mem.free))
            # repeating (-s, -c N): one document per line, printed as each sample is taken
            (env.emit_json if count == 1 else env.emit_json_line)(doc)
        else:
            if i:
                env.console.print()
            env.console.print(render_free(mem.free, opts), crop=env.console.is_terminal)
        i += 1
    return 0
