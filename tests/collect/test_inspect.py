"""HostInspector: what attribution reads, from a root shaped like ``/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.collect.inspect import HostInspector
from memsleuth.errors import SourceMissing
from memsleuth.host import Host
from memsleuth.knowledge.attribute import LibraryUse, Machine, ProcessRef, package_version
from tests.conftest import text_fixture

NSS = "/usr/lib/x86_64-linux-gnu/libnss3.so"


def _stat(pid: int, comm: str, ppid: int) -> str:
    return " ".join([str(pid), f"({comm})", "S", str(ppid)] + ["0"] * 48) + "\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    proc = tmp_path / "proc" / "42"
    proc.mkdir(parents=True)
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 1000 kB\n")
    (proc / "stat").write_text(_stat(42, "python3 (x)", 7))
    (proc / "cmdline").write_bytes(b"python3\0-c\0pass\0")
    (proc / "maps").write_text(text_fixture("linux-6.18", "pid_maps"))
    info = tmp_path / "var" / "lib" / "dpkg" / "info"
    info.mkdir(parents=True)
    (info / "libnss3:amd64.list").write_text(f"/.\n/usr\n{NSS}\n")
    (info / "curl.list").write_text("/usr/bin/curl\n")
    (info.parent / "status").write_text(text_fixture("debian-12", "var_lib_dpkg_status"))
    (tmp_path / "usr" / "share" / "doc" / "nss-softokn-3.14.3").mkdir(parents=True)
    return tmp_path


def test_a_host_inspector_is_a_machine(root: Path) -> None:
    machine: Machine = HostInspector(Host.open(str(root)))
    assert not machine.live
    assert list(machine.pids()) == [42]


def test_process_from_stat_and_cmdline(root: Path) -> None:
    m = HostInspector(Host.open(str(root)))
    assert m.process(42) == ProcessRef(pid=42, comm="python3 (x)", cmdline="python3 -c pass", ppid=7,
                                       alive=True)
    assert m.process(43) is None


def test_mapped_files_once_each_in_order_without_deleted(root: Path) -> None:
    files = HostInspector(Host.open(str(root))).mapped_files(42)
    assert files[0] == "/root/.pyenv/versions/3.11.7/bin/python3.11"
    assert len(files) == len(set(files))
    assert "/tmp/memsleuth fixture/gone.bin" in files  # " (deleted)" dropped
    assert "/memfd:memsleuth-memfd" in files
    assert not any(f.startswith("[") or f.endswith(" (deleted)") for f in files)
    assert "/usr/lib/x86_64-linux-gnu/libc.so.6" in files


def test_package_versions_dpkg_doc_dir_then_soname(root: Path) -> None:
    m = HostInspector(Host.open(str(root)))
    # the package's list names the file under another directory: the file name decides
    assert m.package_version("/lib/x86_64-linux-gnu/libnss3.so") == LibraryUse(
        path="/lib/x86_64-linux-gnu/libnss3.so", package="libnss3", version="2:3.87.1-1+deb12u2",
        version_source="dpkg")
    assert m.package_version("/usr/lib64/libsoftokn3.so") == LibraryUse(
        path="/usr/lib64/libsoftokn3.so", package="nss-softokn", version="3.14.3", version_source="doc-dir")
    assert m.package_version("/usr/lib/libfoo.so.1.2") is None
    assert package_version(m, "/usr/lib/libfoo.so.1.2").version == "soname 1.2"


def test_nothing_to_read_is_an_empty_answer(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 1000 kB\n")
    m = HostInspector(Host.open(str(tmp_path)))
    assert list(m.pids()) == []
    assert m.slab_sysfs() is None
    assert list(m.mapped_files(1)) == [] and m.memory_cgroup(1) is None
    assert m.package_version("/usr/lib/libnss3.so") is None
    with pytest.raises(SourceMissing):
        m.environ_has(1, "HOME")  # never from a root or a bundle
