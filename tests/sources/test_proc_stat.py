"""/proc/stat."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.proc_stat import parse_proc_stat
from tests.conftest import text_fixture


def test_captured_proc_stat() -> None:
    text = text_fixture("linux-6.18", "proc_stat")
    s = parse_proc_stat(text)
    first = text.splitlines()[0].split()
    assert s.cpu.user_ticks == int(first[1])
    assert s.cpu.guest_nice_ticks == int(first[10])
    assert len(s.cpus) == 2
    assert s.context_switches_total is not None and s.context_switches_total > 0
    assert s.forks_total is not None and s.procs_running is not None and s.procs_running >= 1
    # guest time is inside user time: total must not count it twice
    assert s.cpu.total_ticks == sum(int(v) for v in first[1:9])


def test_old_kernel_cpu_line_without_steal_and_guest() -> None:
    s = parse_proc_stat("cpu 10 0 5 100 1 0 0\nctxt 7\n")
    assert s.cpu.steal_ticks is None and s.cpu.guest_ticks is None
    assert s.cpu.total_ticks == 116
    assert s.interrupts_total is None


@pytest.mark.parametrize("text", ["", "ctxt 5\n", "cpu a b c d\n", "cpu 1 2\n"])
def test_malformed_proc_stat(text: str) -> None:
    with pytest.raises(ParseError):
        parse_proc_stat(text)


@pytest.mark.live
def test_live_proc_stat() -> None:
    assert parse_proc_stat(Path("/proc/stat").read_text()).boot_time_seconds
