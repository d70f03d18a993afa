"""``memsleuth top`` / ``memsleuth ps``."""

from __future__ import annotations

import argparse
import re

from memsleuth.cli.env import Env

HELP = """\
Memory per process: VIRT, RES and SHR exactly as top computes them, plus
PSS and USS (from smaps_rollup, as smem defines them) and swap; --wide adds
threads and page faults.  Sort, filter, and group by command, user or cgroup like smem.
Reading other users' smaps_rollup needs root; without it PSS/USS show '-'."""

EXAMPLES = """\
  memsleuth top
  memsleuth top --sort uss --limit 10
  memsleuth top --group-by command
  memsleuth top --user www-data --command nginx --json
  memsleuth ps --all --sort swap"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from memsleuth.analysis.processes import SORT_KEYS

    parser.add_argument("--sort", "-s", choices=sorted(SORT_KEYS), default="pss",
                        help="column to sort by, largest first (default: pss)")
    parser.add_argument("--limit", "-n", type=int, default=25,
                        help="rows to show (default 25)")
    parser.add_argument("--all", "-a", action="store_true", help="show every row")
    parser.add_argument("--user", "-u", help="only processes of this user (name or uid)")
    parser.add_argument("--pid", "-p", type=int, action="append", help="only this PID (repeat)")
    parser.add_argument("--command", "-c", metavar="REGEX",
                        help="only processes whose command line matches REGEX")
    parser.add_argument("--kernel-threads", action="store_true",
                        help="include kernel threads (they have no user memory)")
    parser.add_argument("--wide", "-w", action="store_true",
                        help="add threads and minor/major fault counts")
    parser.add_argument("--group-by", "-g", choices=("command", "user", "cgroup"),
                        help="sum per command, user or cgroup, like smem -m/-u")


class UserNames:
    """uid -> login name, looked up on the live host only (a bundle's uids are
    another machine's: they are shown as numbers)."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.cache: dict[int, str] = {}

    def __call__(self, uid: int | None) -> str:
        if uid is None:
            return "-"
        if uid not in self.cache:
            self.cache[uid] = str(uid)
            if self.live:
                import contextlib
                import pwd

                with contextlib.suppress(KeyError):
                    self.cache[uid] = pwd.getpwuid(uid).pw_name
        return self.cache[uid]


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.processes import group_rows, process_rows, sort_rows
    from memsleuth.errors import UsageError
    from memsleuth.snapshot.capture import DEFAULT_PROCESS_FILES
    from memsleuth.views.common import document
    from memsleuth.views.top import SCHEMA, process_json, render_groups, render_processes

    files = (*DEFAULT_PROCESS_FILES, "cmdline")
    if args.group_by == "cgroup":
        files = (*files, "cgroup")
    snap = env.snapshot(cgroups=False, slab_sysfs=False, numa=False, process_files=files,
                        system_files=("proc/version", "proc/sys/kernel/hostname"))
    rows = process_rows(snap)
    user_of = UserNames(env.host().live)
    if not args.kernel_threads:
        rows = [r for r in rows if not r.kernel_thread]
    if args.pid:
        rows = [r for r in rows if r.pid in set(args.pid)]
    if args.user is not None:
        wanted = args.user
        rows = [r for r in rows if user_of(r.uid) == wanted or str(r.uid) == wanted]
    if args.command:
        try:
            rx = re.compile(args.command)
        except re.error as exc:
            raise UsageError(f"--command: not a valid regular expression: {exc}") from None
        rows = [r for r in rows if rx.search(r.command) or rx.search(r.comm)]
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    partial = [r for r in rows if "smaps_rollup" in r.unreadable]
    caption = None
    if partial:
        caption = (f"PSS/USS unknown for {len(partial)} of {len(rows)} processes: "
                   f"/proc/PID/smaps_rollup: {partial[0].unreadable['smaps_rollup']}")
    vanished = snap.processes_vanished
    if args.group_by:
        keyf = {
            "command": lambda r: r.comm,
            "user": lambda r: user_of(r.uid),
            "cgroup": lambda r: r.cgroup or "-",
        }[args.group_by]
        groups = group_rows(rows, keyf)
        shown_groups = groups if args.all else groups[: args.limit]
        if env.json:
            from memsleuth.analysis.processes import row_dict

            env.emit_json(document(SCHEMA, snap.meta, env.host().label, group_by=args.group_by,
                                   groups=[row_dict(g) for g in shown_groups],
                                   processes_vanished=vanished, processes_partial=len(partial)))
        else:
            env.console.print(render_groups(shown_groups, args.group_by), crop=env.console.is_terminal)
            if caption:
                env.note(caption)
        return 0
    rows = sort_rows(rows, args.sort)
    shown = rows if args.all else rows[: args.limit]
    if env.json:
        env.emit_json(document(SCHEMA, snap.meta, env.host().label, sort=args.sort,
                               processes=[process_json(r) for r in shown], total_processes=len(rows),
                               processes_vanished=vanished, processes_partial=len(partial)))
        return 0
    if not rows:
        env.note("no processes matched" if snap.processes else
                 "no processes in this snapshot (a bundle or root without proc/PID)")
        return 0
    env.console.print(render_processes(shown, user_of, None, wide=args.wide), crop=env.console.is_terminal)
    if caption:
        env.note(caption)
    if len(shown) < len(rows):
        env.console.print(f"({len(rows) - len(shown)} more; --all to show them)", style="dim")
    if vanished:
        env.note(f"{vanished} processes exited while they were being read and are not shown")
    return 0
