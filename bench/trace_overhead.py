"""Cost of ``memsleuth trace`` to the traced workload (root, live host).

The workload is the one both traces exist for: a tight loop of 100,000
failed ``access()`` calls on new names in a directory on a disk filesystem
(each creates a negative dentry, so it hits both kmem_cache_alloc of
``dentry`` and sys_exit_faccessat*).  It runs 7 times with no trace, then
7 times while ``memsleuth trace slab dentry`` runs, then 7 times while
``memsleuth trace lookups`` runs; the script prints the medians and the
slowdown.  The loop is in C-speed Python (``os.access``), so the syscall
itself is a large share of each iteration and the % is an upper bound for
real applications, which do more work per lookup.

    sudo python bench/trace_overhead.py
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

N = 100_000
RUNS = 7


def loop(directory: str, tag: str) -> float:
    t0 = time.perf_counter()
    for i in range(N):
        os.access(f"{directory}/{tag}-{i}", os.F_OK)
    return time.perf_counter() - t0


def measure(directory: str, label: str) -> float:
    times = []
    for r in range(RUNS):
        sub = os.path.join(directory, f"{label}{r}")
        os.mkdir(sub)
        times.append(loop(sub, "x"))
    return statistics.median(times)


def with_trace(directory: str, args: list[str], label: str) -> float:
    proc = subprocess.Popen([sys.executable, "-m", "memsleuth", "trace", *args, "--seconds", "120",
                             "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(2.0)  # session set up and reading
    try:
        return measure(directory, label)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("needs root")
    directory = tempfile.mkdtemp(prefix="memsleuth-bench-", dir="/var/tmp")
    try:
        base1 = measure(directory, "base")
        slab = with_trace(directory, ["slab", "dentry"], "slab")
        base2 = measure(directory, "base2")
        look = with_trace(directory, ["lookups"], "look")
        base3 = measure(directory, "base3")
        base = statistics.median([base1, base2, base3])
        print(f"{N:,} failed access() calls, median of {RUNS} runs, each in a new directory")
        print("  no trace (before, between, after): "
              + ", ".join(f"{b * 1e3:.1f} ms" for b in (base1, base2, base3)))
        print(f"  no trace            {base * 1e3:8.1f} ms  ({base / N * 1e9:6.0f} ns/call)")
        for name, t in (("trace slab dentry", slab), ("trace lookups", look)):
            print(f"  {name:<19} {t * 1e3:8.1f} ms  ({t / N * 1e9:6.0f} ns/call)  "
                  f"+{100 * (t - base) / base:.0f}%")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
