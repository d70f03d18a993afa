"""``memsleuth status`` (also plain ``memsleuth``)."""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.cli.options import parse_duration, positive_count, positive_seconds

if TYPE_CHECKING:
    from rich.console import RenderableType

    from memsleuth.snapshot.model import Snapshot
    from memsleuth.views.status import OomSummary, StoreSummary

HELP = """\
The one screen to look at first: memory used by the legacy definition
(CentOS 6 free: total - free), by today's (total - MemAvailable), and by
what the pages hold (buckets, and the accounting tree with the unaccounted
gap); what one snapshot shows that is suspicious; the top growers and the
detector's open findings from the record store ('memsleuth record'), since
it began or over --last; PSI memory pressure; and OOM kills (vmstat's
oom_kill since boot, and the kernel log's OOM-killer lines when readable).

--interval SECONDS refreshes in place on a terminal (q or Ctrl-C quits);
piped, one frame per interval (--json: one document per line)."""

EXAMPLES = """\
  memsleuth
  memsleuth status --last 30m
  memsleuth status --interval 2
  memsleuth status --json
  memsleuth --root bundle.tar.gz status"""

#: what status reads besides system_memory's files
EXTRA_FILES = ("proc/vmstat", "proc/pressure/memory", "proc/sys/fs/dentry-state")
#: on a refreshing screen, the store is read again after this many seconds
STORE_REFRESH_SECONDS = 60.0


def EXPLAIN() -> str:
    """--explain (cli/main.py adds the option): the columns and concepts, from views/topics."""
    from memsleuth.views.topics import explain_text

    return explain_text((), ("buckets", "memavailable", "reclaimable-slab", "page-cache", "unaccounted"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from memsleuth.cli.commands.record import DEFAULT_DB

    parser.add_argument("--db", metavar="PATH",
                        help=f"the record store (default {DEFAULT_DB} on the live host; with --root "
                        "only when given)")
    parser.add_argument("--last", type=parse_duration, metavar="DURATION",
                        help="growers and findings over the last DURATION (30m, 6h; default: since "
                        "the store began)")
    parser.add_argument("--interval", "-d", type=positive_seconds, metavar="SECONDS",
                        help="refresh every SECONDS: in place on a terminal, q quits")
    parser.add_argument("--count", type=positive_count, metavar="N",
                        help="with --interval: stop after N frames")
    parser.add_argument("--limit", "-n", type=positive_count, default=5, metavar="N",
                        help="findings and growers to list (default 5)")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.glance import glance
    from memsleuth.analysis.system import FILES, system_memory
    from memsleuth.analysis.usage import usage_views
    from memsleuth.cli.commands.record import DEFAULT_DB
    from memsleuth.errors import UsageError
    from memsleuth.sources.pressure import parse_pressure
    from memsleuth.views.common import document, missing_json
    from memsleuth.views.meminfo import accounting_json
    from memsleuth.views.status import SCHEMA, StatusMore, more_json, render_status, status_json

    if args.last is not None and args.last <= 0:
        raise UsageError("--last must be a positive duration")
    if args.count is not None and args.interval is None:
        raise UsageError("--count goes with --interval")
    host = env.host()
    db = args.db if args.db is not None else (DEFAULT_DB if host.live else None)
    store_cache: list[tuple[float, StoreSummary]] = []

    def store_now() -> StoreSummary:
        now = time.monotonic()
        if not store_cache or now - store_cache[0][0] > STORE_REFRESH_SECONDS:
            store_cache[:] = [(now, read_store(db, args.last, args.limit, given=args.db is not None))]
        return store_cache[0][1]

    def take() -> tuple[Snapshot, StatusMore]:
        snap = env.snapshot(cgroups=True, slab_sysfs=False, numa=False, process_files=("stat", "status"),
                            system_files=(*FILES, *EXTRA_FILES))
        pressure = snap.parse("proc/pressure/memory", parse_pressure)
        missing = None
        if pressure is None:
            why = snap.missing.get("proc/pressure/memory", "not present")
            missing = (f"/proc/pressure/memory: {why} (PSI needs Linux 4.20+ with CONFIG_PSI, "
                       "not booted with psi=0)")
        more = StatusMore(glance=glance(snap), store=store_now(), pressure=pressure,
                          pressure_missing=missing, oom=oom_summary(snap, live=host.live),
                          limit=args.limit)
        return snap, more

    def doc(snap: Snapshot, more: StatusMore) -> dict[str, object]:
        mem = system_memory(snap)
        return document(SCHEMA, snap.meta, host.label, **status_json(usage_views(mem)),
                        accounting=accounting_json(mem.accounting), missing=missing_json(snap.missing),
                        **more_json(more))

    def frame(compact: bool = False) -> RenderableType:
        snap, more = take()
        mem = system_memory(snap)
        return render_status(snap.meta.hostname, usage_views(mem), mem.accounting, more, compact=compact)

    if args.interval is not None and host.live:
        from memsleuth.views.live import run_live, ticks

        if env.json:
            for _ in ticks(args.interval, args.count):
                env.emit_json_line(doc(*take()))
            return 0
        compact = env.console.is_terminal  # refreshing in place: what fits a screen
        run_live(lambda: frame(compact), console=env.console, interval=args.interval, count=args.count)
        return 0
    if env.json:
        env.emit_json(doc(*take()))
        return 0
    env.console.print(frame(), crop=env.console.is_terminal)
    return 0


def read_store(db: str | None, last: float | None, limit: int, *, given: bool) -> StoreSummary:
    """The store's growers and the detector's findings; what is wrong with it when it cannot be
    read (never fatal: status is the screen to look at first)."""
    from memsleuth.views.status import RuleMatch, StoreSummary

    if db is None:
        return StoreSummary(path=None, state="not read",
                            message="store: not read for a bundle or root (give --db PATH)")
    try:
        os.stat(db)
    except FileNotFoundError:
        message = (f"no store at {db}" if given else
                   f"no store: start 'memsleuth record' (it writes {db})")
        return StoreSummary(path=db, state="missing", message=message, last_seconds=last)
    except OSError as exc:
        return StoreSummary(path=db, state="error", last_seconds=last,
                            message=f"store: cannot read {db}: {exc.strerror or exc} (run as root)")
    # the detector (numpy) is loaded only when there is a store to judge
    from memsleuth.analysis.glance import top_growers
    from memsleuth.analysis.series import sample_count
    from memsleuth.collect.history import history_from_store
    from memsleuth.collect.rules import load_rules
    from memsleuth.errors import MemsleuthError
    from memsleuth.knowledge.report import DiagnosisOptions, DiagnosisSource, run_diagnosis

    now = time.time()
    try:
        history = history_from_store(db, start=now - last if last is not None else None)
    except MemsleuthError as exc:
        text = str(exc)
        state = "empty" if "no samples" in text else "error"
        if "(0 in the store)" in text:
            text = f"{db} has no samples yet: is 'memsleuth record' running?"
        return StoreSummary(path=db, state=state, message=f"store: {text}", last_seconds=last)
    rules = load_rules([])
    report = run_diagnosis(DiagnosisSource(history=history, kind="store", reference=now),
                           DiagnosisOptions(rules=rules))
    return StoreSummary(
        path=db, state="read", last_seconds=last, start=history.start, end=history.end,
        samples=sample_count(history), growers=top_growers(history, limit), findings=report.findings,
        diagnoses=tuple(RuleMatch(rule=d.rule.id, title=d.rule.title, confidence=d.confidence)
                        for d in report.diagnoses),
        insufficient=report.insufficient)


def oom_summary(snap: Snapshot, *, live: bool) -> OomSummary:
    from memsleuth.sources.vmstat import parse_vmstat
    from memsleuth.views.status import LogLine, OomSummary

    vm = snap.parse("proc/vmstat", parse_vmstat)
    kills = vm.oom_kill if vm is not None else None
    why = None
    if vm is None:
        why = f"/proc/vmstat: {snap.missing.get('proc/vmstat', 'not readable')}"
    elif kills is None:
        why = "not counted by this kernel (vmstat oom_kill is 4.13+)"
    if not live:
        return OomSummary(kills_since_boot=kills, kills_missing=why, log_readable=False,
                          log_reason="the kernel log is the live host's (not in a bundle or root)")
    from memsleuth.collect.kmsg import read_kernel_log

    log = read_kernel_log()
    return OomSummary(kills_since_boot=kills, kills_missing=why, log_readable=log.readable,
                      log_reason=log.reason,
                      log_source=log.source,
                      lines=tuple(LogLine(seconds_since_boot=ln.seconds_since_boot, message=ln.message)
                                  for ln in log.lines))
