"""/proc/loadavg."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.loadavg import parse_loadavg
from tests.conftest import text_fixture


def test_loadavg() -> None:
    a = parse_loadavg(text_fixture("linux-6.18", "proc_loadavg"))
    assert (a.load1, a.load5, a.load15) == (4.82, 3.28, 1.53)
    assert a.nr_running == 4
    assert a.nr_threads == 101
    assert a.last_pid == 23770


@pytest.mark.parametrize(
    "text", ["", "1.0 2.0 3.0 1/2\n", "1.0 2.0 3.0 12 345\n", "1.0 x 3.0 1/2 345\n", "1 2 3 1/a 4\n"]
)
def test_malformed_loadavg_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_loadavg(text)


@pytest.mark.live
def test_live_loadavg_parses() -> None:
    a = parse_loadavg(Path("/proc/loadavg").read_text())
    assert a.load1 >= 0 and 1 <= a.nr_running <= a.nr_threads
