"""/proc/PID/numa_maps: policy, names, per-node counts, omitted zeros."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.numa_maps import bytes_per_node, pages_per_node, parse_numa_maps
from memsleuth.sources.smaps import parse_smaps_rollup
from tests.conftest import text_fixture


def test_numa_maps_fixture() -> None:
    entries = parse_numa_maps(text_fixture("linux-6.18", "pid_numa_maps"))
    assert len(entries) == 128  # maps minus [vsyscall], which is not a VMA
    by_start = {e.start: e for e in entries}
    heap = by_start[0x55ABA32F9000]
    assert heap.heap and heap.file is None and heap.policy == "default"
    assert (heap.anon_pages, heap.dirty_pages, heap.pages, heap.mapmax) == (545, 545, 545, 2)
    assert heap.active_pages == 0
    assert heap.node_pages == {0: 545}
    assert heap.kernelpagesize_bytes == 4096
    spaced = by_start[0x7F69B51F3000]
    assert spaced.file == "/tmp/memsleuth fixture/mapped file.bin"  # \040 decoded
    assert spaced.dirty_pages == 13 and spaced.anon_pages == 0  # absent anon= is 0
    libc = by_start[0x7F69B5844000]
    assert libc.pages == 252 and libc.mapmax == 10
    assert libc.active_pages == 252  # no active= means all active
    assert entries[-1].stack
    empty = by_start[0x7F69B607E000]  # [vvar]: no pages, nothing after the policy
    assert empty.pages == 0 and empty.kernelpagesize_bytes is None and not empty.node_pages


def test_node_totals_agree_with_rollup() -> None:
    entries = parse_numa_maps(text_fixture("linux-6.18", "pid_numa_maps"))
    assert pages_per_node(entries) == {0: 4043}
    rollup = parse_smaps_rollup(text_fixture("linux-6.18", "pid_smaps_rollup"))
    # numa_maps skips special pages (the vdso) that smaps counts in Rss
    assert 0 <= rollup.rss_bytes - bytes_per_node(entries)[0] <= 2 * 4096


def test_policies_with_spaces_flags_and_hugetlb() -> None:
    text = (
        "7f0000000000 prefer (many):0-1 anon=3 dirty=3 N0=1 N1=2 kernelpagesize_kB=4\n"
        "7f0000100000 weighted interleave:0-3 file=/a\\075b\\011c mapped=4 N2=4"
        " kernelpagesize_kB=4\n"
        "7f0000200000 bind=static:1 file=/dev/hugepages/x huge dirty=2 N1=2"
        " kernelpagesize_kB=2048\n"
        "7f0000400000 interleave=relative:0-1 stack anon=1 dirty=1 active=0 swapcache=1"
        " writeback=1 N0=1 kernelpagesize_kB=4\n"
    )
    a, b, c, d = parse_numa_maps(text)
    assert a.policy == "prefer (many):0-1" and a.node_pages == {0: 1, 1: 2} and a.pages == 3
    assert b.policy == "weighted interleave:0-3" and b.file == "/a=b\tc" and b.pages == 4
    assert c.policy == "bind=static:1" and c.huge and c.active_pages is None
    assert d.stack and (d.swapcache_pages, d.writeback_pages, d.active_pages) == (1, 1, 0)
    assert pages_per_node([a, b, c, d]) == {0: 2, 1: 4, 2: 4}
    assert bytes_per_node([c]) == {1: 2 * 2048 * 1024}


@pytest.mark.parametrize(
    "text",
    [
        "7f0000000000\n",
        "nothex default N0=1\n",
        "7f0000000000 default anon=x N0=1\n",
        "7f0000000000 default N0=1 bogusword\n",
    ],
)
def test_malformed_numa_maps_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_numa_maps(text)


@pytest.mark.live
def test_live_self_numa_maps() -> None:
    path = Path("/proc/self/numa_maps")
    if not path.exists():
        pytest.skip("kernel without CONFIG_NUMA")
    entries = parse_numa_maps(path.read_text())
    assert sum(pages_per_node(entries).values()) > 0
