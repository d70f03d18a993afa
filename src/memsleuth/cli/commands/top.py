"""``memsleuth top`` / ``memsleuth ps``."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env

if TYPE_CHECKING:
    from rich.console import RenderableType

    from memsleuth.analysis.processes import ProcessRow
    from memsleuth.snapshot.model import Snapshot

HELP = """\
Memory per process: VIRT, RES and SHR exactly as top computes them, plus
PSS and USS (from smaps_rollup, as smem defines them) and swap; --wide adds
threads and page faults.  Sort, filter, and group by command, user or cgroup like smem.
Reading other users' smaps_rollup needs root; without it PSS/USS show '-'.

As top(1): -d SECONDS refreshes in place on a terminal (q or Ctrl-C quits;
M sorts by memory, N by PID, < and > move the sort column), -n N stops after
N iterations, -b prints each iteration as plain text (batch mode), -o FIELD
sorts by top's field name (%MEM, RES, VIRT, SHR, SWAP, PID, nTH, nMin, nMaj;
-o=-RES sorts smallest first) and -p 1,2 lists PIDs.  Piped, each
iteration is printed in full; with --json, one JSON document per line."""

EXAMPLES = """\
  memsleuth top
  memsleuth top --sort uss --limit 10
  memsleuth top --group-by command
  memsleuth top --user www-data --command nginx --json
  memsleuth top --all --sort swap
  memsleuth top -d 2 -o %MEM            # refresh every 2 s, like top
  memsleuth top -b -n 1 -p 1,2          # batch mode, once, two PIDs"""

#: top's field names (top -o, as procps spells them) -> our sort keys
TOP_FIELDS: dict[str, str] = {
    "%MEM": "res", "RES": "res", "VIRT": "virt", "SHR": "shr", "SWAP": "swap", "PID": "pid",
    "NTH": "threads", "NMIN": "minflt", "NMAJ": "majflt", "USED": "res",
}
#: interactive keys, as top's: M sorts by memory, N by PID
SORT_KEYS_INTERACTIVE = {"M": "res", "N": "pid"}
#: top's default delay, when -n is given without -d
DEFAULT_DELAY = 3.0


def EXPLAIN() -> str:
    """--explain (cli/main.py adds the option): the columns and concepts, from views/topics."""
    from memsleuth.views.top import process_columns
    from memsleuth.views.topics import column_fields, explain_text

    return explain_text(column_fields(process_columns(str, wide=True)), ("rss", "pss", "uss"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from memsleuth.analysis.processes import SORT_KEYS
    from memsleuth.cli.options import positive_count, positive_seconds

    parser.add_argument("--sort", "-s", choices=sorted(SORT_KEYS), default=None,
                        help="column to sort by, largest first (default: pss)")
    parser.add_argument("-o", "--sort-field", type=sort_field, metavar="FIELD",
                        help="sort by top's field name: %%MEM, RES, VIRT, SHR, SWAP, PID, nTH, nMin, "
                        "nMaj (or a --sort key); -o=-RES sorts smallest first")
    parser.add_argument("--limit", type=int, default=None,
                        help="rows to show (default 25; refreshing on a terminal: what fits)")
    parser.add_argument("-d", "--delay", type=positive_seconds, metavar="SECONDS",
                        help="refresh every SECONDS (as top -d); on a terminal in place, q quits")
    parser.add_argument("-n", "--iterations", type=positive_count, metavar="N",
                        help=f"stop after N iterations (as top -n; default delay {DEFAULT_DELAY:g} s)")
    parser.add_argument("-b", "--batch", action="store_true",
                        help="batch mode (as top -b): plain text per iteration, even on a terminal")
    parser.add_argument("--all", "-a", action="store_true", help="show every row")
    parser.add_argument("--user", "-u", help="only processes of this user (name or uid)")
    parser.add_argument("--pid", "-p", type=pid_list, action="append", metavar="PID[,PID...]",
                        help="only these PIDs (comma-separated, as top -p; repeatable)")
    parser.add_argument("--command", "-c", metavar="REGEX",
                        help="only processes whose command line matches REGEX")
    parser.add_argument("--kernel-threads", action="store_true",
                        help="include kernel threads (they have no user memory)")
    parser.add_argument("--wide", "-w", action="store_true",
                        help="add threads and minor/major fault counts")
    parser.add_argument("--group-by", "-g", choices=("command", "user", "cgroup"),
                        help="sum per command, user or cgroup, like smem -m/-u")


def sort_field(text: str) -> tuple[str, bool]:
    """``%MEM`` -> ("res", False); ``-RES`` -> ("res", True: smallest first); a --sort key is
    taken as it is."""
    import argparse as _argparse

    from memsleuth.analysis.processes import SORT_KEYS

    name, reverse = text, False
    if name[:1] in "+-" and len(name) > 1:
        name, reverse = name[1:], name[0] == "-"
    key = TOP_FIELDS.get(name.upper()) or (name.lower() if name.lower() in SORT_KEYS else None)
    if key is None:
        known = ", ".join(["%MEM", "RES", "VIRT", "SHR", "SWAP", "PID", "nTH", "nMin", "nMaj"])
        raise _argparse.ArgumentTypeError(f"unknown sort field {text!r} (top's names: {known}; "
                                          f"or one of {', '.join(sorted(SORT_KEYS))})")
    return key, reverse


def pid_list(text: str) -> list[int]:
    """``1,2`` -> [1, 2] (top -p)."""
    import argparse as _argparse

    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise _argparse.ArgumentTypeError(f"{text!r} is not a list of PIDs (e.g. 1,2)")
        out.append(int(part))
    return out


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
    from memsleuth.analysis.processes import SORT_KEYS, group_rows, process_rows, row_dict, sort_rows
    from memsleuth.errors import UsageError
    from memsleuth.snapshot.capture import DEFAULT_PROCESS_FILES
    from memsleuth.views.common import document
    from memsleuth.views.top import SCHEMA, process_json, render_frame, render_groups, render_processes

    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    rx = None
    if args.command:
        try:
            rx = re.compile(args.command)
        except re.error as exc:
            raise UsageError(f"--command: not a valid regular expression: {exc}") from None
    if args.sort is not None and args.sort_field is not None:
        raise UsageError("give --sort or -o, not both")
    sort, reverse = args.sort_field if args.sort_field is not None else (args.sort or "pss", False)
    state = Order(sort=sort, reverse=reverse)
    pids = {p for group in args.pid or () for p in group}
    files = (*DEFAULT_PROCESS_FILES, "cmdline")
    if args.group_by == "cgroup":
        files = (*files, "cgroup")
    user_of = UserNames(env.host().live)
    keyf = {
        "command": lambda r: r.comm,
        "user": lambda r: user_of(r.uid),
        "cgroup": lambda r: r.cgroup or "-",
    }.get(args.group_by or "")

    def take() -> Reading:
        snap = env.snapshot(cgroups=False, slab_sysfs=False, numa=False, process_files=files,
                            system_files=("proc/version", "proc/sys/kernel/hostname"))
        rows = process_rows(snap)
        if not args.kernel_threads:
            rows = [r for r in rows if not r.kernel_thread]
        if pids:
            rows = [r for r in rows if r.pid in pids]
        if args.user is not None:
            rows = [r for r in rows if user_of(r.uid) == args.user or str(r.uid) == args.user]
        if rx is not None:
            rows = [r for r in rows if rx.search(r.command) or rx.search(r.comm)]
        partial = [r for r in rows if "smaps_rollup" in r.unreadable]
        caption = None
        if partial:
            caption = (f"PSS/USS unknown for {len(partial)} of {len(rows)} processes: "
                       f"/proc/PID/smaps_rollup: {partial[0].unreadable['smaps_rollup']}")
        rows = sort_rows(rows, state.sort)
        if state.reverse:
            rows.reverse()
        return Reading(snap=snap, rows=rows, partial=len(partial), caption=caption)

    def doc_of(got: Reading, limit: int | None) -> dict[str, object]:
        snap = got.snap
        if keyf is not None:
            groups = group_rows(got.rows, keyf)
            return document(SCHEMA, snap.meta, env.host().label, group_by=args.group_by,
                            groups=[row_dict(g) for g in groups[:limit]],
                            processes_vanished=snap.processes_vanished, processes_partial=got.partial)
        return document(SCHEMA, snap.meta, env.host().label, sort=state.sort,
                        processes=[process_json(r) for r in got.rows[:limit]],
                        total_processes=len(got.rows), processes_vanished=snap.processes_vanished,
                        processes_partial=got.partial)

    repeating = env.host().live and (args.delay is not None or (args.iterations or 1) > 1)
    interval = args.delay if args.delay is not None else DEFAULT_DELAY
    if repeating:
        from memsleuth.views.live import run_live, ticks

        if env.json:
            for _ in ticks(interval, args.iterations):
                env.emit_json_line(doc_of(take(), None if args.all else args.limit or 25))
            return 0
        live = env.console.is_terminal and not args.batch

        def limit_now() -> int | None:
            if args.all:
                return None
            if args.limit is not None:
                return int(args.limit)
            return max(env.console.height - 6, 5) if live else 25

        def frame() -> RenderableType:
            got = take()
            return render_frame(got.rows, user_of, group_by=args.group_by, keyf=keyf,
                                sort=state.sort, reverse=state.reverse,
                                limit=limit_now(), wide=args.wide, caption=got.caption,
                                vanished=got.snap.processes_vanished, at=got.snap.started_at,
                                hints=live)

        if not live:
            for n in ticks(interval, args.iterations):
                if n:
                    env.console.print()
                env.console.print(frame(), crop=env.console.is_terminal)
            return 0
        order: list[str] = [k for k in ("pss", "uss", "res", "virt", "shr", "swap", "threads", "minflt",
                             "majflt", "pid") if k in SORT_KEYS]

        def on_key(key: str) -> bool:
            if key in SORT_KEYS_INTERACTIVE:
                state.sort, state.reverse = SORT_KEYS_INTERACTIVE[key], False
                return True
            if key in "<>" and state.sort in order:
                i = order.index(state.sort) + (1 if key == ">" else -1)
                state.sort, state.reverse = order[i % len(order)], False
                return True
            if key == "R":
                state.reverse = not state.reverse
                return True
            return False

        run_live(frame, console=env.console, interval=interval, count=args.iterations, on_key=on_key)
        return 0

    got = take()
    snap, rows = got.snap, got.rows
    limit = None if args.all else args.limit or 25
    if env.json:
        env.emit_json(doc_of(got, limit))
        return 0
    vanished = snap.processes_vanished
    if keyf is not None:
        env.console.print(render_groups(group_rows(rows, keyf)[:limit], args.group_by),
                          crop=env.console.is_terminal)
        if got.caption:
            env.note(got.caption)
        return 0
    if not rows:
        env.note("no processes matched" if snap.processes else
                 "no processes in this snapshot (a bundle or root without proc/PID)")
        return 0
    shown = rows[:limit]
    env.console.print(render_processes(shown, user_of, None, wide=args.wide), crop=env.console.is_terminal)
    if got.caption:
        env.note(got.caption)
    if len(shown) < len(rows):
        env.console.print(f"({len(rows) - len(shown)} more; --all to show them)", style="dim")
    if vanished:
        env.note(f"{vanished} processes exited while they were being read and are not shown")
    return 0


@dataclass(slots=True)
class Order:
    """The sort order of a refreshing view (keys change it)."""

    sort: str
    reverse: bool


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of the process table, filtered and sorted."""

    snap: Snapshot
    rows: list[ProcessRow]
    partial: int
    caption: str | None
