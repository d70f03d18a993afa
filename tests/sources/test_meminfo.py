"""/proc/meminfo on kernel 6.18 and on CentOS 6 (2.6.32)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.meminfo import FIELDS, parse_meminfo
from tests.conftest import text_fixture


def test_modern_meminfo_has_every_field_in_bytes() -> None:
    m = parse_meminfo(text_fixture("linux-6.18", "proc_meminfo"))
    assert m.mem_total_bytes == 24684084 * 1024
    assert m.mem_available_bytes is not None
    assert m.k_reclaimable_bytes is not None and m.percpu_bytes is not None
    assert m.huge_pages_total == 0  # a count, not bytes
    assert m.hugepagesize_bytes == 2048 * 1024
    # every key the kernel printed is kept, typed or not
    assert set(m.raw) >= {k for k in FIELDS if k in m.raw}
    assert m.raw["MemTotal"] == m.mem_total_bytes


def test_centos6_meminfo_has_no_memavailable() -> None:
    m = parse_meminfo(text_fixture("centos6-2.6.32", "proc_meminfo"))
    assert m.mem_total_bytes == 65922868 * 1024
    assert m.slab_bytes == 39242216 * 1024
    assert m.s_reclaimable_bytes == 38506072 * 1024
    assert m.s_unreclaim_bytes == 736144 * 1024
    assert m.mem_available_bytes is None
    assert m.k_reclaimable_bytes is None
    assert m.percpu_bytes is None
    assert m.hardware_corrupted_bytes == 0  # printed as 0 is 0, absent is None


def test_unknown_keys_are_kept_raw() -> None:
    m = parse_meminfo("MemTotal: 10 kB\nMemFree: 5 kB\nFutureThing:  7 kB\nCount:  3\n")
    assert m.raw["FutureThing"] == 7 * 1024
    assert m.raw["Count"] == 3


@pytest.mark.parametrize(
    "text",
    ["", "MemFree: 5 kB\n", "MemTotal 10 kB\nMemFree: 5 kB\n", "garbage\n"],
)
def test_malformed_meminfo_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_meminfo(text)


@pytest.mark.live
def test_live_meminfo_parses() -> None:
    m = parse_meminfo(Path("/proc/meminfo").read_text())
    assert m.mem_free_bytes <= m.mem_total_bytes
