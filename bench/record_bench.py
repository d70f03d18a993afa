"""Cost of ``memsleuth record``: CPU and bytes per sample, where the bytes go, the disk bound.

One iteration = capture (system files, slab sysfs, cgroups, every process's
stat/status/smaps_rollup) + extraction + one SQLite transaction, exactly what
``record`` does each interval.  Samples are taken ``--interval`` seconds
apart (10, the default of ``record``): what changes between two samples is
what the store pays for (a process's PSS and ``SigQ`` move whenever other
processes come and go), so samples taken back to back would understate it.
CPU is ``time.process_time`` (user + system of this process), the median
over the samples.

Bytes are counted per table and index with SQLite's ``dbstat`` after a WAL
checkpoint, as the growth over ``--samples`` samples after a warm-up sample
(first copies are not counted, as in steady state), and split into *series*
(kept for every sample of the full-resolution window) and *raw* (system
files; processes: their rows and files), which the store may keep for
fewer samples (``Retention.raw_*``).

A downsampled sample (one per 10 minutes, to 30 days) costs what changed in
10 minutes.  With ``--gap 600`` that is measured: two stores are fed the same
captures, one without and one with ``GAP_SLEEPERS`` extra sleeping
processes, and a sample is taken 600 s after the previous one.  The +1000
host's downsampled sample is the idle one plus 1000 x the per-sleeper cost
(conservative: fewer sleepers share libc, so each one's PSS moves more).
Without ``--gap`` a downsampled sample is taken to cost a 10 s sample.

Run as root on an otherwise idle machine (the waits are sleep)::

    python bench/record_bench.py                       # ~18 minutes
    python bench/record_bench.py --samples 3 --gap 0   # ~1 minute, no downsampled measure

Results go between the ``results`` markers of bench/RECORD.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from memsleuth import Host
from memsleuth.snapshot.capture import capture
from memsleuth.snapshot.model import Snapshot
from memsleuth.store import Retention, Store

EXTRA_PROCESSES = 1000
GAP_SLEEPERS = 100
OUT = Path(__file__).with_name("RECORD.md")
START, END = "<!-- results:start -->", "<!-- results:end -->"

#: dbstat names -> the part of the store they hold (schema 1 and 2 names)
PARTS: dict[str, str] = {
    "points": "series", "points_by_key": "series", "point_runs": "series",
    "series_keys": "series", "sqlite_autoindex_series_keys_1": "series",
    "processes": "processes", "processes_blob": "processes", "blobs": "processes",
    "sqlite_autoindex_blobs_1": "processes", "process_runs": "processes", "process_runs_until": "processes",
    "process_bases": "processes",
    "samples": "samples", "samples_taken_at": "samples",
}
ORDER = ("series", "samples", "processes", "system files", "other")
RAW = ("processes", "system files")


@dataclass
class Usage:
    """Bytes by part of the store: pages (as on disk) and payload."""

    pages: dict[str, float] = field(default_factory=dict)
    payload: dict[str, float] = field(default_factory=dict)

    def minus(self, other: Usage, n: float = 1.0) -> Usage:
        keys = set(self.pages) | set(other.pages)
        return Usage(
            pages={k: (self.pages.get(k, 0) - other.pages.get(k, 0)) / n for k in keys},
            payload={k: (self.payload.get(k, 0) - other.payload.get(k, 0)) / n for k in keys},
        )

    def scaled(self, whole: Usage) -> dict[str, float]:
        """One sample's pages, estimated as its payload x the store's page/payload ratio per part
        (a single sample's page delta is too coarse: 4 KiB pages)."""
        return {k: v * whole.pages.get(k, 0) / max(1.0, whole.payload.get(k, 0))
                for k, v in self.payload.items()}


def usage(store: Store) -> Usage:
    store.checkpoint()
    conn = sqlite3.connect(store.path)  # dbstat on a connection of its own (a temp table)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.stat USING dbstat(main)")
        rows = conn.execute("SELECT name, sum(pgsize), sum(payload) FROM temp.stat GROUP BY name").fetchall()
        system = conn.execute("SELECT coalesce(sum(length(system)), 0) FROM samples").fetchone()[0]
    finally:
        conn.close()
    u = Usage()
    for name, pages, payload in rows:
        part = PARTS.get(name, "other")
        u.pages[part] = u.pages.get(part, 0) + pages
        u.payload[part] = u.payload.get(part, 0) + payload
    # system files live in the samples table (and its overflow pages)
    ratio = u.pages.get("samples", 0) / max(1, u.payload.get("samples", 0))
    u.payload["system files"] = system
    u.pages["system files"] = system * ratio
    u.payload["samples"] = u.payload.get("samples", 0) - system
    u.pages["samples"] = u.pages.get("samples", 0) - system * ratio
    return u


class Source:
    """Snapshots: captured live at the interval (and kept, for ``--save``), or replayed (``--load``)."""

    def __init__(self, saved: list[Snapshot] | None = None) -> None:
        self.host = Host.open() if saved is None else None
        self.saved = iter(saved) if saved is not None else None
        self.taken: list[Snapshot] = []
        self.due = time.monotonic()

    def wait(self, seconds: float) -> None:
        """Sleep until ``seconds`` after the last due time (not when replaying)."""
        self.due += seconds
        if self.saved is None:
            time.sleep(max(0.0, self.due - time.monotonic()))

    def take(self) -> Snapshot:
        snap = capture(self.host) if self.saved is None else next(self.saved)
        self.taken.append(snap)
        return snap


def measure(label: str, args: argparse.Namespace, source: Source, *, synchronous: str = "NORMAL"
            ) -> dict[str, object]:
    """CPU is capture + append when live, append alone when replaying."""
    with tempfile.TemporaryDirectory() as d:
        store = Store.open(Path(d) / "m.db", create=True)
        store._conn.execute(f"PRAGMA synchronous={synchronous}")
        store.append(source.take())  # warm-up: first copies
        base = usage(store)
        cpu: list[float] = []
        wall: list[float] = []
        nproc = 0
        for _ in range(args.samples):
            source.wait(args.interval)
            c0, w0 = time.process_time(), time.perf_counter()
            snap = source.take()
            store.append(snap)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            nproc = len(snap.processes)
        per = usage(store).minus(base, args.samples)
        store.close()
    cpu_ms = statistics.median(cpu) * 1000
    return {
        "label": label, "synchronous": synchronous, "processes": nproc, "cpu_ms": cpu_ms,
        "wall_ms": statistics.median(wall) * 1000, "core_percent": cpu_ms / (args.interval * 1000) * 100,
        "per_sample": per.pages,
    }


@dataclass
class Gap:
    """A sample taken ``--gap`` s after the previous one."""

    idle: dict[str, float]  # bytes by part, idle host
    per_sleeper: dict[str, float]  # bytes by part that each extra sleeping process adds
    #: bytes of process rows and files per process that changed (what every process costs
    #: in a sample kept further apart than the gap: all of them changed)
    per_changed_process: float


def measure_gap(args: argparse.Namespace, source: Source, sleepers: set[int]) -> Gap:
    def idle(snap: Snapshot) -> Snapshot:
        return dataclasses.replace(snap, processes=tuple(p for p in snap.processes if p.pid not in sleepers))

    with tempfile.TemporaryDirectory() as d:
        stores = (Store.open(Path(d) / "idle.db", create=True), Store.open(Path(d) / "more.db", create=True))
        for i in range(2):  # warm-up, then one sample at the interval: steady state
            if i:
                source.wait(args.interval)
            snap = source.take()
            stores[0].append(idle(snap))
            stores[1].append(snap)
        before = [usage(s) for s in stores]
        source.wait(args.gap)
        snap = source.take()
        stores[0].append(idle(snap))
        last = stores[1].append(snap)
        after = [usage(s) for s in stores]
        idle_gap, more_gap = (a.minus(b).scaled(a) for a, b in zip(after, before, strict=True))
        conn = stores[1]._conn
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'process_runs'").fetchone():
            changed = conn.execute(
                "SELECT count(*) FROM process_runs WHERE first_sample_id = ?", (last,)
            ).fetchone()[0]
        else:  # schema 1: a row and a file reference for every process, every sample
            changed = len(snap.processes)
        for s in stores:
            s.close()
    parts = set(idle_gap) | set(more_gap)
    n = max(1, len(sleepers))
    per_sleeper = {p: max(0.0, more_gap.get(p, 0) - idle_gap.get(p, 0)) / n for p in parts}
    return Gap(idle=idle_gap, per_sleeper=per_sleeper,
               per_changed_process=more_gap.get("processes", 0) / max(1, changed))


def with_sleepers(n: int) -> list[subprocess.Popen[bytes]]:
    kids = []
    try:
        for _ in range(n):
            kids.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    except BaseException:
        reap(kids)
        raise
    return kids


def reap(kids: list[subprocess.Popen[bytes]]) -> None:
    for k in kids:
        k.kill()
    for k in kids:
        k.wait()


def kb(n: float) -> str:
    return f"{n / 1000:,.1f}"


def report(rows: list[dict[str, object]], gap: Gap | None, args: argparse.Namespace) -> list[str]:
    policy = Retention()
    full_h, days = policy.full_resolution_hours, policy.keep_days
    down_s = policy.downsample_seconds
    raw_h = min(full_h, getattr(policy, "raw_full_resolution_hours", full_h))
    raw_s = max(down_s, getattr(policy, "raw_downsample_seconds", down_s))
    n_full = int(full_h * 3600 / args.interval)
    n_raw_full = int(raw_h * 3600 / args.interval)
    n_down = int((days * 24 - full_h) * 3600 / down_s)
    n_raw_kept = int((full_h - raw_h) * 3600 / raw_s) + int((days * 24 - full_h) * 3600 / raw_s)
    lines = [
        f"Written by `bench/record_bench.py` on {time.strftime('%Y-%m-%d')}: Linux {platform.release()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"as {'root' if os.geteuid() == 0 else 'non-root'}.  {args.samples} samples "
        f"{args.interval:g} s apart after a warm-up sample; CPU and wall are medians.",
        "",
        "| host | synchronous | processes | CPU ms / sample | wall ms / sample "
        f"| % of one core at {args.interval:g} s | bytes / sample |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = r["per_sample"]
        assert isinstance(per, dict)
        lines.append(
            f"| {r['label']} | {r['synchronous']} | {r['processes']} | {r['cpu_ms']:.1f} "
            f"| {r['wall_ms']:.1f} | {r['core_percent']:.2f} | {sum(per.values()):,.0f} |"
        )
    normal = [r for r in rows if r["synchronous"] == "NORMAL"]
    gap_cost: list[dict[str, float]] = []
    for r in normal:
        per = r["per_sample"]
        assert isinstance(per, dict)
        if gap is None:
            gap_cost.append(per)
        else:
            extra = max(0, int(str(r["processes"])) - int(str(normal[0]["processes"])))
            gap_cost.append({p: gap.idle.get(p, 0) + extra * gap.per_sleeper.get(p, 0)
                             for p in set(gap.idle) | set(gap.per_sleeper)})
    heads = [f"{r['label']}, {args.interval:g} s" for r in normal]
    if gap is not None:
        heads += [f"{r['label']}, {args.gap:g} s" for r in normal]
    lines += ["", "Where the bytes go (kB per sample; *raw* parts marked; the "
              f"{args.gap:g} s columns are one sample that long after the previous):" if gap else
              "Where the bytes go (kB per sample; *raw* parts marked):", "",
              "| part | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
    for part in ORDER:
        cells = [kb(float(r["per_sample"].get(part, 0))) for r in normal]  # type: ignore[union-attr]
        if gap is not None:
            cells += [kb(g.get(part, 0)) for g in gap_cost]
        lines.append(f"| {part}{' (raw)' if part in RAW else ''} | " + " | ".join(cells) + " |")
    lines += ["", f"Disk bound with the default retention: {n_full:,} samples at {args.interval:g} s "
              f"({full_h:g} h), raw files with the newest {n_raw_full:,} ({raw_h:g} h); then one sample "
              f"per {down_s / 60:g} min to {days:g} days ({n_down:,}); raw files kept for one sample per "
              f"{raw_s / 60:g} min after the first {raw_h:g} h ({n_raw_kept:,}):", ""]
    if gap is not None and raw_s > args.gap:
        lines += [f"Raw files kept {raw_s / 60:g} min apart are counted as if every process changed "
                  f"({kb(gap.per_changed_process)} kB each, measured), plus the system files.", ""]
    for r, g in zip(normal, gap_cost, strict=True):
        per = r["per_sample"]
        assert isinstance(per, dict)
        series = sum(v for p, v in per.items() if p not in RAW)
        raw = sum(v for p, v in per.items() if p in RAW)
        g_series = sum(v for p, v in g.items() if p not in RAW)
        g_raw = sum(v for p, v in g.items() if p in RAW)
        if gap is not None and raw_s > args.gap:
            g_raw = g.get("system files", 0) + int(str(r["processes"])) * gap.per_changed_process
        total = n_full * series + n_raw_full * raw + n_down * g_series + n_raw_kept * g_raw
        lines.append(f"* {r['label']} ({r['processes']} processes): **{total / 2**30:.2f} GiB** "
                     f"(at {args.interval:g} s: {kb(series)} kB series + {kb(raw)} kB raw per sample; "
                     f"10 min apart: {kb(g_series)} kB series; a sample that keeps raw files there: "
                     f"{kb(g_raw)} kB raw)")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--samples", type=int, default=12, help="samples per host after the warm-up (12)")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples (10)")
    ap.add_argument("--gap", type=float, default=600.0,
                    help="seconds to the sample measuring a downsampled one (600; 0: skip)")
    ap.add_argument("--save", metavar="FILE", help="keep the captures (pickle) to replay them with --load")
    ap.add_argument("--load", metavar="FILE",
                    help="replay saved captures instead of capturing (CPU is then the append alone): "
                         "the same input for two versions of the store")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RECORD.md alone")
    args = ap.parse_args()
    saved: dict[str, object] = {}
    if args.load:
        with open(args.load, "rb") as f:
            saved = pickle.load(f)  # our own file, from --save
        args.samples, args.interval, args.gap = saved["samples"], saved["interval"], saved["gap"]

    def source(name: str) -> Source:
        snaps = saved.get(name)
        return Source(snaps if isinstance(snaps, list) else None)

    idle = source("idle")
    rows = [measure("idle host", args, idle), measure("idle host", args, source("idle"), synchronous="FULL")]
    more = source("more")
    kids = [] if args.load else with_sleepers(EXTRA_PROCESSES)
    try:
        time.sleep(0 if args.load else 0.5)
        rows.append(measure(f"+{EXTRA_PROCESSES} sleep processes", args, more))
    finally:
        reap(kids)
    gap = None
    gap_source = source("gap_snaps")
    sleepers: set[int] = set()
    if args.gap > 0:
        kids = [] if args.load else with_sleepers(GAP_SLEEPERS)
        try:
            sleepers = {int(pid) for pid in saved["sleepers"]} if args.load else {k.pid for k in kids}  # type: ignore[attr-defined]
            time.sleep(0 if args.load else 0.5)
            gap = measure_gap(args, gap_source, sleepers)
        finally:
            reap(kids)
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump({"samples": args.samples, "interval": args.interval, "gap": args.gap,
                         "idle": idle.taken, "more": more.taken, "gap_snaps": gap_source.taken,
                         "sleepers": sorted(sleepers)}, f)
    lines = report(rows, gap, args)
    if args.load:
        lines[0] += f"  Replayed from {Path(args.load).name}: CPU is the append alone."
    sys.stdout.write("\n".join(lines) + "\n")
    if not args.no_write:
        text = OUT.read_text() if OUT.exists() else f"# `memsleuth record` cost\n\n{START}\n{END}\n"
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        OUT.write_text(f"{head}{START}\n" + "\n".join(lines) + f"\n{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
