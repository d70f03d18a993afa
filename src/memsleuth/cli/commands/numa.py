"""``memsleuth numa``."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
NUMA nodes: the CPUs of each node (as lscpu prints them), memory per node
(MemTotal, MemFree, FilePages, AnonPages, Slab, HugePages from the node's
meminfo), allocation locality (numastat hits, misses, foreign, interleave,
local and remote, with the miss ratio), slab objects per node
(/sys/kernel/slab/*/objects, root), and how the largest processes' pages
are spread over the nodes (numa_maps of the top --limit processes by RSS).
The imbalance columns compare each node's free and used memory with the mean
over nodes.  --explain says what each number means, with this host's
figures."""

EXAMPLES = """\
  memsleuth numa
  memsleuth numa --explain
  memsleuth numa --limit 20 --slab 5
  memsleuth --root host.tar.gz numa --json"""

#: numa_maps walks page tables like smaps: read it for a bounded set only
DEFAULT_LIMIT = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--explain", action="store_true", help="say what the numbers mean, in plain words")
    parser.add_argument("--limit", "-n", type=int, default=DEFAULT_LIMIT, metavar="N",
                        help=f"read numa_maps of the N largest processes by RSS (default {DEFAULT_LIMIT})")
    parser.add_argument("--slab", type=int, default=8, metavar="N",
                        help="slab caches listed by objects (default 8)")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.numa import NODE_DIR, node_ids, numa_report, process_spread, top_by_rss
    from memsleuth.errors import SourceMissing, UsageError
    from memsleuth.snapshot.capture import SLAB_FILES_NUMA, read_process
    from memsleuth.snapshot.model import REASON_DENIED
    from memsleuth.sources.numa_maps import parse_numa_maps
    from memsleuth.views.common import document, missing_json
    from memsleuth.views.numa import SCHEMA, render_numa, report_json

    if args.limit < 0 or args.slab < 0:
        raise UsageError("--limit and --slab must not be negative")
    host = env.host()
    snap = env.snapshot(processes=args.limit > 0, process_files=("stat", "statm"), cgroups=False,
                        slab_files=SLAB_FILES_NUMA,
                        system_files=("proc/version", "proc/sys/kernel/hostname"))
    if not node_ids(snap):
        raise SourceMissing(f"{NODE_DIR}/node* (a kernel without CONFIG_NUMA has no node directory)")
    notes: list[str] = []
    spreads = []
    denied = gone = 0
    by_identity = {p.pid: p for p in snap.processes}
    for pid, rss in top_by_rss(snap, args.limit):
        sample = read_process(host, pid, ("stat", "numa_maps", "cmdline"))
        if sample is None or sample.starttime_ticks != by_identity[pid].starttime_ticks:
            gone += 1
            continue
        text = sample.text("numa_maps")
        if text is None:
            if sample.unreadable.get("numa_maps") == REASON_DENIED:
                denied += 1
            continue
        spreads.append(process_spread(pid=pid, comm=sample.comm, command=sample.cmdline(),
                                      rss_bytes=rss, maps=parse_numa_maps(text)))
    if denied:
        hint = "" if host.meta.root_access else " (run as root)"
        notes.append(f"numa_maps of {denied} of the {args.limit} largest processes: "
                     f"permission denied{hint}")
    if gone:
        notes.append(f"{gone} process(es) exited before their numa_maps was read")
    slab_objects_missing = not any(p.endswith("/objects") for p in snap.paths_under("sys/kernel/slab/"))
    if slab_objects_missing and args.slab:
        listing = snap.listings.get("sys/kernel/slab")
        notes.append("slab objects per node need /sys/kernel/slab/*/objects: "
                     + ("permission denied (run as root)" if listing else "not present (SLUB only)"))
    report = numa_report(snap, spreads, slab_limit=args.slab, notes=notes)
    if env.json:
        env.emit_json(document(SCHEMA, snap.meta, host.label, **report_json(report),
                               missing=missing_json({p: r for p, r in snap.missing.items()
                                                     if p.startswith(NODE_DIR)})))
        return 0
    env.console.print(render_numa(report, explain=args.explain), crop=env.console.is_terminal)
    return 0
