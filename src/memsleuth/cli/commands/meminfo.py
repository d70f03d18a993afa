"""``memsleuth meminfo``."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
Every /proc/meminfo field, grouped, with a one-line meaning, then the
accounting tree: buckets that add up to MemTotal, with the unaccounted gap
as its own line.  On kernels without MemAvailable (before 3.14) it is
estimated with the kernel's formula from the zoneinfo low watermarks."""

EXAMPLES = """\
  memsleuth meminfo
  memsleuth meminfo --explain
  memsleuth --root bundle.tar.gz meminfo --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--explain", action="store_true",
                        help="explain MemAvailable, 'used' and the gap in plain words")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.system import FILES, system_memory
    from memsleuth.views.common import document, missing_json
    from memsleuth.views.meminfo import SCHEMA, meminfo_json, render_meminfo

    snap = env.snapshot(processes=False, cgroups=False, slab_sysfs=False, numa=False,
                        system_files=FILES)
    mem = system_memory(snap)
    if env.json:
        env.emit_json(document(SCHEMA, snap.meta, env.host().label,
                               **meminfo_json(mem.meminfo, mem.accounting, mem.available),
                               missing=missing_json(snap.missing)))
        return 0
    env.console.print(render_meminfo(mem.meminfo, mem.accounting, mem.available,
                                     explain=args.explain), crop=env.console.is_terminal)
    if "proc/vmallocinfo" in snap.missing and env.host().live:
        env.note("/proc/vmallocinfo: " + snap.missing["proc/vmallocinfo"]
                 + "; the vmalloc bucket may overlap kernel stacks")
    return 0
