"""``memsleuth ps``: procps ps's -o/--sort/-C/-p/-u over memsleuth's process rows."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
Processes, as 'ps -e -o FIELDS' lists them, with procps's field names and
units (KiB): pid, ppid, user, uid, rss, vsz, pss, uss, shr, swap, nlwp,
min_flt, maj_flt, %mem, s, comm, args.  --sort takes procps's keys, a
leading - for descending (--sort=-rss); -C selects by command name, -p by
PID, -u by user.  Every process is listed, kernel threads included (ps -e).
PSS and USS of another user's process need root; they show '-' otherwise."""

EXAMPLES = """\
  memsleuth ps --sort=-rss -o pid,rss,pss,uss,comm
  memsleuth ps -C nginx,php-fpm -o pid,pss,args
  memsleuth ps -p 1,2 --json
  memsleuth ps --sort=-pss --explain"""


def _list(text: str) -> list[str]:
    items = [t for t in text.replace(" ", ",").split(",") if t]
    if not items:
        raise argparse.ArgumentTypeError(f"{text!r}: an empty list")
    return items


def _pids(text: str) -> list[int]:
    try:
        pids = [int(t) for t in _list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of process ids") from None
    if any(p < 1 for p in pids):
        raise argparse.ArgumentTypeError(f"{text!r}: a process id is at least 1")
    return pids


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-e", "-A", dest="every", action="store_true",
                        help="every process (the default; accepted for ps compatibility)")
    parser.add_argument("-o", "--format", dest="format", action="append", metavar="FIELDS",
                        help="fields to show, comma separated, procps names (pid=TITLE renames)")
    parser.add_argument("--sort", "-k", action="append", metavar="KEYS",
                        help="sort keys, comma separated; -key descending (--sort=-rss)")
    parser.add_argument("-C", dest="commands", action="append", type=_list, metavar="NAMES",
                        help="only processes whose command name (comm) is one of NAMES")
    parser.add_argument("-p", "--pid", dest="pids", action="append", type=_pids, metavar="PIDS",
                        help="only these process ids (1,2,3)")
    parser.add_argument("-u", "--user", dest="users", action="append", type=_list, metavar="USERS",
                        help="only processes of these users (names or uids)")
    parser.add_argument("--no-headers", action="store_true", help="print no header line")
    parser.add_argument("--explain", action="store_true",
                        help="say what each column means, in plain words")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.processes import process_rows
    from memsleuth.cli.commands.top import UserNames
    from memsleuth.snapshot.capture import DEFAULT_PROCESS_FILES
    from memsleuth.sources.meminfo import parse_meminfo
    from memsleuth.views.common import document
    from memsleuth.views.ps import (
        DEFAULT_FIELDS,
        SCHEMA,
        explain_ps,
        fields,
        parse_format,
        parse_sort,
        ps_json,
        ps_row,
        render_ps,
        sort_rows,
    )

    user_of = UserNames(env.host().live)
    known = fields(user_of)
    chosen = parse_format(args.format or [",".join(DEFAULT_FIELDS)], known)
    order = parse_sort(args.sort or [], known)
    snap = env.snapshot(cgroups=False, slab_sysfs=False, numa=False,
                        process_files=(*DEFAULT_PROCESS_FILES, "cmdline"),
                        system_files=("proc/meminfo", "proc/version", "proc/sys/kernel/hostname"))
    meminfo = snap.parse("proc/meminfo", parse_meminfo)
    total = None if meminfo is None else meminfo.mem_total_bytes
    rows = sorted(process_rows(snap), key=lambda r: r.pid)
    if args.pids:
        wanted = {p for group in args.pids for p in group}
        rows = [r for r in rows if r.pid in wanted]
    if args.commands:
        names = {n for group in args.commands for n in group}
        rows = [r for r in rows if r.comm in names]
    if args.users:
        users = {u for group in args.users for u in group}
        rows = [r for r in rows if user_of(r.uid) in users or str(r.uid) in users]
    dict_rows = sort_rows([ps_row(r, total) for r in rows], order)
    if env.json:
        env.emit_json(document(SCHEMA, snap.meta, env.host().label,
                               fields=[c.field.name for c in chosen],
                               sort=[("-" if d else "") + f.name for f, d in order],
                               processes=ps_json(chosen, dict_rows),
                               processes_vanished=snap.processes_vanished))
        return 0
    if dict_rows:
        env.console.print(render_ps(chosen, dict_rows, headers=not args.no_headers),
                          crop=env.console.is_terminal)
    if args.explain:
        env.console.print()
        env.console.print(explain_ps(chosen), crop=env.console.is_terminal, markup=False,
                          highlight=False)
    # procps: exit 1 when nothing matched a selection
    return 0 if dict_rows or not (args.pids or args.commands or args.users) else 1
