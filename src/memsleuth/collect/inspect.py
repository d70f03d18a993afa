"""What attribution reads from a :class:`~memsleuth.host.Host`: the
:class:`~memsleuth.knowledge.attribute.Machine` protocol, answered.

:class:`HostInspector` is the machine side of attribution: the live host, a
root directory or a bundle, read through :class:`~memsleuth.host.Host` and
parsed by :mod:`memsleuth.sources`.  Every file that cannot be read (gone,
no permission, not captured) is an empty or ``None`` answer, except the
environment, whose errors the caller turns into a sentence.

Package records are read once per inspector (``/var/lib/dpkg/status`` is
megabytes; ``/usr/share/doc`` and ``/var/lib/dpkg/info`` list thousands of
entries) and kept: an inspector lives for one diagnosis.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

from memsleuth.errors import AccessDenied, ParseError, ProcessGone, SourceMissing
from memsleuth.host import Host
from memsleuth.knowledge.attribute import LibraryUse, ProcessRef, library_packages, library_stem
from memsleuth.sources.cgroup import memory_cgroup_of, parse_pid_cgroup
from memsleuth.sources.dpkg_status import parse_dpkg_status
from memsleuth.sources.maps import parse_vma_header
from memsleuth.sources.pid_stat import parse_stat_head
from memsleuth.sources.slab_sysfs import SlabSysfs, parse_slab_sysfs

_UNREADABLE = (SourceMissing, AccessDenied, ProcessGone)


class HostInspector:
    """:class:`~memsleuth.knowledge.attribute.Machine` over one :class:`~memsleuth.host.Host`."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._dpkg_lists: list[str] | None = None
        self._dpkg_versions: Mapping[str, str] | None = None
        self._docs: list[str] | None = None

    def __repr__(self) -> str:
        return f"HostInspector({self.host!r})"

    @property
    def live(self) -> bool:
        return self.host.live

    def _text(self, path: str) -> str | None:
        try:
            return self.host.read_text(path)
        except _UNREADABLE:
            return None

    def _listing(self, path: str) -> list[str]:
        try:
            return self.host.listdir(path)
        except (SourceMissing, AccessDenied):
            return []

    # -- processes ----------------------------------------------------------
    def pids(self) -> list[int]:
        try:
            return self.host.pids()
        except (SourceMissing, AccessDenied):
            return []

    def process(self, pid: int) -> ProcessRef | None:
        try:
            comm, _, ppid, _, _ = parse_stat_head(self.host.read(f"proc/{pid}/stat"))
        except (*_UNREADABLE, ParseError):
            return None
        return ProcessRef(pid=pid, comm=comm, cmdline=self._cmdline(pid), ppid=ppid, alive=True)

    def _cmdline(self, pid: int) -> str | None:
        try:
            data = self.host.read(f"proc/{pid}/cmdline")
        except _UNREADABLE:
            return None
        text = data.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
        return text or None

    def mapped_files(self, pid: int) -> list[str]:
        text = self._text(f"proc/{pid}/maps")
        if not text:
            return []
        out: dict[str, None] = {}
        for line in text.splitlines():
            try:
                name = parse_vma_header(line)[7]
            except ParseError:
                continue
            if name is not None and name.startswith("/"):
                out[name] = None
        return list(out)

    def memory_cgroup(self, pid: int) -> str | None:
        text = self._text(f"proc/{pid}/cgroup")
        if not text:
            return None
        try:
            return memory_cgroup_of(parse_pid_cgroup(text))
        except ParseError:
            return None

    def environ_has(self, pid: int, key: str) -> str | None:
        return self.host.environ_has(pid, key)

    # -- packages -----------------------------------------------------------
    def package_version(self, path: str) -> LibraryUse | None:
        got = self._dpkg_owner(path)
        if got is not None:
            return LibraryUse(path=path, package=got[0], version=got[1], version_source="dpkg")
        if self.host.live and shutil.which("rpm"):
            got = _rpm_owner(path)
            if got is not None:
                return LibraryUse(path=path, package=got[0], version=got[1], version_source="rpm")
        if self._docs is None:
            self._docs = sorted(self._listing("usr/share/doc"))
        for pkg in library_packages(path):
            for d in self._docs:
                if d.startswith(pkg + "-") and d[len(pkg) + 1:][:1].isdigit():
                    return LibraryUse(path=path, package=pkg, version=d[len(pkg) + 1:],
                                      version_source="doc-dir")
        return None

    def _dpkg_owner(self, path: str) -> tuple[str, str | None] | None:
        if self._dpkg_lists is None:
            try:
                names = self.host.listdir("var/lib/dpkg/info")
            except (SourceMissing, AccessDenied):
                names = []
            self._dpkg_lists = sorted(n for n in names if n.endswith(".list"))
        stem = library_stem(path)
        base = path.rsplit("/", 1)[-1]
        for name in self._dpkg_lists:
            if stem not in name:
                continue
            lines = (self._text(f"var/lib/dpkg/info/{name}") or "").splitlines()
            # /usr/lib64 vs /lib/x86_64-linux-gnu: match the file name within the package's files
            if path in lines or any(line.endswith("/" + base) for line in lines):
                package = name.removesuffix(".list").split(":", 1)[0]
                return package, self._dpkg_version(package)
        return None

    def _dpkg_version(self, package: str) -> str | None:
        if self._dpkg_versions is None:
            self._dpkg_versions = parse_dpkg_status(self._text("var/lib/dpkg/status") or "")
        return self._dpkg_versions.get(package)

    # -- slab ---------------------------------------------------------------
    def slab_sysfs(self) -> SlabSysfs | None:
        try:
            listing = self.host.links("sys/kernel/slab")
        except (SourceMissing, AccessDenied):
            return None
        return parse_slab_sysfs(listing, {}) if listing else None


def _rpm_owner(path: str) -> tuple[str, str] | None:  # pragma: no cover - needs an rpm host
    try:
        proc = subprocess.run(["rpm", "-qf", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n", path],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    line = proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else ""
    name, _, version = line.partition(" ")
    return (name, version) if name and version else None


__all__ = ["HostInspector"]
