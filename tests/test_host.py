"""Host: live root, directory roots, bundles, and the error each failure gives."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from memsleuth.errors import AccessDenied, BundleError, ProcessGone, SourceMissing
from memsleuth.host import Host


def test_live_host_reads_meminfo_and_knows_itself() -> None:
    host = Host.open()
    assert host.live
    assert host.read("proc/meminfo").startswith(b"MemTotal:")
    assert host.page_size == os.sysconf("SC_PAGE_SIZE")
    assert host.meta.kernel_release == os.uname().release
    assert os.getpid() in host.pids()


def test_missing_file_and_vanished_pid_raise_distinct_errors() -> None:
    host = Host.open()
    with pytest.raises(SourceMissing):
        host.read("proc/no-such-file")
    free_pid = max(host.pids()) + 100000
    with pytest.raises(ProcessGone):
        host.read(f"proc/{free_pid}/status")


def test_directory_root_takes_time_and_identity_from_its_files(tmp_path: Path) -> None:
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/meminfo").write_text("MemTotal: 100 kB\nMemFree: 50 kB\n")
    (tmp_path / "proc/version").write_text("Linux version 2.6.32-754.el6.x86_64 (x) #1 SMP\n")
    (tmp_path / "proc/sys/kernel/hostname").write_text("lb-07\n")
    os.utime(tmp_path / "proc/meminfo", (1_600_000_000, 1_600_000_000))
    host = Host.open(tmp_path)
    assert not host.live
    assert host.meta.hostname == "lb-07"
    assert host.meta.kernel_release == "2.6.32-754.el6.x86_64"
    assert host.meta.captured_at == 1_600_000_000
    assert host.meta.page_size_bytes == 4096


def test_unreadable_file_is_access_denied(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads mode-000 files anyway")
    (tmp_path / "proc").mkdir()
    secret = tmp_path / "proc/slabinfo"
    secret.write_text("x")
    secret.chmod(0)
    with pytest.raises(AccessDenied):
        Host.open(tmp_path).read("proc/slabinfo")


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_truncated_bundle_is_a_clear_error(tmp_path: Path) -> None:
    data = _tar({"proc/meminfo": b"MemTotal: 1 kB\nMemFree: 1 kB\n" * 2000})
    bad = tmp_path / "cut.tar.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="truncated"):
        Host.open(bad)


def test_foreign_files_are_rejected(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(BundleError):
        Host.open(text)
    other = tmp_path / "other.tar.gz"
    other.write_bytes(_tar({"etc/passwd": b"root:x:0:0::/root:/bin/sh\n"}))
    with pytest.raises(BundleError, match="not a memsleuth bundle"):
        Host.open(other)
    gz = tmp_path / "plain.gz"
    gz.write_bytes(gzip.compress(b"not a tar"))
    with pytest.raises(BundleError):
        Host.open(gz)


def test_unsafe_member_names_are_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(_tar({"proc/meminfo": b"MemTotal: 1 kB\n", "../escape": b"x"}))
    with pytest.raises(BundleError, match="unsafe"):
        Host.open(evil)


def test_missing_root_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such"):
        Host.open(tmp_path / "nope.tar.gz")
