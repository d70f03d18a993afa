"""``/proc/stat``: CPU time, interrupts, context switches, forks, run queue.

Units: the ``cpu`` lines are in clock ticks (USER_HZ, almost always 100;
take it from ``Host.clock_ticks``).  ``intr`` starts with the total of all
interrupts; ``ctxt`` and ``processes`` (forks since boot) are counters;
``procs_running``/``procs_blocked`` are instantaneous.

Traps: the number of columns on ``cpu`` lines grew over time (``steal``
2.6.11, ``guest`` 2.6.24, ``guest_nice`` 2.6.33); absent ones are ``None``.
``guest`` time is already included in ``user`` (and ``guest_nice`` in
``nice``), so do not add them again when summing.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/stat"

CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest",
              "guest_nice")


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuTimes:
    """Ticks spent in each state since boot (one ``cpu`` line)."""

    user_ticks: int
    nice_ticks: int
    system_ticks: int
    idle_ticks: int
    iowait_ticks: int | None = None
    irq_ticks: int | None = None
    softirq_ticks: int | None = None
    steal_ticks: int | None = None
    guest_ticks: int | None = None
    guest_nice_ticks: int | None = None

    @property
    def total_ticks(self) -> int:
        """All time, without double-counting guest (already inside user/nice)."""
        return sum(
            v or 0
            for v in (self.user_ticks, self.nice_ticks, self.system_ticks, self.idle_ticks,
                      self.iowait_ticks, self.irq_ticks, self.softirq_ticks, self.steal_ticks)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcStat:
    cpu: CpuTimes
    #: per-CPU lines, in order (``cpu0``, ``cpu1`` ...)
    cpus: tuple[CpuTimes, ...]
    interrupts_total: int | None
    context_switches_total: int | None
    boot_time_seconds: int | None
    forks_total: int | None
    procs_running: int | None
    procs_blocked: int | None


def _cpu(parts: list[str], line: str) -> CpuTimes:
    try:
        values = [int(v) for v in parts[1:]]
    except ValueError:
        raise ParseError(SOURCE, f"non-numeric cpu line: {line!r}") from None
    if len(values) < 4:
        raise ParseError(SOURCE, f"cpu line has fewer than 4 fields: {line!r}")
    kw = {f"{name}_ticks": (values[i] if i < len(values) else None)
          for i, name in enumerate(CPU_FIELDS)}
    return CpuTimes(**kw)  # type: ignore[arg-type]


def parse_proc_stat(text: str) -> ProcStat:
    cpu: CpuTimes | None = None
    cpus: list[CpuTimes] = []
    single: dict[str, int] = {}
    intr: int | None = None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        if key == "cpu":
            cpu = _cpu(parts, line)
        elif key.startswith("cpu") and key[3:].isdigit():
            cpus.append(_cpu(parts, line))
        elif key == "intr" and len(parts) > 1:
            intr = _int(parts[1], line)
        elif key in ("ctxt", "btime", "processes", "procs_running", "procs_blocked"):
            if len(parts) < 2:
                raise ParseError(SOURCE, f"no value: {line!r}")
            single[key] = _int(parts[1], line)
    if cpu is None:
        raise ParseError(SOURCE, "no aggregate 'cpu' line")
    return ProcStat(
        cpu=cpu,
        cpus=tuple(cpus),
        interrupts_total=intr,
        context_switches_total=single.get("ctxt"),
        boot_time_seconds=single.get("btime"),
        forks_total=single.get("processes"),
        procs_running=single.get("procs_running"),
        procs_blocked=single.get("procs_blocked"),
    )


def _int(value: str, line: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ParseError(SOURCE, f"non-numeric value: {line!r}") from None
