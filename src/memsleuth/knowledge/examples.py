"""Worked-example series: a compact JSON description of a History.

Each rule's ``[example]`` points at a directory holding either plain root
directories (``t00`` ... , read like ``diagnose --root``) or a
``series.json``::

    {"description": "...", "hostname": "web-1", "kernel_release": "6.1.0",
     "start": 1700000000, "step_seconds": 1800, "points": 24,
     "series": {"meminfo.Shmem": {"ramp": [1e9, 5e9]},
                "meminfo.MemTotal": {"const": 17179869184},
                "proc.4242:100.rss_anon_bytes": {"plateau": [1e8, 9e8, 0.5]},
                "vmstat.drop_slab": {"counter": [0, 0.25]},
                "x.y": [1, 2, 3, ...]},
     "processes": [{"pid": 4242, "starttime_ticks": 100, "comm": "java",
                    "cmdline": "java -jar app.jar", "ppid": 1}]}

Forms: a list (one value per point), ``const``, ``ramp`` (linear from a to
b with a small fixed wobble, as real samples have), ``plateau`` (ramp until
the given fraction of the window, then flat) and ``counter`` (a cumulative
counter: start, increase per point, floored to integers).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from memsleuth.analysis.series import History, ProcessInfo, Series
from memsleuth.errors import MemsleuthError


class ExampleError(MemsleuthError):
    """A worked-example series file is malformed."""


def _values(spec: Any, n: int, where: str) -> list[float]:
    if isinstance(spec, list):
        if len(spec) != n:
            raise ExampleError(f"{where}: {len(spec)} values for {n} points")
        return [float(v) for v in spec]
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ExampleError(f"{where}: expected a list or one of const/ramp/plateau/counter")
    (form, arg), = spec.items()
    if form == "const":
        return [float(arg)] * n
    if form == "ramp":
        a, b = (float(x) for x in arg)
        span = abs(b - a)
        return [a + (b - a) * i / (n - 1) + 0.004 * span * math.sin(1.7 * i) * (0 < i < n - 1)
                for i in range(n)]
    if form == "plateau":
        a, b, frac = (float(x) for x in arg)
        knee = max(1, int((n - 1) * frac))
        return [a + (b - a) * min(i, knee) / knee for i in range(n)]
    if form == "counter":
        a, per = (float(x) for x in arg)
        return [float(math.floor(a + per * i)) for i in range(n)]
    raise ExampleError(f"{where}: unknown form {form!r}")


def history_from_example(text: str, source: str) -> History:
    """A :class:`History` from the text of a ``series.json``."""
    try:
        doc = json.loads(text)
        n = int(doc.get("points", 24))
        step = float(doc.get("step_seconds", 1800))
        start = float(doc.get("start", 1700000000))
        raw = doc["series"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ExampleError(f"{source}: not a series file: {exc}") from None
    times = tuple(start + i * step for i in range(n))
    series = {k: Series(key=k, times=times, values=tuple(_values(v, n, f"{source}: {k}")))
              for k, v in raw.items()}
    procs = {}
    for p in doc.get("processes", []):
        info = ProcessInfo(pid=int(p["pid"]), starttime_ticks=int(p.get("starttime_ticks", 0)),
                           comm=str(p["comm"]), cmdline=p.get("cmdline"), ppid=p.get("ppid"),
                           cgroup=p.get("cgroup"))
        procs[info.identity] = info
    total = series.get("meminfo.MemTotal")
    return History(hostname=doc.get("hostname"), kernel_release=doc.get("kernel_release"), series=series,
                   processes=procs, mem_total_bytes=int(total.values[-1]) if total else None,
                   source=source)


__all__ = ["ExampleError", "history_from_example"]
