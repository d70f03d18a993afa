"""What a diagnosis reads from this machine: the source (store, roots or a watch) and the tracer.

:func:`open_source` turns the user's choice into a
:class:`~memsleuth.knowledge.report.DiagnosisSource`: the History (``--since``
applied once, here), the time findings are dated from, what attribution
looks at, and, with ``trace_seconds``, a tracer that runs tracefs sessions
on the live host.  Every check on the options is made before any sampling
or tracing starts, so a long watch never ends in a usage error.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memsleuth.analysis.glance import Glance
from memsleuth.analysis.growth import MIN_SAMPLES, MIN_SPAN_SECONDS
from memsleuth.analysis.series import History, trim
from memsleuth.analysis.system import system_memory
from memsleuth.analysis.usage import UsageViews, usage_views
from memsleuth.collect.history import OnSample, history_from_hosts, history_from_store, history_from_watch
from memsleuth.collect.inspect import HostInspector
from memsleuth.errors import MemsleuthError, UsageError
from memsleuth.host import Host
from memsleuth.knowledge.attribute import TracedCommand
from memsleuth.knowledge.match import TracePlan
from memsleuth.knowledge.report import DiagnosisSource, Tracer, TraceRecord
from memsleuth.snapshot.capture import capture
from memsleuth.trace.run import TraceResult, result_json, trace_lookups, trace_slab

#: "ago" with seconds, or "at" with a Unix time (``--since 6h``, ``--since 2025-01-31T12:00``)
Since = tuple[str, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceRequest:
    """The user's choice of what to diagnose (one of ``db``, ``roots``, ``watch``)."""

    db: str | None = None
    roots: Sequence[str] = ()
    #: seconds to sample the live host for
    watch: float | None = None
    interval: float = 5.0
    since: Since | None = None
    #: the store to read when nothing is chosen (used only if it exists)
    default_db: str | None = None
    #: trace on the live host for this many seconds after detection (root)
    trace_seconds: float | None = None


def check_request(req: SourceRequest) -> None:
    """Refuse a bad combination before anything runs (a watch or a trace takes minutes)."""
    chosen = [name for name, given in (("--db", req.db is not None), ("--root", bool(req.roots)),
                                       ("--watch", req.watch is not None)) if given]
    if len(chosen) > 1:
        raise UsageError(f"give one of --db, --root or --watch, not {' and '.join(chosen)}")
    if req.watch is not None:
        if req.interval <= 0:
            raise UsageError("--interval must be positive")
        if req.watch < MIN_SPAN_SECONDS or req.watch < req.interval * (MIN_SAMPLES - 1):
            raise UsageError(
                f"--watch {req.watch:g} s at --interval {req.interval:g} s is too short: a trend "
                f"needs at least {MIN_SAMPLES} samples over {MIN_SPAN_SECONDS:.0f} s"
            )
    if req.trace_seconds is not None:
        if req.roots:
            raise UsageError("--trace traces the live kernel; it cannot confirm bundles or roots (--root)")
        if req.trace_seconds <= 0:
            raise UsageError("--trace needs a positive number of seconds")
        if os.geteuid() != 0:
            raise UsageError("--trace needs root (tracefs is root-only): run with sudo, or drop --trace")


def _since_start(since: Since, end: float) -> float:
    kind, value = since
    return end - value if kind == "ago" else value


def open_source(req: SourceRequest, *, on_sample: OnSample | None = None,
                tracer: Tracer | None = None, stop: threading.Event | None = None,
                glance: Glance | None = None, no_store: str | None = None) -> DiagnosisSource:
    """Load what ``req`` asks for.  ``tracer`` is used only for the live host (``--trace``), and
    not after a watch that ``stop`` ended early.  ``glance`` and ``no_store``: the one-snapshot
    judgement made before a watch because there was no history, and why."""
    check_request(req)
    now = time.time()
    if req.watch is not None:
        history = history_from_watch(Host.open(None), req.watch, req.interval, on_sample=on_sample, stop=stop)
        live = Host.open(None)
        now = time.time()  # the watch took minutes: findings are dated from its end, not its start
        interrupted = stop is not None and stop.is_set()
        return DiagnosisSource(history=_trimmed(history, req.since, history.end or now), kind="watch",
                               reference=now, machine=HostInspector(live), usage=usage_now(live),
                               tracer=None if interrupted else tracer, interrupted=interrupted,
                               now=glance, no_store=no_store)
    if req.roots:
        hosts = [Host.open(r) for r in req.roots]
        history = history_from_hosts(hosts)
        newest = max(hosts, key=lambda h: h.meta.captured_at or 0.0)
        # roots may be old: "ago" counts from their last sample
        return DiagnosisSource(history=_trimmed(history, req.since, history.end or now), kind="roots",
                               reference=None, machine=HostInspector(newest), usage=usage_now(newest))
    db = req.db
    if db is None:
        if req.default_db is None or not os.path.exists(req.default_db):
            raise UsageError(
                f"no history to read: no store at {req.default_db} (start 'memsleuth record'), "
                "or give --db PATH, --root B1 B2 ... or --watch 5m"
            )
        db = req.default_db
    # a store is read from --since on (not loaded whole, then cut)
    history = history_from_store(db, start=_since_start(req.since, now) if req.since else None)
    if req.trace_seconds is not None and history.hostname not in (None, os.uname().nodename):
        raise UsageError(f"--trace traces this host ({os.uname().nodename}), but the store records "
                         f"{history.hostname}")
    live = Host.open(None)
    return DiagnosisSource(history=history, kind="store", reference=now, machine=HostInspector(live),
                           usage=usage_now(live), tracer=tracer)


def default_store_state(path: str | None) -> str:
    """Whether the default store can give a history: "missing" (no file), "empty" (no samples yet)
    or "ok" (it has samples, or it is broken: reading it then says how)."""
    if path is None or not os.path.exists(path):
        return "missing"
    from memsleuth.store.reader import StoreReader

    try:
        with StoreReader.open(path) as reader:
            return "empty" if reader.count() == 0 else "ok"
    except MemsleuthError:
        return "ok"


def without_history(req: SourceRequest) -> tuple[SourceRequest, str | None]:
    """``req`` as it stands, or, when it names no source and the default store has no samples,
    a watch of the detector's minimum window and why there was no history (the caller answers
    from one snapshot first)."""
    if req.db is not None or req.roots or req.watch is not None:
        return req, None
    state = default_store_state(req.default_db)
    if state == "ok":
        return req, None
    if req.interval <= 0:
        raise UsageError("--interval must be positive")
    why = (f"no store at {req.default_db}" if state == "missing"
           else f"the store at {req.default_db} has no samples yet")
    return SourceRequest(watch=glance_watch_seconds(req.interval), interval=req.interval, since=req.since,
                         trace_seconds=req.trace_seconds), why


def glance_watch_seconds(interval: float) -> float:
    """How long the no-store ``diagnose`` watches: the detector's minimum window, or longer when
    the interval needs it to take the minimum number of samples."""
    return max(MIN_SPAN_SECONDS, interval * (MIN_SAMPLES - 1))


def usage_now(host: Host) -> UsageViews | None:
    """The usage views of ``host``'s system files now (for the root-cause facts); ``None`` when
    they cannot be read or parsed (the facts then come from the history alone)."""
    try:
        snap = capture(host, processes=False, cgroups=False, slab_sysfs=False, numa=False)
        return usage_views(system_memory(snap))
    except (MemsleuthError, ValueError, KeyError):
        return None


def _trimmed(history: History, since: Since | None, end: float) -> History:
    return history if since is None else trim(history, start=_since_start(since, end))


# -- tracing ------------------------------------------------------------------------------------
def traced_commands(r: TraceResult) -> tuple[TracedCommand, ...]:
    """A trace's per-command counts as the knowledge layer's TracedCommand records."""
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
    return tuple(out)


#: how many processes and commands a trace's document lists
TRACE_JSON_LIMIT = 20


def live_tracer(seconds: float, *, on_start: Callable[[str], object] = lambda what: None,
                on_note: Callable[[str], object] = lambda msg: None,
                on_error: Callable[[str], object] = lambda msg: None) -> Tracer:
    """A tracer for the live host: what the plan names, each for ``seconds``.  A trace that cannot
    run is reported (``on_error`` and the errors list), not fatal; a SIGTERM during a trace raises
    :class:`~memsleuth.trace.tracefs.TraceStopped` after the state is restored."""

    def run(plan: TracePlan) -> tuple[list[TraceRecord], list[str]]:
        host = Host.open(None)
        jobs: list[tuple[str, Callable[[], TraceResult]]] = []
        if plan.lookups:
            jobs.append(("failed path lookups", lambda: trace_lookups(host, seconds)))
        for cache in plan.caches:
            jobs.append((f"slab cache {cache}",
                         lambda cache=cache: trace_slab(host, cache, seconds)))  # type: ignore[misc]
        records: list[TraceRecord] = []
        errors: list[str] = []
        for what, job in jobs:
            on_start(what)
            try:
                r = job()
            except MemsleuthError as exc:
                errors.append(f"{what}: {exc}")
                on_error(f"trace of {what} skipped: {exc}")
                continue
            for repair in r.repairs:
                for action in repair.actions:
                    on_note(f"repaired a killed trace session: {action}")
            for problem in r.restore_problems:
                errors.append(f"{what}: restore: {problem}")
                on_error(f"restore: {problem}")
            records.append(TraceRecord(what=what, document=result_json(r, limit=TRACE_JSON_LIMIT),
                                       commands=traced_commands(r)))
        return records, errors

    return run


__all__ = [
    "TRACE_JSON_LIMIT",
    "Since",
    "SourceRequest",
    "check_request",
    "default_store_state",
    "glance_watch_seconds",
    "live_tracer",
    "open_source",
    "traced_commands",
]
