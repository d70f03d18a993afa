"""/proc/PID/stat: comm with spaces and ')', kernel threads, old kernels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.pid_stat import PF_KTHREAD, parse_pid_stat
from tests.conftest import text_fixture


def test_comm_with_spaces_and_parens_splits_at_last_paren() -> None:
    s = parse_pid_stat(text_fixture("linux-6.18", "pid_stat"))
    assert s.pid == 7109
    assert s.comm == "(a) b)"
    assert s.state == "T"
    assert (s.ppid, s.pgrp, s.session) == (7068, 7062, 2684)
    assert s.flags == 4194304 and not s.is_kernel_thread
    assert (s.minflt, s.majflt) == (3010, 3)
    assert (s.utime_ticks, s.stime_ticks) == (1, 1)
    assert s.num_threads == 2
    assert s.starttime_ticks == 768052
    assert s.vsize_bytes == 93400 * 1024  # == VmSize in the status captured with it
    assert s.rss_pages == 3969
    assert s.rsslim_bytes == 2**64 - 1  # RLIM_INFINITY
    assert s.processor == 1
    assert s.exit_code == 19  # field 52 is printed on 6.18


def test_kernel_thread_flag() -> None:
    s = parse_pid_stat(text_fixture("linux-6.18", "pid_stat_kthread"))
    assert (s.pid, s.comm, s.ppid) == (2, "kthreadd", 0)
    assert s.flags & PF_KTHREAD
    assert s.is_kernel_thread
    assert s.vsize_bytes == 0 and s.rss_pages == 0


def test_comm_with_newline() -> None:
    # stat does not escape comm; a newline in it must not break the parse
    s = parse_pid_stat("5 (x\ny) " + " ".join(["S"] + ["1"] * 24) + "\n")
    assert s.comm == "x\ny"
    assert s.ppid == 1


def test_old_kernel_without_trailing_fields() -> None:
    # 2.6.9-style: fields up to rt_priority/policy only (41 fields)
    fields = ["R"] + [str(i) for i in range(4, 42)]
    s = parse_pid_stat("10 (old) " + " ".join(fields))
    assert s.rsslim_bytes == 25
    assert s.policy == 41
    assert s.delayacct_blkio_ticks is None
    assert s.guest_time_ticks is None
    assert s.exit_code is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1 no-parens S 0",
        "1 (short) S 0 1 2",
        "x (bad pid) " + " ".join(["S"] + ["1"] * 24),
        "1 (bad field) " + " ".join(["S"] + ["1"] * 10 + ["abc"] + ["1"] * 13),
    ],
)
def test_malformed_stat_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pid_stat(text)


@pytest.mark.live
def test_live_self_stat() -> None:
    s = parse_pid_stat(Path("/proc/self/stat").read_text())
    assert s.pid == os.getpid()
    assert s.ppid == os.getppid()
    assert not s.is_kernel_thread
    assert s.vsize_bytes > 0 and s.rss_pages > 0
