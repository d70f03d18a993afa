"""``memsleuth diagnose``: what grows, from the store, a series of roots, or a live watch."""

from __future__ import annotations

import argparse
import os
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.errors import MemsleuthError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rich.console import RenderableType

    from memsleuth.analysis.findings import Finding
    from memsleuth.analysis.series import History
    from memsleuth.collect.history import OnSample
    from memsleuth.host import Host
    from memsleuth.knowledge.attribute import TracedCommand
    from memsleuth.knowledge.loader import RuleSet
    from memsleuth.knowledge.match import Diagnosis
    from memsleuth.snapshot.model import Snapshot
    from memsleuth.trace.run import TraceResult

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

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_FACTOR = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``2h``, ``1.5d`` -> seconds."""
    m = _DURATION.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90s, 5m, 2h, 1d)")
    return float(m.group(1)) * _FACTOR[m.group(2)]


def parse_since(text: str) -> tuple[str, float]:
    """``6h`` -> ("ago", 21600.0); ``2025-01-31T12:00`` -> ("at", unix time)."""
    try:
        return ("ago", parse_duration(text))
    except argparse.ArgumentTypeError:
        pass
    try:
        return ("at", datetime.fromisoformat(text).timestamp())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (6h, 2d) nor a date and time (2025-01-31T12:00)"
        ) from None


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
    from memsleuth.analysis.detect import MIN_SAMPLES, MIN_SPAN_SECONDS, diagnose
    from memsleuth.analysis.series import sample_count, trim
    from memsleuth.views.findings import Window, diagnosis_json, render_diagnosis

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise UsageError("--min-confidence must be between 0 and 1")
    if args.trace is not None:
        _check_trace(args)
    history, kind = _history(args, env)
    if args.trace is not None and kind == "store" and history.hostname not in (None, os.uname().nodename):
        raise UsageError(f"--trace traces this host ({os.uname().nodename}), but the store records "
                         f"{history.hostname}")
    reference_is_now = kind != "roots"
    now = time.time()
    if args.since is not None and kind != "store":  # a store is read from --since on already
        since_kind, value = args.since
        end = history.end if history.end is not None else now
        history = trim(history, start=(end - value) if since_kind == "ago" else value)
    samples = sample_count(history)
    span = (history.end - history.start) if history.start is not None and history.end is not None else 0.0
    if samples < MIN_SAMPLES or span < MIN_SPAN_SECONDS:
        # "healthy" on too little data would be a guess: say so instead
        raise UsageError(
            f"{history.source}: {samples} sample{'s' if samples != 1 else ''} over {span:.0f} s "
            f"in the window; a trend needs at least {MIN_SAMPLES} samples over "
            f"{MIN_SPAN_SECONDS:.0f} s"
        )
    reference = now if reference_is_now else (history.end or now)
    findings = [f for f in diagnose(history, now=reference) if f.confidence >= args.min_confidence]
    window = Window(source=history.source, start=history.start, end=history.end, samples=samples,
                    series=len(history.series), reference=reference, reference_is_now=reference_is_now)
    shown = findings[: args.limit]
    rules = _rules(args, env)
    traces: list[TraceResult] = []
    trace_errors: list[str] = []
    if args.trace is not None:
        from memsleuth.trace.tracefs import TraceStopped

        try:
            traces, trace_errors = _run_traces(args, env, findings)
        except TraceStopped as stop:  # SIGTERM (SIGINT ends a trace early and keeps its counts)
            env.error(f"stopped by {stop} while tracing; tracing state restored")
            return 128 + stop.signum
    host = _attribution_host(args, kind)
    diagnoses = _match(findings, history, host, rules, traces)
    if env.json:
        from memsleuth.trace.run import result_json
        from memsleuth.views.diagnosis import diagnosis_json as root_cause_json

        doc = diagnosis_json(shown, window, history, total=len(findings))
        doc["healthy"] = doc["healthy"] and not diagnoses
        doc["diagnoses"] = [root_cause_json(d) for d in diagnoses]
        doc["traces"] = [result_json(r, limit=20) for r in traces]
        doc["trace_errors"] = trace_errors
        doc["rule_errors"] = list(rules.errors)
        env.emit_json(doc)
    else:
        _render(env, render_diagnosis(shown, window, history, total=len(findings)), diagnoses, traces,
                trace_errors)
    return 1 if findings or diagnoses else 0


def _rules(args: argparse.Namespace, env: Env) -> RuleSet:
    from memsleuth.knowledge.loader import load_rules

    rules = load_rules(args.rules)
    for err in rules.errors:
        env.error(f"rule file skipped: {err}")
    for o in rules.overrides:
        env.note(o)
    return rules


def _check_trace(args: argparse.Namespace) -> None:
    """Refuse --trace before a long watch, not after it."""
    if getattr(args, "roots", None):
        raise UsageError("--trace traces the live kernel; it cannot confirm bundles or roots (--root)")
    if args.trace <= 0:
        raise UsageError("--trace needs a positive number of seconds")
    if os.geteuid() != 0:
        raise UsageError("--trace needs root (tracefs is root-only): run with sudo, or drop --trace")


def _attribution_host(args: argparse.Namespace, kind: str) -> Host | None:
    """Where to look for the processes, libraries and settings: the live host for a watch or this
    host's store, the newest root for --root."""
    from memsleuth.host import Host

    if kind == "roots":
        roots: list[str] = args.roots
        newest = max((Host.open(r) for r in roots), key=lambda h: h.meta.captured_at or 0.0)
        return newest
    return Host.open(None)


def _run_traces(args: argparse.Namespace, env: Env,
                findings: Sequence[Finding]) -> tuple[list[TraceResult], list[str]]:
    """Trace what the findings point at; a trace that cannot run is reported, not fatal."""
    from memsleuth.host import Host
    from memsleuth.knowledge.match import trace_plan
    from memsleuth.trace.run import trace_lookups, trace_slab

    plan = trace_plan(findings)
    if not plan:
        return [], []
    host = Host.open(None)
    jobs: list[tuple[str, Callable[[], TraceResult]]] = []
    if plan.lookups:
        jobs.append(("failed path lookups", lambda: trace_lookups(host, args.trace)))
    for cache in plan.caches:
        jobs.append((f"slab cache {cache}",
                     lambda cache=cache: trace_slab(host, cache, args.trace)))  # type: ignore[misc]
    results: list[TraceResult] = []
    errors: list[str] = []
    for what, job in jobs:
        if not env.json:
            print(f"memsleuth: tracing {what} for {args.trace:g} s", file=env.stderr, flush=True)
        try:
            r = job()
        except MemsleuthError as exc:
            errors.append(f"{what}: {exc}")
            env.error(f"trace of {what} skipped: {exc}")
            continue
        for repair in r.repairs:
            for action in repair.actions:
                env.note(f"repaired a killed trace session: {action}")
        for problem in r.restore_problems:
            errors.append(f"{what}: restore: {problem}")
            env.error(f"restore: {problem}")
        results.append(r)
    return results, errors


def traced_commands(r: TraceResult) -> list[TracedCommand]:
    """A trace's per-command counts as the knowledge layer's TracedCommand records."""
    from memsleuth.knowledge.attribute import TracedCommand

    caches = ("dentry",) if r.kind == "lookups" else (r.cache.group if r.cache is not None else ())
    if r.cache is not None and r.cache.requested not in caches:
        caches = (r.cache.requested, *caches)
    out = []
    for c in r.commands:
        procs = [p for p in r.processes if p.comm == c.comm and p.ppid == c.ppid]
        top = max(procs, key=lambda p: p.events) if procs else None
        if top is None:
            continue
        out.append(TracedCommand(kind=r.kind, caches=caches, comm=c.comm, ppid=c.ppid,
                                 parent_comm=c.parent_comm, pid=top.pid, processes=c.processes,
                                 events=c.events, events_per_second=c.events_per_second,
                                 share=c.events / r.events if r.events else 0.0,
                                 seconds=r.seconds_traced))
    return out


def _match(findings: Sequence[Finding], history: History, host: Host | None, rules: RuleSet,
           traces: Sequence[TraceResult]) -> list[Diagnosis]:
    """Matched rules worth showing: a rule that explains healthy growth (class normal) only when it
    explains a finding."""
    from memsleuth.knowledge.match import MatchContext, match

    traced = tuple(t for r in traces for t in traced_commands(r))
    ds = match(findings, history, MatchContext(host=host, rules=rules, traced=traced))
    return [d for d in ds if d.rule.rule_class != "normal" or d.findings]


def _render(env: Env, findings_view: RenderableType, diagnoses: Sequence[Diagnosis],
            traces: Sequence[TraceResult], trace_errors: Sequence[str]) -> None:
    from rich.text import Text

    from memsleuth.trace.run import result_json
    from memsleuth.views.diagnosis import render_diagnoses, summary_line
    from memsleuth.views.trace import render_trace

    env.console.print(findings_view)
    if traces or trace_errors:
        env.console.print(Text("\nTraces (--trace)", style="bold underline"))
        for r in traces:
            env.console.print(render_trace(result_json(r, limit=5), compact=True))
        for e in trace_errors:
            env.console.print(Text(f"not traced: {e}", style="yellow"))
    if diagnoses:
        env.console.print(Text("\nRoot cause (signature rules)", style="bold underline"))
        env.console.print(render_diagnoses(diagnoses, limit=3, width=min(env.console.width, 100) - 1))
        env.console.print(Text(summary_line(diagnoses[0]), style="bold"))


def _history(args: argparse.Namespace, env: Env) -> tuple[History, str]:
    """The History the options ask for, and its kind: "store", "roots" or "watch"."""
    from memsleuth.cli.commands.record import DEFAULT_DB
    from memsleuth.collect.history import history_from_roots, history_from_store, history_from_watch

    roots: list[str] | None = getattr(args, "roots", None)
    chosen = [name for name, given in (("--db", args.db is not None), ("--root", bool(roots)),
                                       ("--watch", args.watch is not None)) if given]
    if len(chosen) > 1:
        raise UsageError(f"give one of --db, --root or --watch, not {' and '.join(chosen)}")
    if args.watch is not None:
        from memsleuth.analysis.detect import MIN_SAMPLES, MIN_SPAN_SECONDS

        if args.interval <= 0:
            raise UsageError("--interval must be positive")
        if args.watch < MIN_SPAN_SECONDS or args.watch < args.interval * (MIN_SAMPLES - 1):
            raise UsageError(
                f"--watch {args.watch:g} s at --interval {args.interval:g} s is too short: a trend "
                f"needs at least {MIN_SAMPLES} samples over {MIN_SPAN_SECONDS:.0f} s"
            )
        from memsleuth.host import Host

        progress = None if env.json else _progress(env)
        history = history_from_watch(Host.open(None), args.watch, args.interval, on_sample=progress)
        if progress is not None:
            _progress_done(env)
        return history, "watch"
    if roots:
        return history_from_roots(roots), "roots"
    db = args.db
    if db is None:
        if not os.path.exists(DEFAULT_DB):
            raise UsageError(
                f"no history to read: no store at {DEFAULT_DB} (start 'memsleuth record'), "
                "or give --db PATH, --root B1 B2 ... or --watch 5m"
            )
        db = DEFAULT_DB
    start = None
    if args.since is not None:
        kind, value = args.since
        start = time.time() - value if kind == "ago" else value
    return history_from_store(db, start=start), "store"


def _progress(env: Env) -> OnSample:
    tty = env.stderr.isatty()

    def on_sample(n: int, expected: int, snap: Snapshot) -> None:
        msg = f"memsleuth: watching, sample {n}/{expected}"
        if tty:
            print(f"\r{msg}", end="", file=env.stderr, flush=True)
        else:
            print(msg, file=env.stderr, flush=True)

    return on_sample


def _progress_done(env: Env) -> None:
    if env.stderr.isatty():
        print(file=env.stderr, flush=True)


__all__ = ["EXAMPLES", "HELP", "MULTI_ROOT", "add_arguments", "parse_duration", "parse_since", "run",
           "traced_commands"]
