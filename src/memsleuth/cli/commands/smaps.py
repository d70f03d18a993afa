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
  memsleuth smaps 1234 0x7f3a2c000000
  memsleuth smaps 1234 --json
  memsleuth smaps 1234 --explain"""

SORTS = ("address", "size", "rss", "pss", "swap")


def _address(text: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a hexadecimal address") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: an address is not negative")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", type=int, help="process id")
    parser.add_argument("address", nargs="?", type=_address,
                        help="only the mapping that holds this address (hex, 0x optional)")
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
    if args.address is not None:
        from memsleuth.errors import UsageError

        maps = [m for m in maps if m.start <= args.address < m.end]
        if not maps:
            raise UsageError(f"no mapping of process {args.pid} holds {args.address:#x}")
    key = {"size": "Size", "rss": "Rss", "pss": "Pss", "swap": "Swap"}.get(args.sort)
    if key:
        maps.sort(key=lambda m: -m.raw.get(key, 0))
    command = sample.cmdline() or f"[{sample.comm}]"
    if env.json:
        env.emit_json(document(SCHEMA, host.meta, host.label, **smaps_json(args.pid, command, maps, rollup)))
    else:
        env.console.print(render_smaps(args.pid, command, maps,
                                       # one mapping's totals are not the process's
                                       rollup if args.address is None else None, wide=args.wide,
                                       explain=args.explain),
                          crop=env.console.is_terminal)
    return 0
