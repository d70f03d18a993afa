"""``memsleuth diagnose``: what grows, from the store, a series of roots, or a live watch."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.cli.options import parse_duration, parse_since
from memsleuth.errors import UsageError

if TYPE_CHECKING:


    from memsleuth.collect.history import OnSample
    from memsleuth.snapshot.model import Snapshot

#: this command's --root takes a list (cli/main.py puts it in args.roots)
MULTI_ROOT = True

HELP = """\
Find what grows: every meminfo field and vmstat counter, every slab cache,
dentry-state, inode-nr, sockstat, each cgroup's memory.stat and each
process's PSS, RssAnon, threads and VmPTE.  Each finding names the subject,
its rate per hour, when the growth began, its class (leak, unbounded
reclaimable cache, or bounded when it levelled off), a confidence, the
numbers behind it, and the time to 80%, 90% and OOM with a range.  Healthy
churn (page cache, GC sawtooth) is not reported.

Reads one of: the store written by 'memsleuth record' (--db; the default
store if it exists), a series of bundles or root directories (--root B1 B2
...; a bare directory's time is the mtime of its proc/meminfo), or the live
host sampled in-process every --interval seconds for DURATION (--watch).
A trend needs at least 8 samples over 2 minutes (the detector's minimum);
less is an error, not "healthy".

Then the growth is matched against the signature rules (built in, plus
--rules DIR and $MEMSLEUTH_RULES): each match names the cause, the cache,
cgroup, process, library and setting behind it, the fix, a safe stop-gap
and what it would free.  --trace SECONDS confirms a growing slab cache on
the live host with tracefs (root; every tracing setting is restored): who
allocates it and, for dentries, who makes failed path lookups, which names
short-lived processes (a probe started every few seconds) by command and
parent.  Exit status: 0 healthy, 1 findings, 2 error."""

EXAMPLES = """\
  memsleuth diagnose                              # the default store
  memsleuth diagnose --db /tmp/m.db --since 6h
  memsleuth diagnose --root /srv/bundles/web1-*.tar.gz
  memsleuth diagnose --watch 5m --interval 5
  memsleuth diagnose --watch 3m --interval 2 --json
  memsleuth diagnose --watch 3m --interval 2 --trace 5   # as root: confirm with tracefs
  memsleuth diagnose --root b1.tar.gz b2.tar.gz --rules /etc/memsleuth/rules"""

def add_arguments(parser: argparse.ArgumentParser) -> None:
    from memsleuth.cli.commands.record import DEFAULT_DB

    parser.add_argument("--db", metavar="PATH",
                        help=f"the store written by 'memsleuth record' (default {DEFAULT_DB} if it exists)")
    parser.add_argument("--watch", type=parse_duration, metavar="DURATION",
                        help="sample the live host in-process for DURATION (2m, 5m, 1h; at least 2m), "
                        "then diagnose")
    parser.add_argument("--interval", type=parse_duration, default=5.0, metavar="SECONDS",
                        help="seconds between --watch samples (default 5)")
    parser.add_argument("--since", type=parse_since, metavar="WHEN",
                        help="only the last DURATION (6h, 2d; before the last sample for --root) "
                        "or since a date and time (2025-01-31T12:00)")
    parser.add_argument("--min-confidence", type=float, default=0.0, metavar="X",
                        help="report only findings with confidence >= X (0..1; default 0)")
    parser.add_argument("--limit", "-n", type=int, default=20, metavar="N",
                        help="show at most N findings (default 20; the exit status counts all)")
    parser.add_argument("--rules", action="append", default=[], metavar="DIR",
                        help="also load signature rules (*.toml) from DIR; repeatable "
                        "(also $MEMSLEUTH_RULES); a bad file is reported and skipped")
    parser.add_argument("--trace", type=parse_duration, metavar="SECONDS",
                        help="live host, root: after the watch, trace each growing slab cache (and "
                        "failed path lookups when dentries grow) for SECONDS to name who fills it")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.cli.commands.record import DEFAULT_DB
    from memsleuth.collect.diagnosis import SourceRequest, live_tracer, open_source
    from memsleuth.collect.rules import load_rules
    from memsleuth.knowledge.report import DiagnosisOptions, run_diagnosis
    from memsleuth.trace.tracefs import TraceStopped

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise UsageError("--min-confidence must be between 0 and 1")
    req = SourceRequest(db=args.db, roots=getattr(args, "roots", None) or (), watch=args.watch,
                        interval=args.interval, since=args.since, default_db=DEFAULT_DB,
                        trace_seconds=args.trace)
    rules = load_rules(args.rules)
    for err in rules.errors:
        env.error(f"rule file skipped: {err}")
    for o in rules.overrides:
        env.note(o)
    tracer = None
    if args.trace is not None:
        def on_start(what: str) -> None:
            if not env.json:
                print(f"memsleuth: tracing {what} for {args.trace:g} s", file=env.stderr, flush=True)

        tracer = live_tracer(args.trace, on_start=on_start, on_note=env.note, on_error=env.error)
    progress = None if env.json or args.watch is None else _progress(env)
    source = open_source(req, on_sample=progress, tracer=tracer)
    if progress is not None and env.stderr.isatty():
        print(file=env.stderr, flush=True)
    try:
        report = run_diagnosis(source, DiagnosisOptions(rules=rules, min_confidence=args.min_confidence))
    except TraceStopped as stop:  # SIGTERM (SIGINT ends a trace early and keeps its counts)
        env.error(f"stopped by {stop} while tracing; tracing state restored")
        return 128 + stop.signum
    if report.insufficient is not None:
        raise UsageError(report.insufficient)
    if env.json:
        env.emit_json(report.to_json(limit=args.limit))
    else:
        from memsleuth.views.diagnosis import render_report

        env.console.print(render_report(report, limit=args.limit, width=min(env.console.width, 100) - 1))
    return 0 if report.healthy else 1


def _progress(env: Env) -> OnSample:
    tty = env.stderr.isatty()

    def on_sample(n: int, expected: int, snap: Snapshot) -> None:
        msg = f"memsleuth: watching, sample {n}/{expected}"
        print(f"\r{msg}" if tty else msg, end="" if tty else "\n", file=env.stderr, flush=True)

    return on_sample


__all__ = ["EXAMPLES", "HELP", "MULTI_ROOT", "add_arguments", "run"]
