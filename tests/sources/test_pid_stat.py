"""/proc/PID/stat: comm with spaces and ')', kernel threads, old kernels; the bytes head parser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.pid_stat import PF_KTHREAD, parse_pid_stat, parse_stat_head
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


def _head_of(text: str) -> tuple[str, str, int, int, int]:
    s = parse_pid_stat(text)
    return (s.comm, s.state, s.ppid, s.flags, s.starttime_ticks)


@pytest.mark.parametrize("name", ["pid_stat", "pid_stat_kthread"])
def test_head_agrees_with_the_full_parse(name: str) -> None:
    text = text_fixture("linux-6.18", name)
    assert parse_stat_head(text.encode()) == _head_of(text)


def test_head_of_a_comm_with_parens_and_newline() -> None:
    assert parse_stat_head(text_fixture("linux-6.18", "pid_stat").encode())[:3] == ("(a) b)", "T", 7068)
    comm, _, ppid, _, _ = parse_stat_head(b"5 (x\ny) " + b" ".join([b"S"] + [b"1"] * 24) + b"\n")
    assert (comm, ppid) == ("x\ny", 1)


def test_head_decodes_a_non_utf8_comm_with_replacement() -> None:
    comm, *_ = parse_stat_head(b"5 (a\xffb) " + b" ".join([b"S"] + [b"1"] * 24))
    assert comm == "a\ufffdb"


@pytest.mark.parametrize(
    "data",
    [
        b"",  # an empty read: the task died between open and read
        b"1 no-parens S 0",
        b"1 (short) " + b" ".join([b"S"] + [b"1"] * 18),  # starttime missing
        b"1 (bad field) " + b" ".join([b"S"] + [b"1"] * 5 + [b"abc"] + [b"1"] * 17),
    ],
)
def test_malformed_head_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_stat_head(data)


@pytest.mark.live
def test_live_heads_agree_with_the_full_parse() -> None:
    checked = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            data = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue  # exited since the listing
        assert parse_stat_head(data) == _head_of(data.decode("utf-8", "replace")), entry
        checked += 1
    assert checked > 0
