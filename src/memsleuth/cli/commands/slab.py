"""``memsleuth slab``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.cli.options import positive_count, positive_seconds

if TYPE_CHECKING:
    from rich.console import RenderableType

    from memsleuth.analysis.slab import SlabRow
    from memsleuth.snapshot.model import Snapshot

HELP = """\
slabtop: kernel object caches sorted by memory (num_slabs x pages per slab
x page size), with objects, usage, object size, whether the cache is
reclaimable (counted in SReclaimable), SLUB merge aliases and internal
fragmentation (waste).  With an interval, adds the growth per second of each
cache.  /proc/slabinfo is root-only: without root, the totals from meminfo
are shown with a note.

As slabtop: --interval SECONDS (-d) refreshes in place on a terminal, with
the growth since the previous frame (q or Ctrl-C quits; slabtop's sort keys
a b c l v n o p s u re-sort at once); -o prints once; -s takes slabtop's
letters too (-s c: by cache size).  Piped, each frame is printed in full;
with --json, one JSON document per line.  'slab 5 3' waits (a progress line
on stderr when it is a terminal) and prints the growth over the 3 intervals."""

EXAMPLES = """\
  memsleuth slab
  memsleuth slab --sort waste --limit 10
  memsleuth slab 5 3            # growth over three 5-second intervals
  memsleuth slab --aliases --json
  memsleuth slab -d 3 -s c             # refresh every 3 s, by cache size, like slabtop
  memsleuth slab -o -s c | head        # once, as slabtop -o -s c"""

#: slabtop's sort letters -> our sort keys (slabtop(1) "SORT CRITERIA")
SLABTOP_KEYS: dict[str, str] = {
    "a": "active",       # number of active objects
    "b": "objperslab",   # objects per slab
    "c": "size",         # cache size
    "l": "slabs",        # number of slabs
    "v": "slabs",        # active slabs: SLUB's slabinfo reports every slab as active
    "n": "name",
    "o": "objects",      # number of objects
    "p": "pagesperslab", # pages per slab
    "s": "objsize",      # object size
    "u": "use",          # cache utilization, highest first as slabtop sorts it
}


def EXPLAIN() -> str:
    """--explain (cli/main.py adds the option): the columns and concepts, from views/topics."""
    from memsleuth.views.slab import COLUMNS
    from memsleuth.views.topics import column_fields, explain_text

    return explain_text(column_fields(COLUMNS), ("reclaimable-slab", "negative-dentries"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("interval", nargs="?", type=positive_seconds,
                        help="wait: seconds between readings, then print the growth")
    parser.add_argument("count", nargs="?", type=positive_count, help="number of readings after the first")
    parser.add_argument("--sort", "-s", type=sort_key, default="size", metavar="KEY",
                        help=f"sort key: {', '.join(sort_names())}, or slabtop's letter "
                        f"({' '.join(SLABTOP_KEYS)}; c = size) (default: size)")
    parser.add_argument("--limit", "-n", type=int, default=None,
                        help="rows to show (default 25; refreshing on a terminal: what fits)")
    parser.add_argument("--all", "-a", action="store_true", help="every cache, even empty ones")
    parser.add_argument("--aliases", action="store_true", help="name the merged caches")
    parser.add_argument("--interval", "-d", dest="refresh", type=positive_seconds, metavar="SECONDS",
                        help="refresh every SECONDS (as slabtop -d): in place on a terminal, q quits")
    parser.add_argument("--count", dest="frames", type=positive_count, metavar="N",
                        help="with --interval: stop after N frames")
    parser.add_argument("--once", "-o", action="store_true", help="print once and exit (as slabtop -o)")


def sort_names() -> list[str]:
    from memsleuth.analysis.slab import SORT_KEYS

    return [*SORT_KEYS, *EXTRA_KEYS]


#: slabtop's orders that analysis.slab.SORT_KEYS has no key for (largest first)
EXTRA_KEYS: dict[str, Callable[[SlabRow], float]] = {
    "objperslab": lambda r: r.objperslab,
    "slabs": lambda r: r.num_slabs,
    "pagesperslab": lambda r: r.pagesperslab,
    "use": lambda r: r.usage_percent or 0.0,
}


def sort_key(text: str) -> str:
    if text in SLABTOP_KEYS:
        return SLABTOP_KEYS[text]
    if text in sort_names():
        return text
    raise argparse.ArgumentTypeError(f"unknown sort key {text!r} (one of {', '.join(sort_names())}, "
                                     f"or slabtop's {' '.join(SLABTOP_KEYS)})")


def sorted_rows(rows: Sequence[SlabRow], key: str) -> list[SlabRow]:
    from memsleuth.analysis.slab import sort_rows

    if key in EXTRA_KEYS:
        return sorted(rows, key=EXTRA_KEYS[key], reverse=True)
    return sort_rows(rows, key)


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.slab import slab_rows, totals, with_growth
    from memsleuth.errors import UsageError
    from memsleuth.sources.meminfo import parse_meminfo
    from memsleuth.units import human_bytes
    from memsleuth.views.common import document, missing_json
    from memsleuth.views.slab import SCHEMA, render_slab, row_json, totals_json

    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.refresh is not None and args.interval is not None:
        raise UsageError("give the interval once: 'slab 5 3' (wait, then print) or --interval 5 "
                         "(refresh), not both")
    if args.frames is not None and args.refresh is None:
        raise UsageError("--count goes with --interval (for 'slab INTERVAL COUNT' give the count second)")
    files = ("proc/slabinfo", "proc/meminfo", "proc/version", "proc/sys/kernel/hostname")
    live_host = env.host().live
    once = args.once or not live_host
    count = 0 if args.interval is None or once else (args.count if args.count is not None else 1)
    order = Order(sort=args.sort)

    def take() -> Snapshot:
        return env.snapshot(processes=False, cgroups=False, numa=False, system_files=files)

    def shown_of(rows: list[SlabRow], limit: int | None) -> list[SlabRow]:
        shown = rows if args.all else [r for r in rows if r.num_objs]
        shown = sorted_rows(shown, order.sort)
        return shown if args.all or limit is None else shown[:limit]

    def doc_of(snap: Snapshot, rows: list[SlabRow]) -> dict[str, object]:
        return document(SCHEMA, snap.meta, env.host().label,
                        caches=[row_json(r) for r in shown_of(rows, args.limit or 25)],
                        totals=totals_json(totals(rows)), missing=missing_json(snap.missing))

    snap = take()
    rows = slab_rows(snap)
    meminfo = snap.parse("proc/meminfo", parse_meminfo)
    if rows is None:
        reason = snap.missing.get("proc/slabinfo", "not present")
        slab_total = meminfo.slab_bytes if meminfo else None
        if env.json:
            env.emit_json(document(
                SCHEMA, snap.meta, env.host().label, caches=[], totals=None,
                meminfo_slab={
                    "slab_bytes": slab_total,
                    "s_reclaimable_bytes": meminfo.s_reclaimable_bytes if meminfo else None,
                    "s_unreclaim_bytes": meminfo.s_unreclaim_bytes if meminfo else None},
                missing=missing_json(snap.missing)))
        else:
            env.console.print(
                f"Slab {human_bytes(slab_total)} (reclaimable "
                f"{human_bytes(meminfo.s_reclaimable_bytes if meminfo else None)}, unreclaimable "
                f"{human_bytes(meminfo.s_unreclaim_bytes if meminfo else None)}) from /proc/meminfo."
            )
            env.note(f"per-cache detail needs /proc/slabinfo: {reason}; run as root")
        return 0

    if args.refresh is not None and not once:
        return _refresh(args, env, order, take, rows, snap, shown_of, doc_of)

    growth = False
    if count:
        from memsleuth.views.live import Progress, seconds_left

        with Progress(env.stderr, enabled=env.stderr.isatty() and not env.json) as progress:
            t0 = time.monotonic()
            total = args.interval * count
            for i in range(count):
                left = total - (time.monotonic() - t0)
                progress.update(f"sampling /proc/slabinfo every {args.interval:g} s, reading "
                                f"{i + 1} of {count + 1} taken, {seconds_left(left)} left")
                time.sleep(args.interval)
                nxt = take()
                new_rows = slab_rows(nxt)
                if new_rows is None:
                    break
                rows = with_growth(new_rows, rows, nxt.started_at - snap.started_at)
                snap = nxt
                growth = True
    tot = totals(rows)
    if env.json:
        env.emit_json(doc_of(snap, rows))
        return 0
    env.console.print(render_slab(shown_of(rows, args.limit or 25), tot, growth=growth,
                                  show_aliases=args.aliases),
                      crop=env.console.is_terminal)
    return 0


@dataclass(slots=True)
class Order:
    """The sort order of a refreshing view (slabtop's keys change it)."""

    sort: str


def _refresh(args: argparse.Namespace, env: Env, order: Order, take: Callable[[], Snapshot],
             rows: list[SlabRow], snap: Snapshot,
             shown_of: Callable[[list[SlabRow], int | None], list[SlabRow]],
             doc_of: Callable[[Snapshot, list[SlabRow]], dict[str, object]]) -> int:
    """``slab --interval S``: a frame per interval, with the growth since the frame before."""
    from memsleuth.analysis.slab import slab_rows, totals, with_growth
    from memsleuth.views.live import run_live, ticks
    from memsleuth.views.slab import render_slab_frame

    last: list[tuple[Snapshot, list[SlabRow]]] = [(snap, rows)]
    first = [True]

    def step() -> tuple[Snapshot, list[SlabRow], bool]:
        if first[0]:  # the reading taken before the loop is the first frame
            first[0] = False
            return snap, rows, False
        prev_snap, prev_rows = last[0]
        nxt = take()
        got = slab_rows(nxt)
        if got is None:
            return prev_snap, prev_rows, False
        got = with_growth(got, prev_rows, nxt.started_at - prev_snap.started_at)
        last[0] = (nxt, got)
        return nxt, got, True

    if env.json:
        for _ in ticks(args.refresh, args.frames):
            s, r, _grew = step()
            env.emit_json_line(doc_of(s, r))
        return 0
    live = env.console.is_terminal
    current: list[tuple[Snapshot, list[SlabRow], bool]] = []

    def limit_now() -> int | None:
        if args.limit is not None:
            return int(args.limit)
        return max(env.console.height - 8, 5) if live else 25

    def draw() -> RenderableType:
        s, r, grew = current[-1]
        return render_slab_frame(shown_of(r, limit_now()), totals(r), growth=grew,
                                 show_aliases=args.aliases, sort=order.sort, at=s.started_at,
                                 hints=live)

    def frame() -> RenderableType:
        current[:] = [step()]
        return draw()

    if not live:
        run_live(frame, console=env.console, interval=args.refresh, count=args.frames)
        return 0

    def on_key(key: str) -> bool:
        if key in SLABTOP_KEYS:
            order.sort = SLABTOP_KEYS[key]
            return True
        return False

    # a key redraws the frame it has (re-sorted), not a new reading
    redraw = [False]

    def frame_or_redraw() -> RenderableType:
        if redraw[0] and current:
            redraw[0] = False
            return draw()
        return frame()

    def on_key_redraw(key: str) -> bool:
        changed = on_key(key)
        redraw[0] = changed
        return changed

    run_live(frame_or_redraw, console=env.console, interval=args.refresh, count=args.frames,
             on_key=on_key_redraw)
    return 0
