"""Entry point: pick the subcommand, import only it, map errors to exit codes.

Exit status (stable, documented in the README):

* 0 - success, or a healthy ``diagnose``;
* 1 - ``diagnose`` found something;
* 2 - an error the user can act on (bad arguments, bad bundle, missing file);
* 70 - a bug in memsleuth (an unexpected exception);
* 130 - interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_BUG = 70
EXIT_INTERRUPTED = 130

#: name -> (module, one-line summary).  Modules are imported only when chosen,
#: so ``memsleuth record`` never pays for rich or numpy.
COMMANDS: dict[str, tuple[str, str]] = {
    "status": ("memsleuth.cli.commands.status", "the first screen: usage, buckets, growers, pressure"),
    "free": ("memsleuth.cli.commands.free", "procps free, plus the CentOS 6 legacy definition"),
    "meminfo": ("memsleuth.cli.commands.meminfo", "every meminfo field, grouped, and the accounting tree"),
    "vmstat": ("memsleuth.cli.commands.vmstat", "vmstat(8) columns; --mem adds slab/dentry/fault rates"),
    "slab": ("memsleuth.cli.commands.slab", "slabtop: caches by size, aliases, waste, growth"),
    "top": ("memsleuth.cli.commands.top", "per process VIRT RES SHR PSS USS SWAP; group like smem"),
    "ps": ("memsleuth.cli.commands.ps", "procps ps -o/--sort/-C/-p with rss, pss, uss (KiB, as ps)"),
    "smaps": ("memsleuth.cli.commands.smaps", "per-mapping memory of one process (pmap -X style)"),
    "maps": ("memsleuth.cli.commands.maps", "process layout: text, data, bss, heap, stack, libs"),
    "translate": ("memsleuth.cli.commands.translate", "virtual address -> page tables -> PFN, flags, node"),
    "faults": ("memsleuth.cli.commands.faults", "page fault rates, demand paging, copy-on-write"),
    "numa": ("memsleuth.cli.commands.numa", "NUMA nodes, CPUs, memory per node, process spread"),
    "buddy": ("memsleuth.cli.commands.buddy", "free blocks per order, fragmentation, order-N check"),
    "capture": ("memsleuth.cli.commands.capture", "write a bundle of every raw file a diagnosis needs"),
    "record": ("memsleuth.cli.commands.record", "record snapshots into the history store (a daemon)"),
    "trace": ("memsleuth.cli.commands.trace", "tracefs: who allocates a slab cache, who fails lookups"),
    "reclaim": ("memsleuth.cli.commands.reclaim", "drop_caches dry run; --yes drops and measures"),
    "diagnose": ("memsleuth.cli.commands.diagnose", "what grows: leaks and unbounded caches, from history"),
    "exporter": ("memsleuth.cli.commands.exporter", "Prometheus /metrics (loopback), or a textfile"),
    "fleet": ("memsleuth.cli.commands.fleet", "rank a fleet's hosts by leak and time to 90% via Prometheus"),
    "rules": ("memsleuth.cli.commands.rules", "print Prometheus alert rules that see growth, not thresholds"),
    "report": ("memsleuth.cli.commands.report", "a self-contained HTML report with charts"),
    "help": ("memsleuth.cli.commands.help", "the concepts: buckets, reclaimable slab, dentries, PSS"),
}

DESCRIPTION = """\
memsleuth: from a memory alarm to its root cause.

Every command reads the live host, or a captured bundle / directory with
--root, and prints a table (or --json).  Run 'memsleuth COMMAND --help' for
each command's options and an example.
"""


class Command(Protocol):
    HELP: str
    EXAMPLES: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, env: object) -> int: ...


def _global_options(parser: argparse.ArgumentParser, *, multi_root: bool = False) -> None:
    if multi_root:
        # a command reading a series of roots (MULTI_ROOT = True) gets them in args.roots
        parser.add_argument(
            "--root", dest="roots", nargs="+", metavar="PATH",
            help="bundles and/or directories shaped like /, read in capture-time order",
        )
    else:
        parser.add_argument(
            "--root",
            metavar="PATH",
            help="read a bundle (.tar.gz from 'memsleuth capture') or a directory shaped like / "
            "instead of the live host",
        )
    parser.add_argument("--json", action="store_true", help="print JSON (schema in docs/json.md)")
    parser.add_argument("--no-color", action="store_true", help="plain output without colour")


def _top_parser() -> argparse.ArgumentParser:
    epilog = "commands:\n" + "\n".join(
        f"  {name:<9} {summary}" for name, (_, summary) in COMMANDS.items()
    )
    epilog += "\n\nexamples:\n  memsleuth\n  memsleuth free -h -w\n  memsleuth --root x.tar.gz meminfo"
    parser = argparse.ArgumentParser(
        prog="memsleuth",
        description=DESCRIPTION,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser)
    parser.add_argument("--version", action="version", version=_version())
    return parser


def _version() -> str:
    from memsleuth.version import __version__

    return f"memsleuth {__version__}"


def _split_command(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """Find the subcommand among argv, skipping global options and their values."""
    takes_value = {"--root"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in takes_value:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return arg, [*argv[:i], *argv[i + 1 :]]
    return None, list(argv)


def build_command_parser(name: str, module: Command) -> argparse.ArgumentParser:
    # free's -h means --human, as in procps; it adds its own --help
    own_help = name == "free"
    parser = argparse.ArgumentParser(
        prog=f"memsleuth {name}",
        description=module.HELP,
        epilog="examples:\n" + module.EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=not own_help,
    )
    _global_options(parser, multi_root=bool(getattr(module, "MULTI_ROOT", False)))
    module.add_arguments(parser)
    if getattr(module, "EXPLAIN", None) is not None:
        parser.add_argument("--explain", action="store_true",
                            help="after the output, what each column and concept means, in plain words")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name, rest = _split_command(argv)
    try:
        # argparse exits on --help and on a usage error: an in-process caller gets the status back
        if name is None:
            if any(a in ("-h", "--help", "--version") for a in rest):
                _top_parser().parse_args(rest)
                return EXIT_OK
            name = "status"
        if name not in COMMANDS:
            _top_parser().error(f"unknown command {name!r} (see 'memsleuth --help')")
        module: Command = importlib.import_module(COMMANDS[name][0])
        args = build_command_parser(name, module).parse_args(rest)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    args.subcommand = name

    from memsleuth.cli.env import Env
    from memsleuth.errors import MemsleuthError

    env = Env(args)
    try:
        code = module.run(args, env)
        explain = getattr(module, "EXPLAIN", None)
        if explain is not None and getattr(args, "explain", False) and not env.json and code in (0, 1):
            # one text: the same topics 'memsleuth help' prints
            env.console.print()
            env.console.print(explain(), crop=env.console.is_terminal, markup=False, highlight=False)
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # output piped into head(1): not an error
        sys.stderr.close()
        return EXIT_OK
    except MemsleuthError as exc:
        env.error(str(exc))
        return EXIT_ERROR
    except Exception as exc:  # the one place that catches everything
        import traceback

        traceback.print_exc()
        env.error(f"internal error ({exc.__class__.__name__}): this is a bug in memsleuth")
        return EXIT_BUG
