#!/usr/bin/env python3
"""What a memsleuth snapshot costs, against its physical floor and its peers.

    python bench/snapshot_bench.py --procs 1000

One run, side by side, under the same load:

* ``loadgen`` (bench/loadgen.c) starts N idle processes with 1-4 MiB of
  private anon memory each, inside a PID namespace (``unshare --pid --fork
  --kill-child --mount-proc``), so /proc lists exactly the load plus the
  bench itself (as research/perf-baseline.md did);
* per-process snapshot, in-process and warm: ``capture(Host.open())``,
  the C floor (bench/floor.c as a shared library, called through ctypes),
  a psutil ``memory_full_info()`` loop (what the baseline measured), and a
  psutil loop that also fetches what memsleuth keeps from ``status`` and
  ``stat`` (``oneshot()`` + ``memory_full_info()``, ``num_threads()``,
  ``uids()``, ``ppid()``, ``status()``);
* per-process snapshot as a command: the same (python start-up included)
  plus ``memsleuth top``, ps_mem and smem, and ``python -c pass`` for
  reference; the command rows also report the child's peak RSS
  (``ru_maxrss`` from ``wait4``);
* system part only: ``capture(host, processes=False, cgroups=False)``, the
  same restricted to the four files node_exporter reads, the C floor for
  both, and a node_exporter scrape with only the meminfo, vmstat, slabinfo
  and buddyinfo collectors.

Every tool in a phase runs once per round, in a shuffled order, after
warm-up rounds; a tool's figure is the median over rounds.  Like the
baseline, a sample whose own run-queue wait (schedstat) exceeds 3% of its
wall time is set aside when enough clean samples remain.

The C floor reads exactly the files capture reads: the lists come from
memsleuth's own constants (written to bench/out/floor.spec) and the
discovery rules (kernel threads, zombies, slab aliases, node and cgroup
walks) are the same; the two file counts are printed side by side.

Needs root (smaps_rollup of other processes, slabinfo), gcc, and for the
peers psutil + ps_mem (``pip install -e '.[bench]'``), smem (Debian
package) and prometheus-node-exporter (fetched with ``apt-get download``
and unpacked into bench/out/, so no service is started).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import gc
import http.client
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
README = BENCH / "README.md"
PY = sys.executable
NE_REL = Path("node_exporter/usr/bin/prometheus-node-exporter")
RQ_GATE = 0.03  # a sample's own run-queue wait above this share of its wall is noisy

F_SYS, F_NUMA, F_SLAB, F_PROCS, F_CGROUPS = 1, 2, 4, 8, 16
FULL = F_SYS | F_NUMA | F_SLAB | F_PROCS | F_CGROUPS
SYSONLY = F_SYS | F_NUMA | F_SLAB
SYSFOUR = F_SYS | 32  # Host.open() meta reads + the "E" files (NE_FILES) only
#: What node_exporter's meminfo, vmstat, slabinfo and buddyinfo collectors read.
NE_FILES = ("proc/meminfo", "proc/vmstat", "proc/slabinfo", "proc/buddyinfo")

MEMSLEUTH_CMD = "from memsleuth import Host, capture; capture(Host.open())"
MEMSLEUTH_SYS_CMD = (
    "from memsleuth import Host, capture; capture(Host.open(), processes=False, cgroups=False)"
)
PSUTIL_SRC = """
import psutil
def psutil_pass():
    for p in psutil.process_iter():
        try:
            p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    psutil.virtual_memory()
"""
PSUTIL_CMD = PSUTIL_SRC + "psutil_pass()\n"
# The same per-process data memsleuth keeps, the way a psutil user gets it.
# Files per process (checked with strace, psutil 7.2.2): memory_full_info()
# reads smaps_rollup + statm; num_threads() and uids() read status (once,
# cached by oneshot()); ppid() and status() read stat (once, cached).
# Without ppid()/status(), a warm process_iter() reads no stat at all for
# processes it already knows (it caches Process objects), so ppid, state
# and the fault counters memsleuth keeps would not be refreshed.
PSUTIL_SAME_SRC = """
import psutil
def psutil_same_pass():
    for p in psutil.process_iter():
        try:
            with p.oneshot():
                p.memory_full_info()
                p.num_threads()
                p.uids()
                p.ppid()
                p.status()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    psutil.virtual_memory()
"""
PSUTIL_SAME_CMD = PSUTIL_SAME_SRC + "psutil_same_pass()\n"


class Interrupted(Exception):
    pass


# --------------------------------------------------------------------------- build
def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build() -> None:
    OUT.mkdir(exist_ok=True)
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        sys.exit("bench: gcc is needed to build bench/floor.c and bench/loadgen.c")
    jobs = [
        (OUT / "floor", BENCH / "floor.c", []),
        (OUT / "libfloor.so", BENCH / "floor.c", ["-shared", "-fPIC", "-DFLOOR_LIB"]),
        (OUT / "loadgen", BENCH / "loadgen.c", []),
    ]
    for target, src, extra in jobs:
        if target.exists() and target.stat().st_mtime >= src.stat().st_mtime:
            continue
        subprocess.run([gcc, "-O2", "-Wall", *extra, "-o", str(target), str(src)], check=True)
        log(f"built {target.relative_to(BENCH.parent)}")


def write_spec() -> Path:
    """The C floor's file lists, taken from memsleuth's own constants."""
    from memsleuth.snapshot import capture as cap

    lines = [
        f"H {p}" for p in ("proc/version", "proc/sys/kernel/hostname", "proc/sys/kernel/random/boot_id")
    ]  # Host.open() meta reads
    lines += [f"S {p}" for p in cap.SYSTEM_FILES]
    lines += [f"N {p}" for p in cap.NODE_FILES]
    lines += [f"L {p}" for p in cap.SLAB_FILES]
    lines += [f"P {p}" for p in cap.DEFAULT_PROCESS_FILES]
    lines += [f"C {p}" for p in cap.CGROUP_FILES]
    lines += [f"E {p}" for p in NE_FILES]
    spec = OUT / "floor.spec"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def node_exporter() -> Path | None:
    binary = OUT / NE_REL
    if binary.exists():
        return binary
    try:
        with tempfile.TemporaryDirectory(dir=OUT) as tmp:
            subprocess.run(
                ["apt-get", "download", "prometheus-node-exporter"],
                cwd=tmp,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deb = next(Path(tmp).glob("prometheus-node-exporter_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(OUT / "node_exporter")], check=True)
            shutil.copy(deb, OUT / deb.name)
    except (OSError, subprocess.CalledProcessError, StopIteration) as exc:
        log(f"node_exporter unavailable ({exc}); that row is skipped")
        return None
    return binary if binary.exists() else None


def version_of(argv: list[str], pattern: str = r"\d+\.\d+(\.\d+)?\S*") -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(0) if m else "?"


def dpkg_version(pkg: str) -> str:
    return version_of(["dpkg-query", "-W", "-f=${Version}", pkg], r"\S+")


# --------------------------------------------------------------------------- timing
def thread_run_delay_ns() -> int:
    with open("/proc/thread-self/schedstat", "rb") as f:
        return int(f.read().split()[1])


def cpu_seconds() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_THREAD)
    return r.ru_utime, r.ru_stime


def global_busy_ticks() -> tuple[int, int]:
    with open("/proc/stat", "rb") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle, sum(v[:8])


class Sample(dict):  # wall_ms, rq, user_ms, sys_ms, ok
    pass


def time_inproc(fn: Callable[[], object]) -> Sample:
    gc.collect()
    u0, s0 = cpu_seconds()
    d0 = thread_run_delay_ns()
    t0 = time.perf_counter_ns()
    fn()
    t1 = time.perf_counter_ns()
    d1 = thread_run_delay_ns()
    u1, s1 = cpu_seconds()
    wall = (t1 - t0) / 1e6
    return Sample(
        wall_ms=wall,
        rq=(d1 - d0) / 1e6 / wall if wall else 0.0,
        user_ms=(u1 - u0) * 1e3,
        sys_ms=(s1 - s0) * 1e3,
        ok=True,
    )


_DEVNULL_ACTIONS = [
    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
    (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
]


def time_command(argv: list[str]) -> Sample:
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=_DEVNULL_ACTIONS)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped yet
    t1 = time.perf_counter_ns()
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            delay = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        delay = 0
    _, status, ru = os.wait4(pid, 0)
    wall = (t1 - t0) / 1e6
    return Sample(
        wall_ms=wall,
        rq=delay / 1e6 / wall if wall else 0.0,
        user_ms=ru.ru_utime * 1e3,
        sys_ms=ru.ru_stime * 1e3,
        ok=os.waitstatus_to_exitcode(status) == 0,
    )


def peak_rss_kib(argv: list[str], runs: int = 3) -> float | None:
    """Median peak RSS of a command, from GNU time's %M (untimed runs).

    Not from our own wait4(): posix_spawn uses vfork, and the kernel folds
    the pre-exec mm (this bench, about 26 MiB) into the child's ru_maxrss.
    GNU time fork()s from a ~1 MiB process, so %M is the command's own peak.
    """
    gnu_time = "/usr/bin/time"
    if not os.access(gnu_time, os.X_OK):
        return None
    vals = []
    with tempfile.NamedTemporaryFile(dir=OUT, suffix=".rss") as out:
        for _ in range(runs):
            r = subprocess.run(
                [gnu_time, "-f", "%M", "-o", out.name, *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            with contextlib.suppress(ValueError):
                if r.returncode == 0:
                    vals.append(int(Path(out.name).read_text().split()[-1]))
    return statistics.median(vals) if vals else None


def summarize(samples: list[Sample]) -> dict[str, object]:
    ok = [s for s in samples if s["ok"]]
    clean = [s for s in ok if s["rq"] <= RQ_GATE]
    use = clean if len(clean) >= max(5, len(ok) // 2) else ok
    walls = sorted(s["wall_ms"] for s in use)
    q = statistics.quantiles(walls, n=4) if len(walls) >= 2 else [walls[0]] * 3
    return {
        "median_ms": statistics.median(walls),
        "p25_ms": q[0],
        "p75_ms": q[2],
        "min_ms": walls[0],
        "n": len(use),
        "n_total": len(samples),
        "n_failed": len(samples) - len(ok),
        "gated": use is clean,
        "user_ms": statistics.mean(s["user_ms"] for s in use),
        "sys_ms": statistics.mean(s["sys_ms"] for s in use),
    }


def interleave(
    tools: dict[str, Callable[[], Sample]], rounds: int, warmup: int, rng: random.Random, label: str
) -> dict[str, list[Sample]]:
    results: dict[str, list[Sample]] = {name: [] for name in tools}
    order = list(tools)
    for r in range(warmup + rounds):
        rng.shuffle(order)
        for name in order:
            s = tools[name]()
            if r >= warmup:
                results[name].append(s)
        if r == warmup - 1:
            log(f"{label}: warm-up done, {rounds} rounds of {len(order)} tools")
    return results


# --------------------------------------------------------------------------- inner run
def count_pids() -> int:
    return sum(1 for n in os.listdir("/proc") if n.isdigit())


def psi_memory() -> str:
    try:
        return Path("/proc/pressure/memory").read_text().splitlines()[0]
    except OSError:
        return "n/a"


def start_loadgen(n: int) -> subprocess.Popen[bytes]:
    log(f"starting {n} load processes")
    proc = subprocess.Popen([str(OUT / "loadgen"), str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60 + n * 0.05
    import select

    line = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            break
        if proc.poll() is not None:
            break
    if not line.startswith(b"ready"):
        stop(proc, "loadgen")
        raise RuntimeError(f"loadgen did not get ready: {line!r}")
    log(f"load ready: {line.decode().strip()} (N, KiB touched)")
    return proc


def stop(proc: subprocess.Popen[bytes] | None, name: str, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(OSError):
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop in {timeout:.0f}s, killing it")
        proc.kill()
        proc.wait(5)


def check_load(load: subprocess.Popen[bytes] | None) -> None:
    if load is not None and load.poll() is not None:
        raise RuntimeError("the load processes went away during the run; results discarded")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_ms(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rpartition(b") ")[2].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def vm_hwm_kib(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


FOUR_KW = dict(processes=False, cgroups=False, slab_sysfs=False, numa=False, system_files=NE_FILES)
PROCS_KW = dict(cgroups=False, slab_sysfs=False, numa=False, system_files=("proc/meminfo",))


def inner(args: argparse.Namespace) -> dict[str, object]:
    from memsleuth import Host, capture

    spec = write_spec()
    lib = ctypes.CDLL(str(OUT / "libfloor.so"))
    lib.floor_init.argtypes = [ctypes.c_char_p]
    lib.floor_pass.argtypes = [ctypes.c_int]
    lib.floor_pass.restype = ctypes.c_long
    if lib.floor_init(str(spec).encode()) < 0:
        raise RuntimeError(f"floor_init({spec}) failed")

    ns: dict[str, object] = {}
    have_psutil = True
    try:
        exec(PSUTIL_SRC, ns)
    except ImportError:
        have_psutil = False
        log("psutil not installed: pip install -e '.[bench]'")
    psutil_pass = ns.get("psutil_pass")
    if have_psutil:
        exec(PSUTIL_SAME_SRC, ns)
    psutil_same_pass = ns.get("psutil_same_pass")
    memsleuth_bin = shutil.which("memsleuth", path=os.path.dirname(PY))
    ps_mem = shutil.which("ps_mem", path=os.path.dirname(PY)) or shutil.which("ps_mem")
    smem = shutil.which("smem")
    floor_bin = str(OUT / "floor")

    meta: dict[str, object] = {
        "namespace": args.inner,
        "procs_requested": args.procs,
        "psi_before": psi_memory(),
    }
    rng = random.Random(args.seed)
    load = None
    ne = None
    ne_log = None
    busy0, _ = global_busy_ticks()
    own0 = os.times()
    t_start = time.monotonic()
    results: dict[str, dict[str, object]] = {}
    try:
        load = start_loadgen(args.procs) if args.procs > 0 else None
        time.sleep(1.0)  # let the fork storm settle
        meta["pids_visible"] = count_pids()

        # -- parity: the same files? ---------------------------------------
        snap = capture(Host.open())
        ms_files = 3 + len(snap.files) + sum(len(p.files) for p in snap.processes)
        meta["parity"] = {
            "memsleuth_files": ms_files,
            "memsleuth_processes": len(snap.processes),
            "floor_files": int(lib.floor_pass(FULL)),
            "memsleuth_sys_files": 3 + len(capture(Host.open(), processes=False, cgroups=False).files),
            "floor_sys_files": int(lib.floor_pass(SYSONLY)),
            "memsleuth_four_files": 3 + len(capture(Host.open(), **FOUR_KW).files),
            "floor_four_files": int(lib.floor_pass(SYSFOUR)),
        }
        del snap
        log(f"parity: {meta['parity']}")

        # -- phase 1: full snapshot, in-process and as commands --------------
        tools: dict[str, Callable[[], Sample]] = {
            "inproc:floor-c": lambda: time_inproc(lambda: lib.floor_pass(FULL)),
            "inproc:memsleuth": lambda: time_inproc(lambda: capture(Host.open())),
            # information only: the per-process walk plus meminfo, what the psutil loops cover
            "inproc:memsleuth-procs": lambda: time_inproc(lambda: capture(Host.open(), **PROCS_KW)),
        }
        commands: dict[str, list[str]] = {
            "cmd:floor-c": [floor_bin, str(spec)],
            "cmd:memsleuth": [PY, "-c", MEMSLEUTH_CMD],
            "cmd:python-pass": [PY, "-c", "pass"],
        }
        if have_psutil and psutil_pass is not None and psutil_same_pass is not None:
            tools["inproc:psutil"] = lambda: time_inproc(psutil_pass)  # type: ignore[arg-type]
            tools["inproc:psutil-same"] = lambda: time_inproc(psutil_same_pass)  # type: ignore[arg-type]
            commands["cmd:psutil"] = [PY, "-c", PSUTIL_CMD]
            commands["cmd:psutil-same"] = [PY, "-c", PSUTIL_SAME_CMD]
        if memsleuth_bin:
            commands["cmd:memsleuth-top"] = [memsleuth_bin, "top", "--no-color"]
        if ps_mem:
            commands["cmd:ps_mem"] = [ps_mem]
        else:
            log("ps_mem not found: pip install -e '.[bench]'")
        if smem:
            commands["cmd:smem"] = [smem]
        else:
            log("smem not found: apt-get install smem")
        for name, argv in commands.items():
            tools[name] = lambda argv=argv: time_command(argv)  # type: ignore[misc]
        for name, run in tools.items():  # every tool must work before we time it
            s = run()
            if not s["ok"]:
                raise RuntimeError(f"{name} failed (exit status != 0)")
        res = interleave(tools, args.rounds, args.warmup, rng, "per-process snapshot")
        results.update({k: summarize(v) for k, v in res.items()})
        log("peak RSS of the commands (GNU time, 3 untimed runs each)")
        for name, argv in commands.items():
            results[name]["maxrss_kib"] = peak_rss_kib(argv)
        meta["pids_visible_after"] = count_pids()
        check_load(load)

        # -- phase 2: system part only vs a node_exporter scrape -------------
        sys_tools: dict[str, Callable[[], Sample]] = {
            "sys:floor-c": lambda: time_inproc(lambda: lib.floor_pass(SYSONLY)),
            "sys:memsleuth": lambda: time_inproc(
                lambda: capture(Host.open(), processes=False, cgroups=False)
            ),
            # like-for-like with node_exporter: the same four files
            "sys:floor-c-four": lambda: time_inproc(lambda: lib.floor_pass(SYSFOUR)),
            "sys:memsleuth-four": lambda: time_inproc(lambda: capture(Host.open(), **FOUR_KW)),
        }
        ne_bin = Path(args.node_exporter) if args.node_exporter else None
        conn = None
        if ne_bin and ne_bin.exists():
            port = free_port()
            ne_log = open(OUT / "node_exporter.log", "wb")  # noqa: SIM115 (closed in finally)
            ne = subprocess.Popen(
                [
                    str(ne_bin),
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--collector.disable-defaults",
                    "--collector.meminfo",
                    "--collector.vmstat",
                    "--collector.slabinfo",
                    "--collector.buddyinfo",
                ],
                stdin=subprocess.DEVNULL,
                stdout=ne_log,
                stderr=ne_log,
            )
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = b""
            for _ in range(100):
                try:
                    conn.request("GET", "/metrics")
                    body = conn.getresponse().read()
                    break
                except OSError:
                    conn.close()
                    time.sleep(0.1)
            needed = (b"node_memory_MemTotal_bytes", b"node_vmstat_", b"node_slabinfo_", b"node_buddyinfo_")
            missing = [n.decode() for n in needed if n not in body]
            if missing:
                raise RuntimeError(f"node_exporter scrape lacks {missing}; see {OUT / 'node_exporter.log'}")
            meta["node_exporter_body_bytes"] = len(body)

            def scrape() -> Sample:
                assert conn is not None
                t0 = time.perf_counter_ns()
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                data = resp.read()
                t1 = time.perf_counter_ns()
                return Sample(
                    wall_ms=(t1 - t0) / 1e6,
                    rq=0.0,
                    user_ms=0.0,
                    sys_ms=0.0,
                    ok=resp.status == 200 and len(data) > 1000,
                )

            sys_tools["sys:node_exporter"] = scrape
            ne_cpu0 = proc_cpu_ms(ne.pid)
        else:
            log("node_exporter binary not available: its row is skipped")
        res = interleave(sys_tools, args.scrapes, 5, rng, "system part")
        results.update({k: summarize(v) for k, v in res.items()})
        check_load(load)
        if ne is not None:
            cpu = proc_cpu_ms(ne.pid) - ne_cpu0
            meta["node_exporter_cpu_ms_per_scrape"] = cpu / (args.scrapes + 5)
            meta["node_exporter_hwm_kib"] = vm_hwm_kib(ne.pid)
            if conn is not None:
                conn.close()
    finally:
        stop(ne, "node_exporter")
        if ne_log:
            ne_log.close()
        stop(load, "loadgen")
    busy1, _ = global_busy_ticks()
    own1 = os.times()
    hz = os.sysconf("SC_CLK_TCK")
    elapsed = time.monotonic() - t_start
    own_cpu = (
        own1.user
        + own1.system
        + own1.children_user
        + own1.children_system
        - own0.user
        - own0.system
        - own0.children_user
        - own0.children_system
    )
    other = max(0.0, (busy1 - busy0) / hz - own_cpu)
    meta["elapsed_s"] = elapsed
    meta["background_cores"] = other / elapsed if elapsed else 0.0
    meta["psi_after"] = psi_memory()
    return {"meta": meta, "results": results}


# --------------------------------------------------------------------------- outer run
def on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_in_namespace(args: argparse.Namespace, result: Path) -> bool:
    """Re-run this script as PID 1 of a new PID namespace; False if that fails."""
    unshare = shutil.which("unshare")
    if not unshare:
        return False
    probe = subprocess.run(
        [unshare, "--pid", "--fork", "--kill-child", "--mount-proc", "true"], capture_output=True
    )
    if probe.returncode != 0:
        log(f"unshare --pid failed ({probe.stderr.decode().strip()}); running on the host /proc")
        return False
    argv = [
        unshare,
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        PY,
        __file__,
        "--inner",
        "--result",
        str(result),
        "--procs",
        str(args.procs),
        "--rounds",
        str(args.rounds),
        "--warmup",
        str(args.warmup),
        "--scrapes",
        str(args.scrapes),
        "--seed",
        str(args.seed),
    ]
    if args.node_exporter:
        argv += ["--node-exporter", args.node_exporter]
    proc = subprocess.Popen(argv)
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        # A Ctrl-C reached the namespace's PID 1 too, which cleans up and
        # exits.  Otherwise (or if it is slow) SIGKILL unshare: --kill-child
        # then SIGKILLs PID 1, and the kernel kills everything left in the
        # namespace (load, node_exporter, a running peer).
        log("interrupted: stopping the namespace (at most 5 s)")
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        raise
    if rc != 0:
        sys.exit(f"bench: the namespaced run failed (exit {rc})")
    return True


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    thp = "?"
    with contextlib.suppress(OSError):
        thp = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().strip()
    virt = version_of(["systemd-detect-virt"], r"\S+") if shutil.which("systemd-detect-virt") else "?"
    return {
        "kernel": platform.release(),
        "cpu": cpu,
        "vcpus": str(os.cpu_count()),
        "mem": f"{mem_kib / 1048576:.0f} GiB",
        "thp": thp,
        "virt": virt,
        "python": platform.python_version(),
        "os": (
            platform.freedesktop_os_release().get("PRETTY_NAME", "?")
            if hasattr(platform, "freedesktop_os_release")
            else "?"
        ),
    }


LABELS = {
    "inproc:floor-c": "C floor (same files as capture), in-process",
    "inproc:memsleuth": "**memsleuth** `capture(Host.open())`, in-process",
    "inproc:psutil": (
        "psutil `memory_full_info()` loop (baseline; warm it reads smaps_rollup + statm only), in-process"
    ),
    "inproc:psutil-same": (
        "psutil, same data as memsleuth (`oneshot()`: `memory_full_info`, `num_threads`, "
        "`uids`, `ppid`, `status`), in-process"
    ),
    "inproc:memsleuth-procs": (
        "memsleuth, processes + meminfo only (no other system files, slab sysfs, nodes, cgroups; information)"
    ),
    "cmd:floor-c": "C floor, as a command",
    "cmd:memsleuth": "**memsleuth** as a command (`python -c` start-up + import + `capture(Host.open())`)",
    "cmd:memsleuth-top": "`memsleuth top` (the CLI: snapshot + cmdline + parse + render; information)",
    "cmd:psutil-same": "psutil same-data loop, as a command",
    "cmd:python-pass": "`python -c pass` (start-up only, reference)",
    "cmd:psutil": "psutil `memory_full_info()` loop (baseline), as a command",
    "cmd:ps_mem": "ps_mem",
    "cmd:smem": "smem",
    "sys:floor-c": "C floor, system files only, in-process",
    "sys:memsleuth": "**memsleuth** `capture(processes=False, cgroups=False)`, in-process",
    "sys:node_exporter": "node_exporter scrape (meminfo, vmstat, slabinfo, buddyinfo)",
    "sys:floor-c-four": "C floor, Host.open() + the four node_exporter files",
    "sys:memsleuth-four": (
        "memsleuth, the same four files (`system_files=` those four, `slab_sysfs=False`, `numa=False`)"
    ),
}
FLOORS = {"inproc": "inproc:floor-c", "cmd": "cmd:floor-c", "sys": "sys:floor-c"}


def table(data: dict[str, object]) -> list[str]:
    res: dict[str, dict[str, float]] = data["results"]  # type: ignore[assignment]
    rows = [
        "| tool | median ms | p25–p75 ms | × C floor | user / sys ms | peak RSS MiB | samples |",
        "|---|---|---|---|---|---|---|",
    ]
    sections = [
        ("inproc", "*per-process snapshot, in-process, warm*"),
        ("cmd", "*per-process snapshot, as a command*"),
        ("sys", "*system part only (no processes, no cgroups)*"),
    ]
    for kind, title in sections:
        rows.append(f"| {title} | | | | | | |")
        floor = res.get(FLOORS[kind], {}).get("median_ms")
        keys = [k for k in LABELS if k.startswith(kind + ":") and k in res]
        keys.sort(key=lambda k: res[k]["median_ms"])
        for k in keys:
            r = res[k]
            ref = "sys:floor-c-four" if k.endswith("-four") else FLOORS[kind]
            floor = res.get(ref, {}).get("median_ms")
            ratio = f"{r['median_ms'] / floor:.2f}×" if floor else "–"
            cpu = "–" if k == "sys:node_exporter" else f"{r['user_ms']:.1f} / {r['sys_ms']:.1f}"
            gate = "" if r["gated"] else " (ungated)"
            rss = r.get("maxrss_kib")
            rss_s = f"{rss / 1024:.1f}" if rss else "–"
            if k == "sys:node_exporter" and data["meta"].get("node_exporter_hwm_kib"):  # type: ignore[union-attr]
                rss_s = f"{data['meta']['node_exporter_hwm_kib'] / 1024:.1f} (server VmHWM)"  # type: ignore[index]
            rows.append(
                f"| {LABELS[k]} | {r['median_ms']:.1f} | {r['p25_ms']:.1f}–"
                f"{r['p75_ms']:.1f} | {ratio} | {cpu} | {rss_s} | {r['n']}/{r['n_total']}{gate} |"
            )
    return rows


def checks(data: dict[str, object]) -> list[tuple[bool, str]]:
    res: dict[str, dict[str, float]] = data["results"]  # type: ignore[assignment]

    def m(k: str) -> float | None:
        return res[k]["median_ms"] if k in res else None

    out: list[tuple[bool, str]] = []
    ms, fl = m("inproc:memsleuth"), m("inproc:floor-c")
    if ms and fl:
        out.append(
            (
                ms <= 1.25 * fl,
                f"memsleuth in-process {ms:.1f} ms ≤ 1.25 × C floor "
                f"in-process {fl:.1f} ms = {1.25 * fl:.1f} ms "
                f"(ratio {ms / fl:.2f})",
            )
        )
    for a, b in (
        ("inproc:memsleuth", "inproc:psutil-same"),
        ("cmd:memsleuth", "cmd:psutil-same"),
        ("inproc:memsleuth", "inproc:psutil"),
        ("cmd:memsleuth", "cmd:psutil"),
        ("cmd:memsleuth", "cmd:ps_mem"),
        ("cmd:memsleuth", "cmd:smem"),
        ("sys:memsleuth-four", "sys:node_exporter"),
        ("sys:memsleuth", "sys:node_exporter"),
    ):
        x, y = m(a), m(b)
        if x and y:
            out.append(
                (x < y, f"{a.replace(':', ' ')} {x:.1f} ms faster than {b.replace(':', ' ')} {y:.1f} ms")
            )
    return out


def report(data: dict[str, object], mach: dict[str, str], versions: dict[str, str]) -> str:
    meta: dict[str, object] = data["meta"]  # type: ignore[assignment]
    par = meta.get("parity", {})
    lines = [
        f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} with "
        f"`python bench/snapshot_bench.py --procs {meta['procs_requested']}`.",
        "",
        f"- **Machine:** {mach['os']}, kernel {mach['kernel']}, {mach['vcpus']} vCPUs "
        f"({mach['cpu']}, virtualization: {mach['virt']}), {mach['mem']} RAM, THP "
        f"`{mach['thp']}`; Python {mach['python']}. A shared VM: "
        f"other sessions used {meta['background_cores']:.2f} cores on average during the run.",
        f"- **Load:** N = {meta['procs_requested']} idle processes with 1–4 MiB private anon "
        f"each; /proc listed {meta.get('pids_visible')} processes "
        + (
            "(own PID namespace: the load plus the bench)"
            if meta["namespace"]
            else "(**host /proc**: the load plus everything else on the box)"
        )
        + f"; memsleuth captured {par.get('memsleuth_processes', '?')} processes.",
        f"- **Same work:** files read per pass, memsleuth / C floor: "
        f"{par.get('memsleuth_files', '?')} / {par.get('floor_files', '?')} full, "
        f"{par.get('memsleuth_sys_files', '?')} / {par.get('floor_sys_files', '?')} system part, "
        f"{par.get('memsleuth_four_files', '?')} / {par.get('floor_four_files', '?')} four-file system part.",
        f"- **Versions:** {', '.join(f'{k} {v}' for k, v in versions.items())}.",
        f"- **Memory PSI:** before `{meta['psi_before']}`, after `{meta['psi_after']}`.",
    ]
    if "node_exporter_body_bytes" in meta:
        lines.append(
            f"- node_exporter response: {meta['node_exporter_body_bytes']} bytes; "
            f"server CPU {meta['node_exporter_cpu_ms_per_scrape']:.1f} ms per scrape."
        )
    lines += ["", *table(data), "", "Checks:", ""]
    lines += [f"- {'PASS' if ok else 'FAIL'}: {text}" for ok, text in checks(data)]
    return "\n".join(lines) + "\n"


def write_readme(text: str) -> None:
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    body = README.read_text() if README.exists() else f"# Snapshot benchmark\n\n{start}\n{end}\n"
    if start not in body:
        body += f"\n## Results\n\n{start}\n{end}\n"
    head, _, rest = body.partition(start)
    _, _, tail = rest.partition(end)
    README.write_text(f"{head}{start}\n{text}{end}{tail}")
    log(f"results written to {README.relative_to(BENCH.parent)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=1000, help="extra idle processes (default 1000)")
    ap.add_argument(
        "--rounds", type=int, default=15, help="timed rounds per tool in the per-process phase (default 15)"
    )
    ap.add_argument("--warmup", type=int, default=2, help="untimed warm-up rounds (default 2)")
    ap.add_argument(
        "--scrapes", type=int, default=51, help="timed rounds in the system-only phase (default 51)"
    )
    ap.add_argument("--seed", type=int, default=1, help="seed for the per-round tool order")
    ap.add_argument(
        "--no-namespace", action="store_true", help="run on the host /proc instead of a new PID namespace"
    )
    ap.add_argument("--no-readme", action="store_true", help="do not update bench/README.md")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--node-exporter", help=argparse.SUPPRESS)
    args = ap.parse_args()

    # Ctrl-C, kill and hang-up all end the run through the same clean-up path,
    # even when started with SIGINT ignored (e.g. `cmd &` from a script).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if args.inner:  # PID 1 of the namespace
        data = inner(args)
        Path(args.result).write_text(json.dumps(data))
        return

    if os.geteuid() != 0:
        log(
            "not root: other processes' smaps_rollup and slabinfo are unreadable, "
            "so the comparison is not meaningful"
        )
    build()
    ne = node_exporter()
    args.node_exporter = str(ne) if ne else None
    write_spec()
    with tempfile.NamedTemporaryFile(dir=OUT, suffix=".json", delete=False) as tmp:
        result = Path(tmp.name)
    try:
        args.inner = False
        if not args.no_namespace and run_in_namespace(args, result):
            data = json.loads(result.read_text())
        else:
            data = inner(args)
    finally:
        result.unlink(missing_ok=True)

    try:
        import psutil

        psutil_version = psutil.__version__
    except ImportError:
        psutil_version = "not installed"
    debs = sorted(OUT.glob("prometheus-node-exporter_*.deb"))
    versions = {
        "psutil": psutil_version,
        "ps_mem": version_of([PY, "-m", "pip", "show", "ps_mem"], r"(?<=Version: )\S+"),
        "smem": dpkg_version("smem"),
        "prometheus-node-exporter": debs[-1].name.split("_")[1] if debs else "?",
        "gcc": version_of(["gcc", "-dumpfullversion"]),
    }
    text = report(data, machine(), versions)
    print()
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({**data, "versions": versions}, indent=1))
    if not args.no_readme:
        write_readme(text)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
