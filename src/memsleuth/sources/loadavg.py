"""``/proc/loadavg``: ``1.12 1.40 0.69 1/87 16450``.

Fields: load averages over 1, 5 and 15 minutes; ``runnable/total``
scheduling entities; the last PID allocated (fs/proc/loadavg.c).

Units: load averages are unitless task counts (exponentially damped,
printed with two decimals); the rest are counts and a PID.

Traps:

* Linux load counts tasks in uninterruptible sleep (state ``D``) as well as
  runnable ones.  A high load with idle CPUs means tasks blocked on I/O or
  on direct reclaim and compaction: a memory symptom, not a CPU one.
* ``runnable`` is an instantaneous count of tasks on run queues (it
  includes the reader); ``total`` counts threads, not processes.
* The last PID is the most recent PID allocated in the PID namespace of the
  task that read the file.
* The averages are sampled every 5 seconds; inside a container they are
  still the host's.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/loadavg"


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadAvg:
    """One reading of /proc/loadavg."""

    load1: float
    load5: float
    load15: float
    #: Tasks runnable at the moment of the read (numerator of field 4).
    nr_running: int
    #: Threads in the system (denominator of field 4).
    nr_threads: int
    last_pid: int


def parse_loadavg(text: str, *, source: str = SOURCE) -> LoadAvg:
    """Parse the text of /proc/loadavg."""
    parts = text.split()
    if len(parts) != 5:
        raise ParseError(source, f"expected 5 fields, got {len(parts)}: {text.strip()!r}")
    running, sep, threads = parts[3].partition("/")
    if not sep:
        raise ParseError(source, f"field 4 is not runnable/total: {parts[3]!r}")
    try:
        return LoadAvg(
            load1=float(parts[0]),
            load5=float(parts[1]),
            load15=float(parts[2]),
            nr_running=int(running),
            nr_threads=int(threads),
            last_pid=int(parts[4]),
        )
    except ValueError:
        raise ParseError(source, f"non-numeric field: {text.strip()!r}") from None
