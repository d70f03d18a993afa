"""``memsleuth capture``."""

from __future__ import annotations

import argparse
import os

from memsleuth.cli.env import Env
from memsleuth.errors import UsageError

HELP = """\
Write a bundle (.tar.gz) of every raw kernel file a diagnosis needs: system
memory files, /sys/kernel/slab, NUMA nodes, every process's stat, status,
statm, smaps_rollup, cmdline, maps and cgroup, and cgroup memory files, plus
metadata (hostname, kernel, time, page size, boot id).  The full smaps of
the --smaps-top processes by PSS (and of each --smaps-pid) are included too,
so that 'smaps' and 'maps' work on the bundle.  It never contains
/proc/PID/environ.  Read it back with 'memsleuth --root FILE COMMAND'."""

EXAMPLES = """\
  memsleuth capture -o /tmp/$(hostname)-mem.tar.gz
  memsleuth capture -o /tmp/web1.tar.gz --smaps-top 20 --smaps-pid 4242
  memsleuth --root /tmp/host-mem.tar.gz meminfo"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="where to write the bundle (.tar.gz)")
    parser.add_argument("--smaps-top", type=int, default=SMAPS_TOP, metavar="N",
                        help=f"also keep the full smaps of the N largest processes by PSS "
                        f"(default {SMAPS_TOP}; 0: none)")
    parser.add_argument("--smaps-pid", type=int, action="append", default=[], metavar="PID",
                        help="also keep the full smaps of PID (repeatable)")


#: processes whose full smaps a bundle keeps by default (each is one line per mapping: ~100 KiB)
SMAPS_TOP = 10


def _check_output(path: str) -> None:
    """Refuse an output path that cannot be written before the capture, not after it."""
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory: give the bundle a file name, e.g. "
                         f"{os.path.join(path, 'host.tar.gz')}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {path}: no directory {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {path}: {parent} is not writable")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.snapshot.bundle import BUNDLE_PROCESS_FILES, with_full_smaps, write_bundle
    from memsleuth.snapshot.capture import (
        EXTRA_SYSTEM_FILES,
        SLAB_FILES_NUMA,
        SYSTEM_FILES,
    )

    if args.smaps_top < 0:
        raise UsageError("--smaps-top must be 0 or more")
    _check_output(args.output)
    snap = env.snapshot(process_files=BUNDLE_PROCESS_FILES, slab_files=SLAB_FILES_NUMA,
                        system_files=SYSTEM_FILES + EXTRA_SYSTEM_FILES)
    snap = with_full_smaps(env.host(), snap, top=args.smaps_top, pids=args.smaps_pid)
    try:
        count = write_bundle(snap, args.output)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    summary = {
        "schema": "memsleuth.capture/1",
        "output": args.output,
        "files": count,
        "processes": len(snap.processes),
        "processes_with_smaps": sorted(p.pid for p in snap.processes if "smaps" in p.files),
        "processes_vanished": snap.processes_vanished,
        "processes_partial": snap.processes_partial,
        "missing": len(snap.missing),
        "capture_seconds": round(snap.duration_seconds, 4),
    }
    if env.json:
        env.emit_json(summary)
    else:
        env.console.print(
            f"wrote {args.output}: {count} files, {len(snap.processes)} processes "
            f"({snap.processes_vanished} exited during the walk, "
            f"{snap.processes_partial} partly unreadable), "
            f"{len(snap.missing)} system files unavailable, "
            f"captured in {snap.duration_seconds * 1000:.0f} ms"
        )
        for path, reason in sorted(snap.missing.items())[:10]:
            env.note(f"/{path}: {reason}")
    return 0
