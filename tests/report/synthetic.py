"""A synthetic 30-day history at 10 s (259,200 samples a series): meminfo that adds up, slab caches,
processes and cgroups, with a dentry cache that starts leaking on day 20 and a recording gap."""

from __future__ import annotations

import numpy as np

from memsleuth.analysis.series import History, ProcessInfo, Series

GIB = 1024.0 ** 3
T0 = 1_760_000_000.0
DAY = 86400.0


def synthetic_history(days: float = 30.0, interval: float = 10.0, *, seed: int = 7) -> History:
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(0.0, days * DAY, interval)
    # a 2-hour recording gap on day 12
    keep = ~((t > T0 + 12 * DAY) & (t < T0 + 12 * DAY + 7200))
    t = t[keep]
    n = t.size
    day = np.sin(2 * np.pi * (t - T0) / DAY)
    onset = T0 + 20 * DAY
    leak = np.where(t > onset, (t - onset) / 3600.0 * 60 * 1024.0 ** 2, 0.0)  # 60 MiB/h after day 20
    total = 64 * GIB
    fields = {
        "MemTotal": np.full(n, total),
        "Buffers": 0.4 * GIB + 0.01 * GIB * day,
        "Cached": 12 * GIB + 2 * GIB * day + rng.normal(0, 0.05 * GIB, n),
        "SwapCached": np.zeros(n),
        "AnonPages": 20 * GIB + 1 * GIB * day + rng.normal(0, 0.02 * GIB, n),
        "Shmem": np.full(n, 0.2 * GIB),
        "SReclaimable": 1.5 * GIB + leak,
        "SUnreclaim": np.full(n, 0.7 * GIB),
        "KernelStack": np.full(n, 0.02 * GIB),
        "PageTables": np.full(n, 0.1 * GIB),
        "VmallocUsed": np.full(n, 0.3 * GIB),
        "Percpu": np.full(n, 0.01 * GIB),
    }
    fields["Slab"] = fields["SReclaimable"] + fields["SUnreclaim"]
    used = sum(v for k, v in fields.items() if k not in ("MemTotal", "Shmem", "SReclaimable", "SUnreclaim"))
    fields["MemFree"] = total - used - 0.15 * GIB
    fields["MemAvailable"] = fields["MemFree"] + fields["Cached"] + fields["SReclaimable"]
    series: dict[str, Series] = {}
    times = tuple(t.tolist())

    def add(key: str, values: np.ndarray) -> None:
        series[key] = Series(key=key, times=times, values=tuple(np.round(values).tolist()))

    for k, v in fields.items():
        add(f"meminfo.{k}", v)
    add("slab.dentry.size_bytes", 1.0 * GIB + leak)
    for i, name in enumerate(("ext4_inode_cache", "buffer_head", "radix_tree_node", "kmalloc-64",
                              "inode_cache", "vm_area_struct", "task_struct")):
        add(f"slab.{name}.size_bytes", (200 - 25 * i) * 1024.0 ** 2 + rng.normal(0, 1024.0 ** 2, n))
    add("dentry.nr_dentry", (1.0 * GIB + leak) / 192)
    processes = {}
    for i, comm in enumerate(("java", "postgres", "nginx", "redis-server", "node", "python3", "sshd",
                              "systemd", "chronyd", "cron")):
        pid = 1000 + i
        add(f"proc.{pid}:{5000 + i}.pss_bytes", (4 - 0.35 * i) * GIB + 0.1 * GIB * day)
        processes[f"{pid}:{5000 + i}"] = ProcessInfo(pid=pid, starttime_ticks=5000 + i, comm=comm,
                                                     cmdline=f"/usr/bin/{comm} --config /etc/{comm}.conf",
                                                     ppid=1)
    for i, unit in enumerate(("/system.slice/app.service", "/system.slice/postgresql.service",
                              "/system.slice/nginx.service", "/user.slice")):
        add(f"cgroup.{unit}.memory.current", (8 - 1.5 * i) * GIB + 0.2 * GIB * day)
    return History(hostname="synthetic-30d", kernel_release="6.1.0-test", series=series,
                   processes=processes, mem_total_bytes=int(total), source="synthetic 30 days at 10 s")
