"""Cgroup memory files: ``/proc/PID/cgroup``, ``memory.stat`` (v1 and v2),
``cgroup.stat``, single-value files, and ``/proc/cgroups``.

Units: v1 and v2 ``memory.stat`` sizes are bytes; event counters
(``pgfault``, ``workingset_refault_*``) are counts.  v1 ``memory.limit_in_bytes``
reads 9223372036854771712 (PAGE_COUNTER_MAX x page size) when unlimited;
v2 ``memory.max`` reads ``max``.  Both become ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError
from memsleuth.sources._kv import parse_space_kv

SOURCE = "cgroup"
_V1_UNLIMITED = 0x7FFFFFFFFFFFF000


def parse_pid_cgroup(text: str) -> dict[str, str]:
    """``4:memory:/a/b`` lines -> {controller: path}; v2's ``0::/p`` is key ``""``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(":", 2)
        if len(parts) != 3:
            raise ParseError("proc/PID/cgroup", f"bad line {line!r}")
        for controller in parts[1].split(","):
            out[controller.removeprefix("name=")] = parts[2]
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryStat:
    version: int
    #: every key, raw (bytes or counts as the kernel prints)
    values: Mapping[str, int] = field(default_factory=dict)

    def get(self, key: str) -> int | None:
        return self.values.get(key)

    @property
    def anon_bytes(self) -> int | None:
        return self.values.get("anon" if self.version == 2 else "rss")

    @property
    def file_bytes(self) -> int | None:
        return self.values.get("file" if self.version == 2 else "cache")

    @property
    def shmem_bytes(self) -> int | None:
        return self.values.get("shmem")

    @property
    def slab_reclaimable_bytes(self) -> int | None:
        return self.values.get("slab_reclaimable")

    @property
    def slab_unreclaimable_bytes(self) -> int | None:
        return self.values.get("slab_unreclaimable")


def parse_memory_stat(text: str) -> MemoryStat:
    values = parse_space_kv(text, "memory.stat")
    version = 2 if ("anon" in values or "file" in values) and "rss" not in values else 1
    return MemoryStat(version=version, values=MappingProxyType(values))


def parse_limit(text: str) -> int | None:
    """memory.max / memory.limit_in_bytes: ``None`` means unlimited."""
    value = text.strip()
    if value == "max":
        return None
    try:
        n = int(value)
    except ValueError:
        raise ParseError(SOURCE, f"bad limit {value!r}") from None
    return None if n >= _V1_UNLIMITED else n


def parse_counter(text: str) -> int:
    """memory.usage_in_bytes, memory.kmem.usage_in_bytes, memory.current."""
    try:
        return int(text.strip())
    except ValueError:
        raise ParseError(SOURCE, f"bad counter {text.strip()!r}") from None


def parse_cgroup_stat(text: str) -> dict[str, int]:
    return parse_space_kv(text, "cgroup.stat")


@dataclass(frozen=True, slots=True, kw_only=True)
class Subsystem:
    name: str
    hierarchy: int
    num_cgroups: int
    enabled: bool


def parse_proc_cgroups(text: str) -> tuple[Subsystem, ...]:
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 4:
            raise ParseError("proc/cgroups", f"bad line {line!r}")
        try:
            out.append(Subsystem(name=parts[0], hierarchy=int(parts[1]),
                                 num_cgroups=int(parts[2]), enabled=parts[3] == "1"))
        except ValueError:
            raise ParseError("proc/cgroups", f"bad line {line!r}") from None
    return tuple(out)


def systemd_unit_of(path: str) -> str | None:
    """The systemd unit or container a cgroup path stands for, if any."""
    for part in reversed(path.strip("/").split("/")):
        if part.endswith((".service", ".scope", ".slice")):
            return part
        for prefix in ("docker-", "cri-containerd-", "crio-", "libpod-"):
            if part.startswith(prefix):
                return "container " + part[len(prefix):].split(".")[0][:12]
        if len(part) == 64 and all(c in "0123456789abcdef" for c in part):
            return "container " + part[:12]
    return None
