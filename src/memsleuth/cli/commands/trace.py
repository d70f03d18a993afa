"""``memsleuth trace slab CACHE`` / ``memsleuth trace lookups``."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
Trace, for a bounded time, which processes allocate objects of one slab
cache (kmem:kmem_cache_alloc filtered by the cache name; a merged SLUB alias
is resolved to the cache the kernel names in the event) or which processes
make failed path lookups (syscall exits returning ENOENT: each may leave a
negative dentry).  Counts and rates per process, and per command and parent,
so a probe started again and again shows as one row.

Root only; live host only.  Runs in a private tracefs instance
(instances/memsleuth-PID): the global trace buffer is untouched.  Everything
it changes (tracefs mount, instance, enables, filters, buffer size,
tracing_on) is restored on exit, Ctrl-C (which ends the trace early and
prints what was counted) and SIGTERM; after a kill -9 the next run repairs
the leftovers and says so.  Measured overhead: see the footer."""

EXAMPLES = """\
  memsleuth trace slab dentry --seconds 10
  memsleuth trace slab PINGv6 -s 5          # merged alias: traces the merged cache
  memsleuth trace lookups --seconds 30 --limit 5
  memsleuth trace lookups -s 10 --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from memsleuth.trace.run import DEFAULT_BUFFER_KB, DEFAULT_MAX_EVENTS

    parser.add_argument("what", choices=("slab", "lookups"),
                        help="slab CACHE: allocations of one cache; lookups: failed path lookups")
    parser.add_argument("cache", nargs="?", help="slab cache name (for 'slab'), e.g. dentry")
    parser.add_argument("--seconds", "-s", type=float, default=10.0,
                        help="how long to trace (default 10)")
    parser.add_argument("--limit", "-n", type=int, default=10, help="rows per table (default 10)")
    parser.add_argument("--max-events", type=int, default=DEFAULT_MAX_EVENTS,
                        help=f"count at most this many events, then only count drops "
                        f"(default {DEFAULT_MAX_EVENTS:,})")
    parser.add_argument("--buffer-kb", type=int, default=DEFAULT_BUFFER_KB,
                        help=f"per-CPU ring buffer of the private instance (default {DEFAULT_BUFFER_KB})")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.errors import UsageError
    from memsleuth.trace.run import trace_lookups, trace_slab
    from memsleuth.trace.tracefs import TraceStopped

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.buffer_kb < 64 or args.buffer_kb > 1 << 20:
        raise UsageError("--buffer-kb must be between 64 and 1048576")
    if args.what == "slab" and not args.cache:
        raise UsageError("trace slab needs a cache name, e.g. 'memsleuth trace slab dentry'")
    if args.what == "lookups" and args.cache:
        raise UsageError("trace lookups takes no cache name")
    from memsleuth.views.live import Progress

    host = env.host()
    what = f"tracing allocations of slab cache {args.cache}" if args.what == "slab" else \
        "tracing failed path lookups"
    progress = Progress(env.stderr, enabled=env.stderr.isatty() and not env.json)
    try:
        with progress.countdown(f"{what} (Ctrl-C ends it early)", args.seconds):
            if args.what == "slab":
                result = trace_slab(host, args.cache, args.seconds, max_events=args.max_events,
                                    buffer_kb=args.buffer_kb)
            else:
                result = trace_lookups(host, args.seconds, max_events=args.max_events,
                                       buffer_kb=args.buffer_kb)
    except TraceStopped as stop:
        env.error(f"stopped by {stop}; tracing state restored")
        return 128 + stop.signum

    from memsleuth.trace.run import result_json
    from memsleuth.views.trace import render_trace, trace_json

    for repair in result.repairs:
        for action in repair.actions:
            env.note(f"repaired a killed trace session"
                     f"{'' if repair.pid is None else f' (pid {repair.pid})'}: {action}")
    for problem in result.restore_problems:
        env.error(f"restore: {problem}")
    doc = result_json(result, limit=args.limit)
    if env.json:
        env.emit_json(trace_json(doc, host.meta, host.label))
    else:
        env.console.print(render_trace(doc))
    return 2 if result.restore_problems else 0
