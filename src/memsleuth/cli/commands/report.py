"""``memsleuth report -o FILE.html``: the diagnosis and its history as one self-contained page."""

from __future__ import annotations

import argparse
import os
import sys

from memsleuth.cli.env import Env
from memsleuth.cli.options import add_history_arguments
from memsleuth.errors import UsageError

#: this command's --root takes a list (cli/main.py puts it in args.roots)
MULTI_ROOT = True

HELP = """\
Write one self-contained HTML file (no network needed to open it: the charts
are inline SVG, the style and a few lines of tooltip script are inlined):
the verdict; where the memory is at the last sample (the buckets that add
up to MemTotal, and the unaccounted gap); each finding with its chart, the
growth fit from its onset and when the host crosses 80% and 90%; the root
cause (the signature, its evidence, the chain cache -> cgroup -> process ->
library -> environment key, the fix and the stop-gap with its safety note);
history charts of the buckets, the largest slab caches, processes and
cgroups; and what the data covers (gaps, series that start or stop).

Reads what 'memsleuth diagnose' reads: the store (--db; the default store
if it exists), a series of bundles or roots (--root B1 B2 ...) or the live
host (--watch DURATION --interval S), with --since.  Each chart has at most
600 points a series (time-bucket medians), so 30 days of 10 s samples make
a page of a few hundred kB.  Command lines are shown in full unless
--redact (command names only).  Exit status: 0 written, 2 error (too little
data for a trend is an error, as for diagnose).

--fleet FILE renders a saved 'memsleuth fleet --json' result instead (or
'-' for standard input): the ranked hosts, the groups of hosts with the same
growth, the drain list and what the data covered."""

EXAMPLES = """\
  memsleuth report -o /tmp/report.html                  # the default store
  memsleuth report --db /tmp/m.db --since 2d -o web1.html --redact
  memsleuth report --root /srv/bundles/web1-*.tar.gz -o web1.html
  memsleuth report --watch 5m --interval 5 -o now.html --json
  memsleuth fleet --prometheus http://prom:9090 --json | memsleuth report --fleet - -o fleet.html"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="FILE.html",
                        help="the HTML file to write ('-' for standard output)")
    add_history_arguments(parser, then="report")
    parser.add_argument("--redact", action="store_true",
                        help="show processes by command name only, without their command lines")
    parser.add_argument("--fleet", metavar="FILE",
                        help="render a 'memsleuth fleet --json' result ('-': standard input) instead of "
                        "one host's diagnosis")


def run(args: argparse.Namespace, env: Env) -> int:
    import time

    from memsleuth.cli.commands.record import DEFAULT_DB
    from memsleuth.collect.diagnosis import SourceRequest, open_source
    from memsleuth.collect.rules import load_rules
    from memsleuth.knowledge.report import DiagnosisOptions, run_diagnosis
    from memsleuth.report import HtmlOptions, render_html, report_json
    from memsleuth.version import __version__

    if not 0.0 <= args.min_confidence <= 1.0:
        raise UsageError("--min-confidence must be between 0 and 1")
    out = args.output
    if out != "-" and os.path.isdir(out):
        raise UsageError(f"-o {out}: is a directory; give a file name")
    if out == "-" and env.json:
        raise UsageError("--json prints a summary on standard output: give -o FILE.html, not -o -")
    if args.fleet is not None:
        return _fleet_page(args, env, out)
    req = SourceRequest(db=args.db, roots=getattr(args, "roots", None) or (), watch=args.watch,
                        interval=args.interval, since=args.since, default_db=DEFAULT_DB)
    rules = load_rules(args.rules)
    for err in rules.errors:
        env.error(f"rule file skipped: {err}")
    for o in rules.overrides:
        env.note(o)
    source = open_source(req)
    report = run_diagnosis(source, DiagnosisOptions(rules=rules, min_confidence=args.min_confidence))
    if report.insufficient is not None:
        raise UsageError(report.insufficient)
    # the footer names how the page was made (the command name, not this interpreter's path)
    command = " ".join(["memsleuth", "report", *sys.argv[2:]]) if sys.argv[1:2] == ["report"] else ""
    rendered = render_html(report, HtmlOptions(redact=args.redact, generated_at=time.time(), command=command,
                                               version=__version__))
    _write(out, rendered.html, env)
    if env.json:
        env.emit_json(dict(report_json(rendered, os.path.abspath(out))))
    elif out != "-":
        size = len(rendered.html.encode()) / 1024
        print(f"memsleuth: wrote {out} ({size:,.0f} kB, {rendered.charts} charts)", file=env.stderr)
    return 0


def _fleet_page(args: argparse.Namespace, env: Env, out: str) -> int:
    import json
    import time

    from memsleuth.report import report_json
    from memsleuth.report.fleet import render_fleet_html
    from memsleuth.version import __version__

    if args.db or getattr(args, "roots", None) or args.watch is not None:
        raise UsageError("--fleet renders a fleet result: not with --db, --root or --watch")
    try:
        if args.fleet == "-":
            text = sys.stdin.read()
        else:
            with open(args.fleet, encoding="utf-8") as fh:
                text = fh.read()
        doc = json.loads(text)
        rendered = render_fleet_html(doc, generated_at=time.time(), version=__version__,
                                     command=f"memsleuth report --fleet {args.fleet}")
    except OSError as exc:
        raise UsageError(f"cannot read {args.fleet}: {exc.strerror or exc}") from None
    except (ValueError, AttributeError, TypeError) as exc:
        raise UsageError(f"{args.fleet}: not a 'memsleuth fleet --json' result ({exc})") from None
    _write(out, rendered.html, env)
    if env.json:
        env.emit_json(dict(report_json(rendered, os.path.abspath(out))))
    elif out != "-":
        print(f"memsleuth: wrote {out} ({len(rendered.html.encode()) / 1024:,.0f} kB)", file=env.stderr)
    return 0


def _write(out: str, html: str, env: Env) -> None:
    """The page to ``out`` (atomically: a temporary file renamed into place), or to stdout for '-'."""
    if out == "-":
        env.stdout.write(html)
        env.stdout.flush()
        return
    tmp = f"{out}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.replace(tmp, out)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


__all__ = ["EXAMPLES", "HELP", "MULTI_ROOT", "add_arguments", "run"]
