"""``memsleuth maps PID``."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
The layout of one process: every mapping of /proc/PID/smaps put in a class
(text, rodata, data, bss, heap, stack, thread stacks, anonymous mmap, file
mmap, shared libraries grouped per library, guard pages, vdso) with its
virtual size, RSS, PSS, swap and mapping count.  --explain relates each
class to the program's variables with this process's numbers.  Another
user's process needs root; works on a bundle or directory with --root when
it holds proc/PID/smaps."""

EXAMPLES = """\
  memsleuth maps $$
  memsleuth maps 1234 --explain
  memsleuth maps 1234 --libs 20
  memsleuth maps 1234 --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", type=int, help="process id")
    parser.add_argument("--explain", action="store_true",
                        help="relate each class to the program's variables, in plain words")
    parser.add_argument("--libs", type=int, default=8, metavar="N",
                        help="libraries listed under 'shared libs' (default 8; JSON has all)")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.layout import classify
    from memsleuth.cli.commands._process import read_address_space
    from memsleuth.errors import AccessDenied, ProcessGone, SourceMissing
    from memsleuth.sources.smaps import parse_smaps
    from memsleuth.views.common import document
    from memsleuth.views.maps import SCHEMA, layout_json, render_layout

    host = env.host()
    sample = read_address_space(host, args.pid, "smaps", ("cmdline",))
    maps = parse_smaps(sample.files["smaps"].decode("utf-8", "replace"))
    if not maps:
        raise ProcessGone(args.pid)  # empty smaps of a live task: its mm went away
    exe: str | None
    try:
        exe = host.readlink(f"proc/{args.pid}/exe")
    except (AccessDenied, SourceMissing, ProcessGone):
        exe = None
    if exe is not None:
        exe = exe.removesuffix(" (deleted)")
    layout = classify(maps, exe)
    command = sample.cmdline() or f"[{sample.comm}]"
    if env.json:
        env.emit_json(document(SCHEMA, host.meta, host.label, **layout_json(args.pid, command, layout)))
    else:
        env.console.print(render_layout(args.pid, command, layout, libraries=max(args.libs, 0),
                                        explain=args.explain), crop=env.console.is_terminal)
    return 0
