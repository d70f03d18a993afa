"""/proc/vmstat on kernel 6.18 and on CentOS 6 (2.6.32)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.vmstat import parse_vmstat
from tests.conftest import text_fixture


def test_modern_vmstat_types_the_counters_that_matter() -> None:
    v = parse_vmstat(text_fixture("linux-6.18", "proc_vmstat"))
    assert v.nr_free_pages == 1554627
    assert v.nr_slab_reclaimable_pages == 41650
    assert v.pgfault == 19348281
    assert v.pgmajfault == 3220
    assert v.pgpgin_bytes == 2475209 * 1024  # printed in KiB
    assert v.drop_slab == 2
    assert v.workingset_refault_file_pages == 335486
    assert v.oom_kill == 0 and v.nr_kernel_misc_reclaimable_pages == 0
    # 4.8+ reclaimer keys; pgscan_anon/file and pgscan_direct_throttle are not added
    assert v.pgscan_pages == sum(v.counters[f"pgscan_{w}"] for w in
                                 ("kswapd", "direct", "khugepaged", "proactive"))
    assert v.allocstall == sum(v.counters[k] for k in v.counters if k.startswith("allocstall_"))
    assert v.get("nr_free_pages_blocks") is not None  # untyped keys stay raw
    assert v.get("no_such_counter") is None


def test_centos6_vmstat_has_per_zone_reclaim_and_no_modern_counters() -> None:
    v = parse_vmstat(text_fixture("centos6-2.6.32", "proc_vmstat"))
    assert v.nr_free_pages == 2250363  # = MemFree 9001452 kB / 4
    assert v.nr_slab_reclaimable_pages == 38506072 // 4  # = SReclaimable
    assert v.nr_slab_unreclaimable_pages == 736144 // 4
    assert v.pgscan_kswapd_pages == 2421884 + 32218960
    assert v.pgscan_direct_pages == 1212 + 60417
    assert v.pgscan_pages == 2421884 + 32218960 + 1212 + 60417
    assert v.pgsteal_pages == 2350145 + 31902256  # pgsteal_<zone>, no reclaimer split
    assert v.pgsteal_kswapd_pages is None and v.pgsteal_direct_pages is None
    assert v.allocstall == 47  # one counter before 4.10
    for absent in ("drop_pagecache", "drop_slab", "oom_kill", "workingset_refault_file_pages",
                   "nr_kernel_misc_reclaimable_pages", "compact_stall"):
        assert getattr(v, absent) is None, absent


def test_workingset_refault_before_the_anon_file_split() -> None:
    v = parse_vmstat("nr_free_pages 1\nworkingset_refault 42\n")
    assert v.workingset_refault_file_pages == 42


@pytest.mark.parametrize("text", ["", "nr_free_pages\n", "nr_free_pages x\n", "a 1 2\n"])
def test_malformed_vmstat_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_vmstat(text)


@pytest.mark.live
def test_live_vmstat_parses() -> None:
    v = parse_vmstat(Path("/proc/vmstat").read_text())
    assert v.nr_free_pages is not None and v.pgfault is not None
