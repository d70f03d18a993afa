"""/proc/PID/status on 6.18 (user process, kernel thread) and CentOS 6."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.pid_status import Ids, parse_pid_status
from tests.conftest import text_fixture


def test_modern_status_in_bytes() -> None:
    s = parse_pid_status(text_fixture("linux-6.18", "pid_status"))
    assert s.name == "(a) b)"
    assert s.state == "T"
    assert (s.tgid, s.pid, s.ppid) == (7109, 7109, 7068)
    assert s.umask == 0o022
    assert s.uid == Ids(real=0, effective=0, saved=0, fs=0)
    assert s.threads == 2
    assert s.kthread is False
    assert s.vm_peak_bytes == 158920 * 1024
    assert s.vm_rss_bytes == 16176 * 1024
    assert s.rss_anon_bytes == 9248 * 1024
    assert s.rss_file_bytes == 6896 * 1024
    assert s.rss_shmem_bytes == 32 * 1024
    assert s.vm_pte_bytes == 88 * 1024
    assert s.vm_swap_bytes == 0
    assert s.vm_pmd_bytes is None  # gone since 5.x
    assert (s.voluntary_ctxt_switches, s.nonvoluntary_ctxt_switches) == (14, 4)
    assert s.mems_allowed_list == (0,)
    assert s.nspid == (7109,)
    # VmRSS is the sum of its three parts
    assert s.vm_rss_bytes == s.rss_anon_bytes + s.rss_file_bytes + s.rss_shmem_bytes


def test_top_columns() -> None:
    s = parse_pid_status(text_fixture("linux-6.18", "pid_status"))
    assert s.virt_bytes == 93400 * 1024
    assert s.res_bytes == 16176 * 1024
    assert s.shr_bytes == (6896 + 32) * 1024


def test_raw_keeps_counts_but_not_masks() -> None:
    s = parse_pid_status(text_fixture("linux-6.18", "pid_status"))
    assert s.raw["THP_enabled"] == 1
    assert s.raw["VmRSS"] == s.vm_rss_bytes
    for mask in ("SigPnd", "CapAmb", "Cpus_allowed", "Mems_allowed", "NStgid", "Uid"):
        assert mask not in s.raw


def test_kernel_thread_has_no_vm_fields() -> None:
    s = parse_pid_status(text_fixture("linux-6.18", "pid_status_kthread"))
    assert s.name == "kthreadd" and s.pid == 2
    assert s.kthread is True
    assert s.vm_size_bytes is None and s.vm_rss_bytes is None
    assert s.rss_file_bytes is None
    assert s.virt_bytes is None and s.res_bytes is None and s.shr_bytes is None
    assert s.threads == 1


def test_centos6_status_has_no_rss_breakdown() -> None:
    s = parse_pid_status(text_fixture("centos6-2.6.32", "pid_status"))
    assert s.name == "sshd" and s.pid == 1834
    assert s.vm_rss_bytes == 1208 * 1024
    assert s.vm_pte_bytes == 156 * 1024
    assert s.vm_swap_bytes == 0
    assert s.rss_anon_bytes is None and s.rss_file_bytes is None and s.rss_shmem_bytes is None
    assert s.shr_bytes is None  # caller falls back to statm's shared
    assert s.umask is None and s.nspid is None and s.vm_pin_bytes is None
    assert s.kthread is None
    assert s.mems_allowed_list == (0, 1)
    assert s.raw["Utrace"] == 0


def test_name_escapes_are_undone() -> None:
    text = "Name:\ta\\nb\\\\c \nState:\tS (sleeping)\nTgid:\t1\nPid:\t1\nPPid:\t0\n"
    s = parse_pid_status(text)
    assert s.name == "a\nb\\c "


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Name:\tx\nState:\tS\nTgid:\t1\nPid:\t1\n",  # no PPid
        "Name:\tx\nState:\tS\nTgid:\t1\nPid:\t1\nPPid:\t0\nVmRSS:\tlots kB\n",
        "Name:\tx\nState:\tS\nTgid:\t1\nPid:\t1\nPPid:\t0\nUid:\t0\t0\n",
        "Name:\tx\nState:\tS\nTgid:\t1\nPid:\t1\nPPid:\t0\nUmask:\t0999\n",
        "Name:\tx\ngarbage line\n",
    ],
)
def test_malformed_status_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pid_status(text)


@pytest.mark.live
def test_live_self_status() -> None:
    s = parse_pid_status(Path("/proc/self/status").read_text())
    assert s.pid == os.getpid()
    assert s.uid is not None and s.uid.real == os.getuid()
    assert s.vm_rss_bytes is not None and s.vm_rss_bytes > 0
