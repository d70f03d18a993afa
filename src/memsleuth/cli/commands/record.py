"""``memsleuth record``: write a snapshot every interval into the embedded store.

The collection path only: this module and what it imports load neither
rich, numpy nor the analysis code (``tests/test_layers.py`` checks).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from memsleuth.cli.env import Env
from memsleuth.cli.options import positive_count, positive_seconds
from memsleuth.errors import UsageError

DEFAULT_DB = "/var/lib/memsleuth/memsleuth.db"

HELP = """\
Record history: take a snapshot every INTERVAL seconds (system memory files,
slab caches, cgroups, and each process's stat, status and smaps_rollup) and
append it to an SQLite store, with numeric series extracted for fast reads.
Samples are kept at full resolution for --retention-hours, then one per
--downsample-seconds until --keep-days, then deleted.  Raw files (the
kernel's bytes, from which a past sample is rebuilt as a snapshot) are kept
with every sample for --raw-hours, then with one sample per
--raw-downsample-seconds; the other samples keep their series.  Series and
processes are stored once per run of unchanged values.  SIGTERM or SIGINT
finishes the current write and exits 0.  The schedule runs on the monotonic
clock, so wall-clock jumps do not stop or flood it."""

EXAMPLES = """\
  memsleuth record                                   # as root, to /var/lib/memsleuth/memsleuth.db
  memsleuth record --db /tmp/m.db --interval 2 --count 30
  systemctl enable --now memsleuth-record            # contrib/memsleuth-record.service"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", default=DEFAULT_DB,
                        help=f"the store (created if missing, parent directory 0700; default {DEFAULT_DB})")
    parser.add_argument("--interval", type=positive_seconds, default=10.0, metavar="SECONDS",
                        help="seconds between samples (default 10)")
    parser.add_argument("--count", type=positive_count, default=None, metavar="N",
                        help="stop after N samples (default: run until SIGTERM/SIGINT)")
    parser.add_argument("--retention-hours", type=float, default=48.0, metavar="H",
                        help="keep every sample this long (default 48)")
    parser.add_argument("--downsample-seconds", type=float, default=600.0, metavar="S",
                        help="after that, keep one sample per S seconds (default 600)")
    parser.add_argument("--keep-days", type=float, default=30.0, metavar="D",
                        help="delete samples older than D days (default 30)")
    parser.add_argument("--raw-hours", type=float, default=6.0, metavar="H",
                        help="keep every sample's raw files this long (default 6)")
    parser.add_argument("--raw-downsample-seconds", type=float, default=3600.0, metavar="S",
                        help="after that, keep raw files with one sample per S seconds (default 3600; "
                             "600 keeps them with every downsampled sample)")
    parser.add_argument("--no-processes", action="store_true",
                        help="record system and cgroup files only, no per-process files")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per sample on stderr")


def _prepare_path(path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {directory}: {exc.strerror}") from None
    if not os.path.exists(path):
        # the store holds process names and memory figures: readable by its owner only
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        except OSError as exc:
            raise UsageError(f"cannot create {path}: {exc.strerror}") from None


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.snapshot.capture import capture
    from memsleuth.store.writer import Retention, Store

    if args.raw_hours < 0 or args.raw_downsample_seconds < 0:
        raise UsageError("--raw-hours and --raw-downsample-seconds must be >= 0")
    policy = Retention(full_resolution_hours=args.retention_hours,
                       downsample_seconds=args.downsample_seconds, keep_days=args.keep_days,
                       raw_full_resolution_hours=args.raw_hours,
                       raw_downsample_seconds=args.raw_downsample_seconds)
    host = env.host()  # a bad --root is refused before anything is created
    _prepare_path(args.db)
    store = Store.open(args.db, create=True)
    stop = threading.Event()
    caught: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    written = 0
    try:
        store.apply_retention(time.time(), policy)
        print(f"memsleuth: recording to {args.db} every {args.interval:g} s", file=env.stderr, flush=True)
        written = record_loop(
            append=lambda mono: store.append(
                capture(host, processes=not args.no_processes), monotonic_seconds=mono
            ),
            retain=lambda: store.apply_retention(time.time(), policy),
            interval=args.interval,
            count=args.count,
            stop=stop,
            verbose=args.verbose,
        )
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        store.close()
    how = f" (signal {caught[0]})" if caught else ""
    print(f"memsleuth: recorded {written} samples to {args.db}{how}", file=env.stderr, flush=True)
    return 0


#: Retention runs at most this often (monotonic seconds).
RETENTION_EVERY_SECONDS = 3600.0


def record_loop(
    *,
    append: Callable[[float], int],
    retain: Callable[[], object],
    interval: float,
    count: int | None,
    stop: threading.Event,
    verbose: bool = False,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Append until ``count`` samples or ``stop``; return how many were written.

    A signal only sets ``stop``: the sample being written is committed first.
    """
    from memsleuth.snapshot.schedule import run_schedule

    last_retention: float | None = None

    def take(n: int, mono: float) -> None:
        nonlocal last_retention
        if last_retention is None:
            last_retention = mono
        sample_id = append(mono)
        if verbose:
            print(f"memsleuth: sample {sample_id} in {monotonic() - mono:.3f} s", file=sys.stderr)

    def between(now: float) -> bool:
        nonlocal last_retention
        if last_retention is not None and now - last_retention < RETENTION_EVERY_SECONDS:
            return False
        retain()
        last_retention = now
        return True

    return run_schedule(take, interval=interval, count=count, stop=stop, between=between,
                        monotonic=monotonic)
