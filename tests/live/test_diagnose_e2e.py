"""``diagnose --watch`` over real workloads started here: four leaks found, two non-leaks quiet.

The detector needs two minutes of samples, so the six workloads share two
watches of :data:`WATCH` (about two minutes each, four in all) instead of
six: one with the heap leak, the tmpfs writer and the thread leak, one with
the negative-dentry storm, the GC sawtooth and the page-cache read.  Within
a watch the workloads touch different buckets (anon and kernel stacks vs
shmem; dentries vs anon vs page cache), so each test still judges one.

Each workload is a child Python process, bounded in memory (``RLIMIT_AS``
of 1 GiB, and a cap on what it allocates), in time (it exits by itself
after :data:`LIFETIME_S`, and the test kills it at the end), and in what it
leaves behind (mounts unmounted, directories removed).  The watch runs
in-process through ``run_cli``; its length and interval can be tuned with
``MEMSLEUTH_E2E_WATCH`` and ``MEMSLEUTH_E2E_INTERVAL``.

Other sessions may run on this host, so a leak test asserts that the
*expected* finding is there, and a non-leak test that no finding names its
process or the bucket it exercises; neither asserts the whole host is quiet.
MemFree and MemAvailable lag frees by seconds (free page reporting), so
nothing here is judged on them.
"""

from __future__ import annotations

import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IS_ROOT, requires_root

pytestmark = pytest.mark.live

WATCH = os.environ.get("MEMSLEUTH_E2E_WATCH", "121s")
INTERVAL = os.environ.get("MEMSLEUTH_E2E_INTERVAL", "2")
#: a workload exits by itself after this long, whatever happens to the test
LIFETIME_S = 150
MIB = 1 << 20

#: every child: 1 GiB of address space at most, and a deadline
PRELUDE = f"""\
import os, resource, signal, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
signal.alarm({LIFETIME_S})
def ready():
    print("ready", flush=True)
"""

HEAP_LEAK = """\
chunks = []
ready()
while len(chunks) < 1400:            # 700 MiB at most
    chunks.append(b"\\x01" * (512 << 10))   # touched: every page is written
    time.sleep(0.125)                # 4 MiB/s
signal.pause()
"""

THREAD_LEAK = """\
import threading
threading.stack_size(256 << 10)      # 2,000 x 256 KiB of address space fits the limit
never = threading.Event()
started = 0
ready()
while started < 2000:
    for _ in range(3):
        threading.Thread(target=never.wait, daemon=True).start()
        started += 1
    time.sleep(0.2)                  # 15 threads/s
signal.pause()
"""

TMPFS_WRITER = """\
directory = sys.argv[1]
block = b"\\x02" * (1 << 20)
ready()
for i in range(560):                 # 560 MiB at most (the mount holds 640 MiB)
    with open(os.path.join(directory, f"f{i:04d}"), "wb") as f:
        f.write(block)
    time.sleep(1 / 3)                # 3 MiB/s
signal.pause()
"""

NEGATIVE_DENTRIES = """\
import random
directory = sys.argv[1]
rnd = random.Random()
done = 0
ready()
start = time.monotonic()
while done < 3_000_000:              # about 570 MiB of dentries at most
    for _ in range(2000):
        os.access(f"{directory}/{rnd.getrandbits(64):016x}", os.F_OK)
    done += 2000
    ahead = done / 20_000 - (time.monotonic() - start)   # 20,000 lookups/s
    if ahead > 0:
        time.sleep(ahead)
signal.pause()
"""

SAWTOOTH = """\
import mmap
ready()
while True:
    heap = []
    for _ in range(40):              # up to 160 MiB in 8 s ...
        # private: anonymous memory (AnonPages); mmap's default, shared, would be Shmem
        m = mmap.mmap(-1, 4 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        m.write(b"\\x03" * (4 << 20))
        heap.append(m)
        time.sleep(0.2)
    for m in heap:                   # ... then all of it goes back, like a full GC
        m.close()
    del heap
    time.sleep(1.0)
"""

PAGE_CACHE_READER = """\
path = sys.argv[1]
buf = bytearray(16 << 20)
ready()
time.sleep(6)                        # the watch sees the level before the read
with open(path, "rb", buffering=0) as f:
    start = time.monotonic()
    done = 0
    while True:
        n = f.readinto(buf)
        if not n:
            break
        done += n
        ahead = done / (150 << 20) - (time.monotonic() - start)   # 150 MiB/s
        if ahead > 0:
            time.sleep(ahead)
signal.pause()
"""


@contextmanager
def workload(script: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """Start a bounded child, wait for its "ready", kill it on the way out."""
    # one malloc arena: glibc reserves 64 MiB of address space per arena, up to 8 per CPU
    env = {**os.environ, "MALLOC_ARENA_MAX": "1"}
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + script, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        ok, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline() if ok else b""
        if line.strip() != b"ready":
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"workload did not start: {err.decode(errors='replace')[-2000:]}")
        yield proc
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"workload exited early ({proc.returncode}): {err[-2000:]}")
    finally:
        proc.kill()
        proc.wait(timeout=20)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@dataclass(frozen=True)
class Watched:
    """One watch over a group of workloads: the diagnosis and who was running."""

    code: int
    doc: dict[str, Any]
    pids: dict[str, int]

    def summary(self) -> str:
        return "\n".join(
            f"{f['class']:16} {f['confidence']:.2f} {f['series_key']} {f['rate_per_hour']:.4g}/h"
            + (f" (+ {', '.join(f['related'])})" if f["related"] else "")
            for f in self.doc["findings"])

    def named(self) -> dict[str, dict[str, Any]]:
        """series key -> the finding that names it, as its subject or as related."""
        out: dict[str, dict[str, Any]] = {}
        for f in self.doc["findings"]:
            for key in (f["series_key"], *f["related"]):
                out.setdefault(key, f)
        return out

    def of_pid(self, name: str) -> dict[str, dict[str, Any]]:
        prefix = f"proc.{self.pids[name]}:"
        return {k: f for k, f in self.named().items() if k.startswith(prefix)}


def watch() -> tuple[int, dict[str, Any]]:
    """``memsleuth diagnose --watch`` in-process, as run_cli does (module fixtures cannot use capsys)."""
    from memsleuth.cli.main import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["diagnose", "--watch", WATCH, "--interval", INTERVAL, "--json", "--limit", "1000"])
    assert code in (0, 1), code
    doc = json.loads(out.getvalue())
    assert doc["schema"] == "memsleuth.diagnose/1"
    assert doc["window"]["samples"] >= 8
    assert doc["findings_total"] == len(doc["findings"])
    return code, doc


def _fs_type(path: str) -> str:
    best, fstype = "", ""
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            mnt = fields[1].replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, fstype = mnt, fields[2]
    return fstype


def _disk_dir() -> str:
    base = "/var/tmp"
    if _fs_type(base) in ("tmpfs", "ramfs", ""):
        pytest.skip(f"{base} is not on a disk filesystem here")
    return base


@contextmanager
def tmpfs_mount() -> Iterator[str | None]:
    """A 640 MiB tmpfs under /tmp, unmounted and removed afterwards; None without root."""
    if not IS_ROOT:
        yield None
        return
    mnt = tempfile.mkdtemp(prefix="memsleuth-e2e-", dir="/tmp")
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=640m,mode=0700", "memsleuth-e2e", mnt],
                       check=True)
        yield mnt
    finally:
        subprocess.run(["umount", mnt], check=False, capture_output=True)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)


@pytest.fixture(scope="module")
def leaks() -> Watched:
    """Heap leak, tmpfs growth (as root) and thread leak under one watch."""
    with ExitStack() as stack:
        pids = {"heap": stack.enter_context(workload(HEAP_LEAK)).pid,
                "threads": stack.enter_context(workload(THREAD_LEAK)).pid}
        mnt = stack.enter_context(tmpfs_mount())
        if mnt is not None:
            pids["tmpfs"] = stack.enter_context(workload(TMPFS_WRITER, mnt)).pid
        time.sleep(1)
        code, doc = watch()
    # the workloads are gone (and checked to have run throughout) before any test judges
    return Watched(code=code, doc=doc, pids=pids)


@pytest.fixture(scope="module")
def storm_and_quiet() -> Watched:
    """Negative-dentry storm, GC sawtooth and a 900 MiB page-cache read under one watch."""
    base = _disk_dir()
    if shutil.disk_usage(base).free < 4 * 1024 * MIB:
        pytest.skip(f"{base} has less than 4 GiB free")
    with ExitStack() as stack:
        lookups = tempfile.mkdtemp(prefix="memsleuth-e2e-", dir=base)
        # removing the directory prunes the negative dentries under it
        stack.callback(shutil.rmtree, lookups, True)
        data = Path(tempfile.mkdtemp(prefix="memsleuth-e2e-", dir=base))
        stack.callback(shutil.rmtree, data, True)
        big = data / "big"
        block = b"\x04" * (16 * MIB)
        fd = os.open(big, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for _ in range(900 // 16):
                os.write(fd, block)
            os.fsync(fd)
            # this file only out of the page cache: never the global drop_caches
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        pids = {"dentries": stack.enter_context(workload(NEGATIVE_DENTRIES, lookups)).pid,
                "sawtooth": stack.enter_context(workload(SAWTOOTH)).pid,
                "reader": stack.enter_context(workload(PAGE_CACHE_READER, str(big))).pid}
        time.sleep(1)
        code, doc = watch()
    return Watched(code=code, doc=doc, pids=pids)


# -- leaks -------------------------------------------------------------------------------
def test_heap_leak_names_the_process_and_anon_pages(leaks: Watched) -> None:
    assert leaks.code == 1, leaks.summary()
    mine = {k: f for k, f in leaks.of_pid("heap").items()
            if k.endswith((".pss_bytes", ".rss_anon_bytes"))}
    assert mine, leaks.summary()
    for f in mine.values():
        assert f["class"] == "leak", f
        assert f["process"]["pid"] == leaks.pids["heap"]
        assert f["process"]["comm"].startswith("python")
        # 4 MiB/s is 14 GiB/h; allow for the sleeps' slack and sampling
        assert 9 * 1024 * MIB < f["rate_bytes_per_hour"] < 16 * 1024 * MIB, f
    # the host's anonymous memory: AnonPages, or its LRU split when the detector groups by that
    assert set(leaks.named()) & set(ANON_KEYS), leaks.summary()


def test_thread_leak_names_the_threads_and_kernel_stack(leaks: Watched) -> None:
    threads = [f for k, f in leaks.of_pid("threads").items() if k.endswith(".threads")]
    assert threads, leaks.summary()
    f = threads[0]
    assert f["class"] == "leak", f
    assert f["process"]["pid"] == leaks.pids["threads"]
    if f["series_key"].endswith(".threads"):
        # 15 threads/s is 54,000/h
        assert 35_000 < f["rate_per_hour"] < 60_000, f
    assert "meminfo.KernelStack" in leaks.named(), leaks.summary()


@requires_root
def test_tmpfs_growth_names_shmem(leaks: Watched) -> None:
    shmem = leaks.named().get("meminfo.Shmem")
    assert shmem is not None, leaks.summary()
    assert shmem["class"] == "leak", shmem
    if shmem["series_key"] == "meminfo.Shmem":
        # 3 MiB/s is 10.5 GiB/h
        assert 6 * 1024 * MIB < shmem["rate_bytes_per_hour"] < 12 * 1024 * MIB, shmem
    # the writer's own memory does not grow
    assert not leaks.of_pid("tmpfs"), leaks.summary()


DENTRY_KEYS = ("meminfo.SReclaimable", "slab.dentry.size_bytes", "dentry.nr_dentry", "dentry.nr_negative")


def test_negative_dentries_name_the_dentry_cache(storm_and_quiet: Watched) -> None:
    w = storm_and_quiet
    assert w.code == 1, w.summary()
    found = {k: f for k, f in w.named().items() if k in DENTRY_KEYS}
    assert found, w.summary()
    assert {f["class"] for f in found.values()} == {"unbounded_cache"}, w.summary()
    assert not w.of_pid("dentries"), w.summary()


# -- non-leaks ---------------------------------------------------------------------------
ANON_KEYS = ("meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)")
FILE_KEYS = ("meminfo.Cached", "meminfo.Active(file)", "meminfo.Inactive(file)", "meminfo.Buffers")


def test_gc_sawtooth_is_quiet(storm_and_quiet: Watched) -> None:
    w = storm_and_quiet
    assert not w.of_pid("sawtooth"), w.summary()
    assert not set(w.named()) & set(ANON_KEYS), w.summary()


def test_page_cache_read_is_quiet(storm_and_quiet: Watched) -> None:
    w = storm_and_quiet
    assert not w.of_pid("reader"), w.summary()
    assert not set(w.named()) & set(FILE_KEYS), w.summary()
