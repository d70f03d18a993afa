"""NUMA node meminfo, numastat and cpulist: this VM's node and a 2-node host."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.meminfo import parse_meminfo
from memsleuth.sources.node import (
    format_cpulist,
    parse_cpulist,
    parse_node_meminfo,
    parse_numastat,
)
from tests.conftest import text_fixture

KIB = 1024


def test_modern_node_meminfo() -> None:
    n = parse_node_meminfo(text_fixture("linux-6.18", "node0_meminfo"))
    assert n.node == 0
    m = n.meminfo
    assert m.mem_total_bytes == 6777036 * KIB
    assert m.mem_free_bytes == 6112604 * KIB
    assert n.mem_used_bytes == m.mem_total_bytes - m.mem_free_bytes
    assert m.k_reclaimable_bytes is not None and m.sec_page_tables_bytes == 0
    assert m.huge_pages_total == 0 and m.huge_pages_free == 0  # counts
    # system-only lines are absent, not zero
    assert m.mem_available_bytes is None and m.cached_bytes is None
    assert m.swap_total_bytes is None and m.committed_as_bytes is None
    assert n.file_pages_bytes is not None and m.shmem_bytes is not None
    assert n.file_pages_bytes >= m.shmem_bytes
    assert "Node" not in " ".join(m.raw)


def test_two_nodes_add_up_to_the_host() -> None:
    host = parse_meminfo(text_fixture("centos6-2.6.32", "proc_meminfo"))
    n0 = parse_node_meminfo(text_fixture("numa-2node", "node0_meminfo"))
    n1 = parse_node_meminfo(text_fixture("numa-2node", "node1_meminfo"))
    assert (n0.node, n1.node) == (0, 1)
    assert n0.meminfo.mem_total_bytes == 32957296 * KIB  # node 0's present pages
    assert n1.meminfo.mem_total_bytes == 32965572 * KIB
    assert n0.meminfo.slab_bytes == 19766760 * KIB
    assert n1.meminfo.anon_huge_pages_bytes == 4268032 * KIB
    assert n0.meminfo.k_reclaimable_bytes is None  # 2.6.32 has no KReclaimable

    def total(attr: str) -> int:
        a, b = getattr(n0.meminfo, attr), getattr(n1.meminfo, attr)
        assert a is not None and b is not None
        return int(a) + int(b)

    for attr in (
        "mem_total_bytes", "mem_free_bytes", "slab_bytes", "s_reclaimable_bytes",
        "s_unreclaim_bytes", "anon_pages_bytes", "anon_huge_pages_bytes", "active_bytes",
        "inactive_bytes", "kernel_stack_bytes", "page_tables_bytes", "shmem_bytes",
    ):  # fmt: skip
        assert total(attr) == getattr(host, attr), attr
    assert n0.file_pages_bytes is not None and n1.file_pages_bytes is not None
    assert host.buffers_bytes is not None and host.cached_bytes is not None
    assert n0.file_pages_bytes + n1.file_pages_bytes == host.buffers_bytes + host.cached_bytes


def test_numastat_bookkeeping() -> None:
    s0 = parse_numastat(text_fixture("numa-2node", "node0_numastat"))
    s1 = parse_numastat(text_fixture("numa-2node", "node1_numastat"))
    assert s0.numa_hit == 9482113644 and s0.numa_miss == 18233741
    assert s0.interleave_hit == 64213 and s1.other_node == 40404436
    for s in (s0, s1):
        assert s.numa_hit is not None and s.numa_miss is not None
        assert s.local_node is not None and s.other_node is not None
        assert s.numa_hit + s.numa_miss == s.local_node + s.other_node
    assert s0.numa_foreign == s1.numa_miss and s1.numa_foreign == s0.numa_miss


def test_modern_numastat() -> None:
    s = parse_numastat(text_fixture("linux-6.18", "node0_numastat"))
    assert s.numa_hit == s.local_node  # one node: every allocation is local
    assert s.numa_miss == 0 and s.other_node == 0 and s.numa_foreign == 0
    assert s.raw["interleave_hit"] == s.interleave_hit


def test_cpulists() -> None:
    assert parse_cpulist(text_fixture("linux-6.18", "node0_cpulist")) == (0, 1)
    node0 = parse_cpulist(text_fixture("numa-2node", "node0_cpulist"))
    node1 = parse_cpulist(text_fixture("numa-2node", "node1_cpulist"))
    assert node0 == (*range(0, 8), *range(16, 24))
    assert node1 == (*range(8, 16), *range(24, 32))
    assert sorted(node0 + node1) == list(range(32))
    assert format_cpulist(node0) == "0-7,16-23"
    assert format_cpulist(node1) == "8-15,24-31"


def test_cpulist_edge_cases() -> None:
    assert parse_cpulist("\n") == ()  # a CPU-less (memory-only) node
    assert parse_cpulist("5") == (5,)
    assert parse_cpulist("0-7:2") == (0, 2, 4, 6)
    assert parse_cpulist("3,1-2,2") == (1, 2, 3)
    assert format_cpulist([]) == ""
    assert format_cpulist([7, 0, 1, 2, 5, 6]) == "0-2,5-7"
    assert format_cpulist([4]) == "4"


@pytest.mark.parametrize("text", ["a-b", "3-1", "-1", "1-", "1,,2", "0-3:0"])
def test_malformed_cpulist_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_cpulist(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "MemTotal: 10 kB\nMemFree: 5 kB\n",  # no Node prefix
        "Node 0 MemTotal: 10 kB\nNode 1 MemFree: 5 kB\n",  # two nodes
        "Node x MemTotal: 10 kB\nNode x MemFree: 5 kB\n",
        "Node 0 MemFree: 5 kB\n",  # no MemTotal
    ],
)
def test_malformed_node_meminfo_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_node_meminfo(text)


@pytest.mark.parametrize("text", ["", "numa_hit\n", "numa_hit many\n"])
def test_malformed_numastat_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_numastat(text)


@pytest.mark.live
def test_live_nodes_parse() -> None:
    root = Path("/sys/devices/system/node")
    nodes = sorted(root.glob("node[0-9]*"))
    if not nodes:
        pytest.skip("no CONFIG_NUMA")
    cpus: list[int] = []
    for d in nodes:
        n = parse_node_meminfo((d / "meminfo").read_text())
        assert f"node{n.node}" == d.name
        assert parse_numastat((d / "numastat").read_text()).numa_hit is not None
        cpus.extend(parse_cpulist((d / "cpulist").read_text()))
    online = parse_cpulist(Path("/sys/devices/system/cpu/online").read_text())
    assert sorted(cpus) == list(online)
