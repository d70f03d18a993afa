"""``memsleuth diagnose``: what grows, from the store, a series of roots, or a live watch."""

from __future__ import annotations

import argparse
import os
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.errors import UsageError

if TYPE_CHECKING:
    from memsleuth.analysis.history import OnSample
    from memsleuth.analysis.series import History
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
less is an error, not "healthy".  Exit status: 0 healthy, 1 findings,
2 error."""

EXAMPLES = """\
  memsleuth diagnose                              # the default store
  memsleuth diagnose --db /tmp/m.db --since 6h
  memsleuth diagnose --root /srv/bundles/web1-*.tar.gz
  memsleuth diagnose --watch 5m --interval 5
  memsleuth diagnose --watch 3m --interval 2 --json"""

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


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.detect import MIN_SAMPLES, MIN_SPAN_SECONDS, diagnose
    from memsleuth.analysis.history import sample_count, trim
    from memsleuth.views.findings import Window, diagnosis_json, render_diagnosis

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise UsageError("--min-confidence must be between 0 and 1")
    history, kind = _history(args, env)
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
    if env.json:
        env.emit_json(diagnosis_json(shown, window, history, total=len(findings)))
    else:
        env.console.print(render_diagnosis(shown, window, history, total=len(findings)))
    return 1 if findings else 0


def _history(args: argparse.Namespace, env: Env) -> tuple[History, str]:
    """The History the options ask for, and its kind: "store", "roots" or "watch"."""
    from memsleuth.analysis.history import history_from_roots, history_from_store, history_from_watch
    from memsleuth.cli.commands.record import DEFAULT_DB

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


__all__ = ["EXAMPLES", "HELP", "MULTI_ROOT", "add_arguments", "parse_duration", "parse_since", "run"]
