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
    for short, name, what in (
        ("-b", "bytes", "bytes"), (None, "kilo", "kilobytes (1000)"), (None, "mega", "megabytes"),
        (None, "giga", "gigabytes"), (None, "tera", "terabytes"), (None, "peta", "petabytes"),
        ("-k", "kibi", "kibibytes (1024; the default)"), ("-m", "mebi", "mebibytes"),
        ("-g", "gibi", "gibibytes"), (None, "tebi", "tebibytes"), (None, "pebi", "pebibytes"),
    ):
        flags = [f"--{name}"] if short is None else [short, f"--{name}"]
        units.add_argument(*flags, dest="unit", action="store_const", const=name,
                           help=f"show output in {what}")
    parser.add_argument("-h", "--human", action="store_true",
                        help="human-readable units (B, Ki, Mi, Gi), rounded as procps rounds")
    parser.add_argument("--si", action="store_true", help="use powers of 1000, not 1024")
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument("-w", "--wide", action="store_true", help="buffers and cache apart")
    parser.add_argument("-l", "--lohi", action="store_true",
                        help="add Low and High lines (low and high memory)")
    parser.add_argument("-t", "--total", action="store_true", help="add a Total line (RAM + swap)")
    parser.add_argument("-v", "--committed", action="store_true",
                        help="add a Comm line: CommitLimit, Committed_AS and what is left")
    parser.add_argument("-L", "--line", action="store_true",
                        help="one line: SwapUse CachUse MemUse MemFree")
    parser.add_argument("-s", "--seconds", type=positive_seconds, metavar="DELAY",
                        help="repeat every DELAY seconds")
    parser.add_argument("-c", "--count", type=positive_count, metavar="N", help="repeat N times")
    parser.add_argument("--legacy", action="store_true",
                        help="add the CentOS 6 view of 'used' and why it differs")
    parser.add_argument("--explain", action="store_true",
                        help="say what each column means, in plain words")
    parser.set_defaults(unit="default")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.system import FILES, system_memory
    from memsleuth.views.common import document
    from memsleuth.views.free import (
        SCHEMA,
        Commit,
        FreeOptions,
        LowHigh,
        explain_free,
        free_json,
        free_line,
        render_free,
    )

    opts = FreeOptions(unit=args.unit, human=args.human, si=args.si, wide=args.wide,
                       total=args.total, committed=args.committed, legacy=args.legacy)
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
        commit = Commit(limit_bytes=mem.meminfo.commit_limit_bytes,
                        committed_as_bytes=mem.meminfo.committed_as_bytes)
        if env.json:
            doc = document(SCHEMA, snap.meta, env.host().label, **free_json(mem.free, commit))
            # repeating (-s, -c N): one document per line, printed as each sample is taken
            (env.emit_json if count == 1 else env.emit_json_line)(doc)
        elif args.line:
            # procps -L: one line per reading, no blank line between them
            env.stdout.write(free_line(mem.free, opts) + "\n")
            env.stdout.flush()
        else:
            if i:
                env.console.print()
            lohi = (LowHigh.from_meminfo(mem.meminfo.raw, mem.free.total_bytes, mem.free.free_bytes)
                    if args.lohi else None)
            env.console.print(render_free(mem.free, opts, commit, lohi), crop=env.console.is_terminal)
        i += 1
    if args.explain and not env.json:
        env.console.print()
        env.console.print(explain_free(), crop=env.console.is_terminal)
    return 0
