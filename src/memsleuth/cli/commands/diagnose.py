"""``memsleuth diagnose``: what grows, from the store, a series of roots, or a live watch."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.cli.interrupt import first_interrupt_stops
from memsleuth.cli.options import add_history_arguments, parse_duration
from memsleuth.errors import UsageError

if TYPE_CHECKING:

    from memsleuth.analysis.glance import Glance
    from memsleuth.collect.history import OnSample
    from memsleuth.views.live import Progress

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
parent.  Exit status: 0 healthy, 1 findings, 2 error.

With no store, no --db, --root or --watch, it answers at once with what
one snapshot shows ("now (one snapshot)": what is large, what is
suspicious), then watches the live host for the detector's minimum of 2
minutes and prints the trend ("trend (2 min watch)"); exit 1 if either
part found something.  During a watch, a progress line is shown on stderr
when it is a terminal; Ctrl-C stops the watch and diagnoses the samples
taken so far (too few: says how many, exit 2); a second Ctrl-C aborts."""

EXAMPLES = """\
  memsleuth diagnose                              # the default store; none: now, then a 2 min watch
  memsleuth diagnose --db /tmp/m.db --since 6h
  memsleuth diagnose --root /srv/bundles/web1-*.tar.gz
  memsleuth diagnose --watch 5m --interval 5
  memsleuth diagnose --watch 3m --interval 2 --json
  memsleuth diagnose --watch 3m --interval 2 --trace 5   # as root: confirm with tracefs
  memsleuth diagnose --root b1.tar.gz b2.tar.gz --rules /etc/memsleuth/rules"""

def EXPLAIN() -> str:
    """--explain (cli/main.py adds the option): the columns and concepts, from views/topics."""
    from memsleuth.views.topics import explain_text

    return explain_text((), ("reclaimable-slab", "negative-dentries", "memavailable", "unaccounted", "pss"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_history_arguments(parser, then="diagnose")
    parser.add_argument("--limit", "-n", type=int, default=20, metavar="N",
                        help="show at most N findings (default 20; the exit status counts all)")
    parser.add_argument("--trace", type=parse_duration, metavar="SECONDS",
                        help="live host, root: after the watch, trace each growing slab cache (and "
                        "failed path lookups when dentries grow) for SECONDS to name who fills it")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.cli.commands.record import DEFAULT_DB
    from memsleuth.collect.diagnosis import (
        SourceRequest,
        check_request,
        live_tracer,
        open_source,
        without_history,
    )
    from memsleuth.collect.rules import load_rules
    from memsleuth.knowledge.report import DiagnosisOptions, run_diagnosis
    from memsleuth.trace.tracefs import TraceStopped
    from memsleuth.views.live import Progress

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise UsageError("--min-confidence must be between 0 and 1")
    roots = getattr(args, "roots", None) or ()
    req = SourceRequest(db=args.db, roots=roots, watch=args.watch, interval=args.interval,
                        since=args.since, default_db=DEFAULT_DB, trace_seconds=args.trace)
    # no history anywhere: answer now from one snapshot, then watch for the trend
    req, no_store = without_history(req)
    check_request(req)  # before the snapshot, the watch or any trace
    rules = load_rules(args.rules)
    for err in rules.errors:
        env.error(f"rule file skipped: {err}")
    for o in rules.overrides:
        env.note(o)
    now: Glance | None = None
    if no_store is not None:
        now = _glance_now(env, no_store, req.watch or 0.0)
    tracer = None
    if args.trace is not None:
        def on_start(what: str) -> None:
            if not env.json:
                print(f"memsleuth: tracing {what} for {args.trace:g} s", file=env.stderr, flush=True)

        tracer = live_tracer(args.trace, on_start=on_start, on_note=env.note, on_error=env.error)
    stop = threading.Event()
    watching = req.watch is not None
    show = watching and not env.json and env.stderr.isatty()
    with Progress(env.stderr, enabled=show) as progress, \
            first_interrupt_stops(stop, env.stderr, enabled=watching):
        source = open_source(req, on_sample=_progress(progress, req.interval, req.watch or 0.0),
                             tracer=tracer, stop=stop, glance=now, no_store=no_store)
    interrupted = source.interrupted
    if interrupted and tracer is not None:
        env.note("no trace after a watch stopped by Ctrl-C")
    try:
        report = run_diagnosis(source, DiagnosisOptions(rules=rules, min_confidence=args.min_confidence))
    except TraceStopped as stop_:  # SIGTERM (SIGINT ends a trace early and keeps its counts)
        env.error(f"stopped by {stop_} while tracing; tracing state restored")
        return 128 + stop_.signum
    if report.insufficient is not None:
        if interrupted:
            from memsleuth.analysis.series import sample_count

            n = sample_count(source.history)
            raise UsageError(f"stopped by Ctrl-C after {n} sample{'s' if n != 1 else ''}: "
                             f"{report.insufficient}")
        raise UsageError(report.insufficient)
    if interrupted and not env.json:
        env.note(f"the watch was stopped by Ctrl-C: diagnosed the {report.coverage.samples} samples taken")
    if env.json:
        env.emit_json(report.to_json(limit=args.limit))
    else:
        from memsleuth.views.diagnosis import render_report

        if now is not None:
            from rich.text import Text

            minutes = (req.watch or 0.0) / 60.0
            env.console.print()
            env.console.print(Text(f"trend ({minutes:g} min watch)", style="bold"))
        env.console.print(render_report(report, limit=args.limit, width=min(env.console.width, 100) - 1))
    return 1 if report.found else 0


def _glance_now(env: Env, why: str, watch_seconds: float) -> Glance:
    """What one snapshot of the live host shows, printed (unless --json) before the watch starts."""
    from memsleuth.analysis.glance import glance
    from memsleuth.views.diagnosis import render_now

    g = glance(env.snapshot(cgroups=True, slab_sysfs=False, numa=False, process_files=("stat", "status")))
    if not env.json:
        env.console.print(render_now(g, why, watch_seconds))
        env.console.file.flush()
    return g


def _progress(progress: Progress, interval: float, duration: float) -> OnSample:
    from memsleuth.views.live import seconds_left

    def on_sample(n: int, expected: int, snap: object) -> None:
        left = max(duration - (n - 1) * interval, 0.0)
        progress.update(f"watching the live host every {interval:g} s: sample {n} of {expected}, "
                        f"{seconds_left(left)} left (Ctrl-C: diagnose what was taken)")

    return on_sample


__all__ = ["EXAMPLES", "HELP", "MULTI_ROOT", "add_arguments", "run"]
