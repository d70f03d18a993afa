"""/proc/net/sockstat and sockstat6."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.sockstat import parse_sockstat, parse_sockstat6
from memsleuth.sources.sysctl import parse_int_vector
from tests.conftest import text_fixture


def test_sockstat() -> None:
    s = parse_sockstat(text_fixture("linux-6.18", "proc_net_sockstat"))
    assert s.sockets_used == 13
    assert (s.tcp_inuse, s.tcp_orphan, s.tcp_tw, s.tcp_alloc) == (1, 0, 2, 1)
    assert s.tcp_mem_pages == 0
    assert s.udp_inuse == 0 and s.udp_mem_pages == 0
    assert s.udplite_inuse == 0 and s.raw_inuse == 0
    assert s.frag_inuse == 0 and s.frag_memory_bytes == 0
    assert dict(s.protocols["TCP"]) == {"inuse": 1, "orphan": 0, "tw": 2, "alloc": 1, "mem": 0}
    assert list(s.protocols) == ["sockets", "TCP", "UDP", "UDPLITE", "RAW", "FRAG"]


def test_sockstat6() -> None:
    s = parse_sockstat6(text_fixture("linux-6.18", "proc_net_sockstat6"))
    assert s.tcp_inuse == 0 and s.frag_memory_bytes == 0
    assert s.sockets_used is None and s.tcp_mem_pages is None  # not printed for v6
    assert set(s.protocols) == {"TCP6", "UDP6", "UDPLITE6", "RAW6", "FRAG6"}


def test_busy_host_tcp_memory_against_tcp_mem() -> None:
    text = (
        "sockets: used 48213\n"
        "TCP: inuse 41022 orphan 310 tw 18803 alloc 41517 mem 301442\n"
        "UDP: inuse 12 mem 7\n"
        "UDPLITE: inuse 0\n"
        "RAW: inuse 1\n"
        "FRAG: inuse 2 memory 8192\n"
        "MPTCP: inuse 0\n"
    )
    s = parse_sockstat(text)
    low, pressure, high = parse_int_vector(text_fixture("linux-6.18", "proc_sys_net_ipv4_tcp_mem"))
    assert (low, pressure, high) == (287898, 383867, 575796)
    assert s.tcp_mem_pages == 301442
    assert low < s.tcp_mem_pages < pressure  # both in pages: comparable as is
    assert s.frag_memory_bytes == 8192
    assert s.protocols["MPTCP"]["inuse"] == 0  # untyped lines are kept


@pytest.mark.parametrize(
    "text",
    ["", "TCP inuse 1\n", "TCP: inuse\n", "TCP: inuse x\n", "TCP:\n", "TCP: inuse 1\nTCP: inuse 2\n"],
)
def test_malformed_sockstat_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_sockstat(text)


@pytest.mark.live
def test_live_sockstat_parses() -> None:
    s = parse_sockstat(Path("/proc/net/sockstat").read_text())
    assert s.sockets_used is not None and s.tcp_mem_pages is not None


@pytest.mark.live
def test_live_sockstat6_parses() -> None:
    path = Path("/proc/net/sockstat6")
    if not path.exists():
        pytest.skip("IPv6 disabled")
    assert parse_sockstat6(path.read_text()).tcp_inuse is not None
