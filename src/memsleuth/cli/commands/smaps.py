"""``memsleuth smaps PID``."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
Memory of one process, one row per mapping (like pmap -X): size, RSS, PSS,
private dirty/clean, shared, anonymous and swap, with totals checked against
/proc/PID/smaps_rollup.  Another user's process needs root."""

EXAMPLES = """\
  memsleuth smaps $(pidof nginx | cut -d' ' -f1)
  memsleuth smaps 1234 --sort rss --wide
  memsleuth smaps 1234 --json
  memsleuth smaps 1234 --explain"""

SORTS = ("address", "size", "rss", "pss", "swap")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", type=int, help="process id")
    parser.add_argument("--sort", choices=SORTS, default="address",
                        help="order of the rows (default: address)")
    parser.add_argument("--wide", "-w", action="store_true", help="more columns")
    parser.add_argument("--explain", action="store_true",
                        help="say what each column means, in plain words")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.cli.commands._process import read_address_space
    from memsleuth.sources.smaps import parse_smaps, parse_smaps_rollup
    from memsleuth.views.common import document
    from memsleuth.views.smaps import SCHEMA, render_smaps, smaps_json

    host = env.host()
    sample = read_address_space(host, args.pid, "smaps", ("smaps_rollup", "cmdline"))
    maps = list(parse_smaps(sample.files["smaps"].decode("utf-8", "replace")))
    rollup_text = sample.text("smaps_rollup")
    rollup = parse_smaps_rollup(rollup_text) if rollup_text else None
    key = {"size": "Size", "rss": "Rss", "pss": "Pss", "swap": "Swap"}.get(args.sort)
    if key:
        maps.sort(key=lambda m: -m.raw.get(key, 0))
    command = sample.cmdline() or f"[{sample.comm}]"
    if env.json:
        env.emit_json(document(SCHEMA, host.meta, host.label, **smaps_json(args.pid, command, maps, rollup)))
    else:
        env.console.print(render_smaps(args.pid, command, maps, rollup, wide=args.wide,
                                       explain=args.explain),
                          crop=env.console.is_terminal)
    return 0
