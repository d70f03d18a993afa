"""/proc/PID/statm: seven page counts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.pid_statm import parse_pid_statm
from memsleuth.sources.pid_status import parse_pid_status
from tests.conftest import text_fixture


def test_statm_pages() -> None:
    m = parse_pid_statm(text_fixture("linux-6.18", "pid_statm"))
    assert m.size_pages == 23350
    assert m.resident_pages == 4044
    assert m.shared_pages == 1732
    assert m.text_pages == 1
    assert m.data_pages == 4800
    assert m.lib_pages == 0 and m.dt_pages == 0


def test_statm_agrees_with_status_captured_with_it() -> None:
    page = 4096  # the capture VM's page size
    m = parse_pid_statm(text_fixture("linux-6.18", "pid_statm"))
    s = parse_pid_status(text_fixture("linux-6.18", "pid_status"))
    assert m.size_pages * page == s.vm_size_bytes
    assert m.resident_pages * page == s.vm_rss_bytes
    assert m.shared_pages * page == s.shr_bytes  # top's SHR, both ways
    assert m.text_pages * page == s.vm_exe_bytes
    assert s.vm_data_bytes is not None and s.vm_stk_bytes is not None
    assert m.data_pages * page == s.vm_data_bytes + s.vm_stk_bytes


def test_kernel_thread_statm_is_all_zero() -> None:
    m = parse_pid_statm("0 0 0 0 0 0 0\n")
    assert m.size_pages == 0 and m.resident_pages == 0


@pytest.mark.parametrize("text", ["", "1 2 3 4 5 6", "1 2 3 4 5 6 7 8", "1 2 x 4 5 6 7"])
def test_malformed_statm_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pid_statm(text)


@pytest.mark.live
def test_live_self_statm() -> None:
    m = parse_pid_statm(Path("/proc/self/statm").read_text())
    assert 0 < m.resident_pages <= m.size_pages
    assert m.resident_pages * os.sysconf("SC_PAGE_SIZE") > 1 << 20
