"""A synthetic fleet with ground truth, as OpenMetrics text that ``promtool`` backfills.

:func:`generate` writes one file per block window (``window_s``, 54 h by default, aligned to the
epoch as promtool aligns its blocks) and ``manifest.json`` with the ground truth, and returns the
manifest.  Deterministic for a seed and an end time; numpy for the series, the standard library
for the rest.  The tests (``tests/fleet/conftest.py``) and ``bench/fleet_bench.py`` both call it.

Every host has node_exporter's meminfo gauges (``node_memory_*_bytes``: MemTotal, MemFree,
MemAvailable, Cached, Shmem, AnonPages, Slab, SReclaimable, SUnreclaim, PageTables, KernelStack),
labels ``instance``, ``job="node"`` and ``cluster``, in whole KiB, consistent with each other:
Slab = SReclaimable + SUnreclaim, MemFree = MemTotal minus what is used (the page cache gives way
when memory runs short), MemAvailable = MemFree + Cached - Shmem + SReclaimable.  The hosts of the
first load-balancer cluster also carry the memsleuth exporter's ``memsleuth_slab_cache_bytes
{cache="dentry"}`` and ``memsleuth_dentries{state="total"|"negative"}``.

Ground truth (``manifest["leakers"]``): reclaimable slab (dentry) leakers in the first lb cluster
at several rates, one starting mid-range, one rebooted mid-leak; unreclaimable slab leakers (db);
anonymous-memory leakers (web), one of them fast and only 4 hours old.  Distractors
(``manifest["distractors"]``): a daily anon sawtooth (batch and some web hosts), a daily
updatedb-like SReclaimable bump on every host, page-cache fill and random drops, scrape gaps, one
host that joins and one that leaves mid-range.

Usage: ``python3 tests/fleet/gen_fleet.py OUT_DIR [--hosts 200] [--days 7] [--step 60]``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: 2024-01-01T00:00:00Z: a fixed end, so expected values are deterministic
END = 1_704_067_200
#: promtool --max-block-duration=54h writes blocks of 54 h aligned to the epoch: one file each
WINDOW_S = 194_400
KIB = 1024
MIB = 1 << 20
GIB = 1 << 30
HOUR = 3600
DAY = 86400

METRICS = ("MemTotal", "MemFree", "MemAvailable", "Cached", "Shmem", "AnonPages", "Slab", "SReclaimable",
           "SUnreclaim", "PageTables", "KernelStack")
#: role -> (share of the fleet, MemTotal)
ROLES: dict[str, tuple[float, int]] = {
    "lb": (0.10, 16 * GIB), "web": (0.35, 32 * GIB), "db": (0.10, 64 * GIB),
    "cache": (0.15, 64 * GIB), "batch": (0.30, 32 * GIB),
}
SITES = ("bj", "sh", "gz", "sz", "hz", "cd", "wh", "xa", "nj", "tj")
CLUSTER_MAX = 50


@dataclass
class Host:
    instance: str
    cluster: str
    role: str
    index: int
    mem_total: int
    exporter: bool = False
    #: (kind, rate bytes/h, onset s after start or 0, reboot s after start or None)
    leak: tuple[str, float, float, float | None] | None = None
    sawtooth: bool = False
    churn: bool = False
    gaps: list[tuple[float, float]] = field(default_factory=list)
    joins: float | None = None
    leaves: float | None = None


def _layout(hosts: int) -> list[Host]:
    out: list[Host] = []
    counts = {r: max(2, round(share * hosts)) for r, (share, _) in ROLES.items()}
    counts["batch"] += hosts - sum(counts.values())
    for r_i, (role, n) in enumerate(counts.items()):
        clusters = math.ceil(n / CLUSTER_MAX)
        for i in range(n):
            c = i * clusters // n
            site = SITES[(r_i + c) % len(SITES)] if c else SITES[r_i % len(SITES)]
            cluster = f"{role}-{site}" if c < len(SITES) else f"{role}-{site}{c}"
            out.append(Host(instance=f"{role}{i + 1:03d}.{cluster}:9100", cluster=cluster, role=role,
                            index=i, mem_total=ROLES[role][1]))
    return out


def _plan(hosts: list[Host], span: float, rng: np.random.Generator) -> None:
    """Assign the leaks and distractors (the ground truth) to hosts."""
    by_role: dict[str, list[Host]] = {}
    for h in hosts:
        by_role.setdefault(h.role, []).append(h)
    lb = [h for h in by_role["lb"] if h.cluster == by_role["lb"][0].cluster]
    for h in lb:
        h.exporter = True
    # reclaimable slab (dentry): the founding case; a group at similar rates plus outliers
    lb_leaks: list[tuple[float, float, float | None]] = [
        (60, 0, None), (40, 0, 5 * DAY + 7 * HOUR), (25, 2 * DAY + 13 * HOUR, None), (12, 0, None),
        (6, 0, None), (35, 0, None), (38, 0, None), (42, 0, None), (45, 0, None)]
    for h, (rate, onset, reboot) in zip(lb[1::2], lb_leaks, strict=False):
        h.leak = ("reclaimable_slab", rate * MIB, min(onset, span / 2),
                  reboot if reboot and reboot < span else None)
    for h, rate in zip(by_role["db"][::3], (20, 30), strict=False):
        h.leak = ("unreclaimable_slab", rate * MIB, 0.0, None)
    web = by_role["web"]
    for h, rate in zip(web[2::9], (30, 50, 80), strict=False):
        h.leak = ("anon", rate * MIB, 0.0, None)
    # a fast anon leak that began 4 hours before the end: the whole-range rates barely see it
    fresh = next(h for h in web[7:] if h.leak is None)
    fresh.leak = ("anon", 400 * MIB, span - 4 * HOUR, None)
    for h in by_role["batch"]:
        h.sawtooth = True
    for h in web[5::10]:
        if h.leak is None:
            h.sawtooth = True
    for h in by_role["cache"] + web[1::4]:
        h.churn = True
    # scrape gaps: 30 min on ~2% of hosts (one of them a leaker), and 6 h on one leaker
    quiet = [h for h in hosts if h.leak is None and not h.exporter]
    gappy = [quiet[int(i)] for i in rng.choice(len(quiet), size=max(2, len(hosts) // 50), replace=False)]
    leakers = [h for h in hosts if h.leak is not None]
    gappy.append(leakers[-1])
    for h in gappy:
        at = float(rng.uniform(0.2, 0.8) * span)
        h.gaps.append((at, at + 30 * 60))
    twelve = next(h for h in leakers if h.leak is not None and h.leak[1] == 12 * MIB)
    twelve.gaps.append((0.45 * span, 0.45 * span + 6 * HOUR))
    # one host joins on day 3, one leaves on day 6 (neither leaks)
    web_quiet = [h for h in web if h.leak is None and not h.gaps and not h.sawtooth]
    web_quiet[-1].joins = min(3 * DAY, 0.4 * span)
    cache_quiet = [h for h in by_role["cache"] if not h.gaps]
    cache_quiet[-1].leaves = min(6 * DAY, 0.85 * span)


def _series(h: Host, t: np.ndarray, seed: int, start: float) -> dict[str, np.ndarray]:
    """Every gauge of one host at times ``t`` (seconds after ``start``): bytes, and the boot time."""
    rng = np.random.default_rng([seed, h.index, hash_role(h.role)])
    n = t.shape[0]
    total = float(h.mem_total)
    frac = {"lb": (0.18, 0.08, 0.035), "web": (0.30, 0.30, 0.03), "db": (0.45, 0.30, 0.03),
            "cache": (0.12, 0.70, 0.02), "batch": (0.25, 0.35, 0.025)}[h.role]
    anon = np.full(n, frac[0] * total * rng.uniform(0.85, 1.15))
    cache = np.full(n, frac[1] * total * rng.uniform(0.8, 1.2))
    srec = np.full(n, frac[2] * total * 0.7 * rng.uniform(0.8, 1.2))
    dentry_base = 0.6 * srec
    boot = np.full(n, -float(rng.uniform(3, 200)) * DAY)  # seconds after the start
    sunr = np.full(n, frac[2] * total * 0.3 * rng.uniform(0.8, 1.2))
    shmem = float(rng.uniform(64, 512) * MIB)
    pt = np.full(n, total * rng.uniform(0.002, 0.006))
    ks = np.full(n, float(rng.uniform(8, 32) * MIB))
    other = total * 0.015  # firmware, hugepages, vmalloc ...: constant
    tz = float(rng.choice([0, 3, 8, 11])) * HOUR
    local = (t + tz) % DAY
    # a daily updatedb-like walk: reclaimable slab jumps at 03:00 local and decays over 2-5 h
    bump_amp = float(rng.uniform(80, 300) * MIB)
    tau = float(rng.uniform(2, 5) * HOUR)
    since = (local - 3 * HOUR) % DAY
    srec = srec + bump_amp * np.exp(-since / tau)
    if h.sawtooth:
        # a daily batch working set: grows all day, reset between 02:00 and 08:00 local
        reset = float(rng.uniform(2, 8) * HOUR)
        phase = ((local - reset) % DAY) / DAY
        anon = anon + float(rng.uniform(2, 6) * GIB) * phase
    if h.churn:
        # page cache fills towards a ceiling, dropped at random (Poisson, ~every 1-2 days)
        ceiling = 0.55 * total
        drops = np.sort(rng.uniform(t[0], t[-1] + 1, size=int(rng.integers(3, 8))))
        last_drop = np.full(n, t[0] - DAY)
        idx = np.searchsorted(drops, t, side="right") - 1
        has = idx >= 0
        last_drop[has] = drops[idx[has]]
        fill = 1 - np.exp(-(t - last_drop) / (12 * HOUR))
        cache = 0.1 * total + (ceiling - 0.1 * total) * fill
    reboot_at: float | None = None
    if h.leak is not None:
        kind, rate, onset, reboot_at = h.leak
        since_start = np.clip(t - onset, 0, None)
        if reboot_at is not None:
            since_start = np.where(t >= reboot_at, t - reboot_at, since_start)
        grown = rate * since_start / HOUR
        if reboot_at is not None:
            boot = np.where(t >= reboot_at, reboot_at - 60.0, boot)
        if kind == "reclaimable_slab":
            srec = srec + grown
            dentry_base = dentry_base + grown
        elif kind == "unreclaimable_slab":
            sunr = sunr + grown
        else:
            anon = anon + grown
    if reboot_at is not None:
        after = t >= reboot_at
        cache = np.where(after, np.minimum(cache, 0.02 * total + (t - reboot_at) / DAY * 0.05 * total), cache)
    anon = anon + rng.normal(0, 20 * MIB, n)
    srec = srec + rng.normal(0, 3 * MIB, n)
    sunr = sunr + rng.normal(0, 1 * MIB, n)
    cache = cache + rng.normal(0, 30 * MIB, n)
    pt = pt + rng.normal(0, 0.5 * MIB, n)
    ks = ks + rng.normal(0, 0.2 * MIB, n)
    cache = np.maximum(cache, shmem + 32 * MIB)
    used = anon + srec + sunr + pt + ks + other
    # the page cache gives way when memory runs short (MemFree stays above ~1.5%)
    short = used + cache - 0.985 * total
    cache = np.where(short > 0, np.maximum(cache - short, shmem + 16 * MIB), cache)
    free = np.maximum(total - used - cache, 16 * MIB)
    if h.joins is not None:
        boot = np.full(n, h.joins - 90.0)
    dentry = dentry_base + rng.normal(0, 2 * MIB, n) if h.exporter else None
    out = {"MemTotal": np.full(n, total), "MemFree": free, "Cached": cache, "Shmem": np.full(n, shmem),
           "AnonPages": anon, "SReclaimable": srec, "SUnreclaim": sunr, "PageTables": pt, "KernelStack": ks}
    kib = {k: np.floor(v / KIB).astype(np.int64) for k, v in out.items()}
    kib["Slab"] = kib["SReclaimable"] + kib["SUnreclaim"]
    kib["MemAvailable"] = np.minimum(kib["MemFree"] + kib["Cached"] - kib["Shmem"] + kib["SReclaimable"],
                                     kib["MemTotal"])
    series = {f"node_memory_{k}_bytes": kib[k] * KIB for k in METRICS}
    series["node_boot_time_seconds"] = np.floor(boot).astype(np.int64) + int(start)
    if dentry is not None:
        d = np.floor(dentry / KIB).astype(np.int64) * KIB
        series['memsleuth_slab_cache_bytes{cache="dentry"}'] = d
        nd = (d // 192).astype(np.int64)
        series['memsleuth_dentries{state="total"}'] = nd
        neg = 0.9 if h.leak is not None else 0.2
        series['memsleuth_dentries{state="negative"}'] = (nd * neg).astype(np.int64)
    return series


def hash_role(role: str) -> int:
    return sum(ord(c) * 31 ** i for i, c in enumerate(role)) % 100_003


def _keep(h: Host, t: np.ndarray) -> np.ndarray:
    keep = np.ones(t.shape[0], dtype=bool)
    for a, b in h.gaps:
        keep &= ~((t >= a) & (t < b))
    if h.joins is not None:
        keep &= t >= h.joins
    if h.leaves is not None:
        keep &= t < h.leaves
    if h.leak is not None and h.leak[3] is not None:
        r = h.leak[3]
        keep &= ~((t >= r - 180) & (t < r))  # down for 3 minutes while it reboots
    return keep


def _labels(h: Host, extra: str = "") -> str:
    return f'instance="{h.instance}",job="node",cluster="{h.cluster}"' + (f",{extra}" if extra else "")


def _write_window(args: tuple[list[Host], float, float, int, int, float, float, str]) -> str:
    hosts, start, span, step_s, seed, lo, hi, path = args
    with open(path, "w", encoding="ascii") as out:
        for h in hosts:
            n = int(span // step_s) + 1
            phase = float(h.index * 7 % step_s)
            t = np.arange(n, dtype=np.float64) * step_s + phase
            t = t[t <= span]
            keep = _keep(h, t)
            series = _series(h, t, seed, start)
            abs_t = (t + start).astype(np.int64)
            sel = keep & (abs_t >= lo) & (abs_t < hi)
            if not sel.any():
                continue
            ts = abs_t[sel].tolist()
            for name, values in series.items():
                metric, brace, extra = name.partition("{")
                prefix = f"{metric}{{{_labels(h, extra.rstrip('}') if brace else '')}}} "
                vals = values[sel].tolist()
                out.write("".join([f"{prefix}{v} {s}\n" for v, s in zip(vals, ts, strict=True)]))
        out.write("# EOF\n")
    return path


def generate(out_dir: Path | str, hosts: int = 200, days: float = 7.0, step_s: int = 60, seed: int = 7,
             end: int = END, *, window_s: int = WINDOW_S, jobs: int = 1,
             on_file: Callable[[Path], None] | None = None) -> dict[str, Any]:
    """Write the fleet into ``out_dir`` (one ``fleet-<window start>.om`` per block window, and
    ``manifest.json``) and return the manifest: the files, every host, the leakers and the
    distractors, times in Unix seconds.  ``jobs`` processes write the windows in parallel;
    ``on_file`` is called with each file as soon as it is complete (to start backfilling it)."""
    if hosts < 100:
        raise ValueError("at least 100 hosts (the lb cluster needs non-leaking peers)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    span = float(days * DAY)
    start = end - int(span)
    rng = np.random.default_rng(seed)
    fleet = _layout(hosts)
    _plan(fleet, span, rng)
    windows = []
    lo = start // window_s * window_s
    while lo <= end:
        windows.append((max(lo, start), min(lo + window_s, end + 1)))
        lo += window_s
    tasks = [(fleet, float(start), span, step_s, seed, float(a), float(b), str(out / f"fleet-{a}.om"))
             for a, b in windows]
    # the biggest windows first, so the last one to finish is small
    tasks.sort(key=lambda t: t[5] - t[6])
    files: list[str] = []
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for fut in as_completed([pool.submit(_write_window, t) for t in tasks]):
                files.append(fut.result())
                if on_file is not None:
                    on_file(Path(files[-1]))
    else:
        for t in tasks:
            files.append(_write_window(t))
            if on_file is not None:
                on_file(Path(files[-1]))
    files.sort()
    manifest = _manifest(fleet, start=start, end=end, step_s=step_s, seed=seed, files=files)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


_LEAK_METRIC = {"reclaimable_slab": "SReclaimable", "unreclaimable_slab": "SUnreclaim", "anon": "AnonPages"}


def _manifest(fleet: Sequence[Host], *, start: int, end: int, step_s: int, seed: int,
              files: list[str]) -> dict[str, Any]:
    leakers = []
    for h in fleet:
        if h.leak is None:
            continue
        kind, rate, onset, reboot = h.leak
        leakers.append({
            "instance": h.instance, "cluster": h.cluster, "kind": kind,
            "metric": f"node_memory_{_LEAK_METRIC[kind]}_bytes",
            "series_key": f"meminfo.{_LEAK_METRIC[kind]}",
            "slab_cache": "dentry" if h.exporter and kind == "reclaimable_slab" else None,
            "rate_bytes_per_hour": rate, "onset": start + onset if onset else None,
            "rebooted_at": start + reboot if reboot is not None else None,
            "mem_total_bytes": h.mem_total})
    return {
        "schema": "memsleuth.gen_fleet/1", "seed": seed, "start": start, "end": end, "step_s": step_s,
        "files": files,
        "hosts": [{"instance": h.instance, "cluster": h.cluster, "role": h.role,
                   "mem_total_bytes": h.mem_total, "exporter": h.exporter} for h in fleet],
        "leakers": leakers,
        "distractors": {
            "sawtooth": [h.instance for h in fleet if h.sawtooth],
            "churn": [h.instance for h in fleet if h.churn],
            "gaps": [{"instance": h.instance, "start": start + a, "end": start + b}
                     for h in fleet for a, b in h.gaps],
            "joined": [{"instance": h.instance, "at": start + h.joins} for h in fleet if h.joins is not None],
            "left": [{"instance": h.instance, "at": start + h.leaves} for h in fleet if h.leaves is not None],
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("out_dir")
    p.add_argument("--hosts", type=int, default=200)
    p.add_argument("--days", type=float, default=7.0)
    p.add_argument("--step", type=int, default=60)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--end", type=int, default=END)
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args(argv)
    m = generate(a.out_dir, a.hosts, a.days, a.step, a.seed, a.end, jobs=a.jobs)
    print(f"{len(m['hosts'])} hosts, {len(m['leakers'])} leakers, {len(m['files'])} files in {a.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
