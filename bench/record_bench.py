"""Cost of ``memsleuth record``: CPU per iteration and bytes per sample (writes bench/RECORD.md).

One iteration = capture (system files, slab sysfs, cgroups, every process's
stat/status/smaps_rollup) + extraction + one SQLite transaction, exactly what
``record`` does each interval.  CPU is ``time.process_time`` (user + system
of this process).  Bytes per sample is the growth of the live pages of the
database (page_count - freelist_count) after a WAL checkpoint, over samples
taken after a warm-up sample, so idle processes' deduplicated files count
as they do in steady state.  Run as root on an otherwise idle machine:

    python bench/record_bench.py            # ~1 minute
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memsleuth import Host
from memsleuth.snapshot.capture import capture
from memsleuth.store import Store

SAMPLES = 30
EXTRA_PROCESSES = 1000
OUT = Path(__file__).with_name("RECORD.md")


def live_bytes(store: Store) -> int:
    store.checkpoint()
    conn = store._conn
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * page)


def measure(label: str, synchronous: str = "NORMAL") -> dict[str, object]:
    host = Host.open()
    with tempfile.TemporaryDirectory() as d:
        store = Store.open(Path(d) / "m.db", create=True)
        store._conn.execute(f"PRAGMA synchronous={synchronous}")
        store.append(capture(host), monotonic_seconds=time.monotonic())  # warm-up: first copies of blobs
        base = live_bytes(store)
        cpu: list[float] = []
        wall: list[float] = []
        nproc = 0
        for _ in range(SAMPLES):
            c0, w0 = time.process_time(), time.perf_counter()
            snap = capture(host)
            store.append(snap, monotonic_seconds=time.monotonic())
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            nproc = len(snap.processes)
            time.sleep(0.05)
        per_sample = (live_bytes(store) - base) / SAMPLES
        store.close()
    cpu_ms = statistics.median(cpu) * 1000
    return {
        "label": label,
        "synchronous": synchronous,
        "processes": nproc,
        "cpu_ms": cpu_ms,
        "wall_ms": statistics.median(wall) * 1000,
        "core_percent_at_10s": cpu_ms / 10_000 * 100,
        "bytes_per_sample": per_sample,
    }


def with_sleepers(n: int) -> list[subprocess.Popen[bytes]]:
    kids = []
    try:
        for _ in range(n):
            kids.append(subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL,
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


def main() -> int:
    rows = [measure("idle host"), measure("idle host", synchronous="FULL")]
    kids = with_sleepers(EXTRA_PROCESSES)
    try:
        time.sleep(0.5)
        rows.append(measure(f"+{EXTRA_PROCESSES} sleep processes"))
    finally:
        reap(kids)
    retention_48h = 48 * 360
    retention_30d = (30 - 2) * 144
    lines = [
        "# `memsleuth record` cost",
        "",
        f"Written by `bench/record_bench.py` on {time.strftime('%Y-%m-%d')}: Linux {platform.release()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite "
        f"{__import__('sqlite3').sqlite_version}, as {'root' if os.geteuid() == 0 else 'non-root'}.",
        f"Median of {SAMPLES} iterations (capture + extract + one transaction).",
        "",
        "| host | synchronous | processes | CPU ms / sample | wall ms / sample "
        "| % of one core at 10 s | bytes / sample |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['synchronous']} | {r['processes']} | {r['cpu_ms']:.1f} "
            f"| {r['wall_ms']:.1f} "
            f"| {r['core_percent_at_10s']:.2f} | {r['bytes_per_sample']:,.0f} |"
        )
    lines += ["", "Disk bound with the default retention (48 h at 10 s = "
              f"{retention_48h:,} samples, then 1 per 10 min to 30 days = {retention_30d:,} samples):", ""]
    for r in rows:
        if r["synchronous"] != "NORMAL":
            continue
        b = float(str(r["bytes_per_sample"]))
        total = b * (retention_48h + retention_30d)
        lines.append(f"* {r['label']} ({r['processes']} processes): {total / 2**30:.2f} GiB")
    OUT.write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
