"""/proc/zoneinfo: the 6.18 layout and the 2.6.32 (CentOS 6) layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.vmstat import parse_vmstat
from memsleuth.sources.zoneinfo import parse_zoneinfo, total_low_watermark_pages, totalreserve_pages
from tests.conftest import text_fixture


def test_modern_zoneinfo() -> None:
    info = parse_zoneinfo(text_fixture("linux-6.18", "proc_zoneinfo"))
    assert [(z.node, z.name) for z in info.zones] == [
        (0, "DMA"), (0, "DMA32"), (0, "Normal"), (0, "Movable"), (0, "Device")]
    dma = info.zone(0, "DMA")
    assert dma is not None
    assert (dma.free_pages, dma.min_pages, dma.low_pages, dma.high_pages) == (3840, 36, 45, 54)
    assert (dma.boost_pages, dma.promo_pages, dma.cma_pages) == (0, 63, 0)
    assert (dma.spanned_pages, dma.present_pages, dma.managed_pages) == (4095, 3998, 3840)
    assert dma.protection_pages == (0, 3019, 6859, 6859, 6859)
    assert dma.scanned_pages is None and dma.start_pfn == 1 and dma.unreclaimable is False
    normal = info.zone(0, "Normal")
    assert normal is not None and normal.counters["nr_free_pages"] == 777872
    assert "nr_slab_reclaimable" not in normal.counters  # a node counter since 4.8
    assert "count" not in normal.counters and "high_min" not in normal.counters  # pagesets
    # per-node stats sit under the first zone of the node
    assert info.node_stats[0]["nr_slab_reclaimable"] == 41650
    assert info.node_stats[0]["workingset_refault_file"] == 335486
    movable = info.zone(0, "Movable")
    assert movable is not None and not movable.populated and movable.counters == {}
    # unpopulated zones still have watermarks: Movable's low of 32 counts, its reserve is capped at 0
    assert total_low_watermark_pages(info) == 45 + 9275 + 11797 + 32 + 0
    assert totalreserve_pages(info) == 3840 + (3840 + 11130) + 14156
    assert dma.reserve_pages == 3840  # 6859 + 54 capped at managed


def test_centos6_zoneinfo_has_no_managed() -> None:
    info = parse_zoneinfo(text_fixture("centos6-2.6.32", "proc_zoneinfo"))
    assert [(z.node, z.name) for z in info.zones] == [
        (0, "DMA"), (0, "DMA32"), (0, "Normal"), (1, "Normal")]
    assert info.nodes == (0, 1)
    assert info.node_stats == {}
    dma32 = info.zone(0, "DMA32")
    assert dma32 is not None
    assert (dma32.free_pages, dma32.min_pages, dma32.low_pages, dma32.high_pages) == \
        (180000, 1022, 1277, 1533)
    assert (dma32.spanned_pages, dma32.present_pages) == (1044480, 748000)
    assert dma32.managed_pages is None and dma32.boost_pages is None and dma32.promo_pages is None
    assert dma32.scanned_pages == 0
    assert dma32.protection_pages == (0, 0, 29254, 29254)
    assert dma32.counters["nr_slab_reclaimable"] == 384240
    assert "prev_priority" not in dma32.counters
    # the zones add up to /proc/vmstat's node-less totals
    vm = parse_vmstat(text_fixture("centos6-2.6.32", "proc_vmstat"))
    for key in ("nr_free_pages", "nr_slab_reclaimable", "nr_anon_pages", "nr_file_pages"):
        assert sum(z.counters[key] for z in info.zones) == vm.counters[key], key
    assert sum(z.present_pages or 0 for z in info.zones) * 4 == 65922868  # MemTotal kB
    # calculate_totalreserve_pages(): DMA's 32173 + 7 is capped at its 3836 present pages
    assert totalreserve_pages(info) == 3836 + (29254 + 1533) + 15352 + 16899 == 66874
    assert total_low_watermark_pages(info) == 6 + 1277 + 12793 + 14082


@pytest.mark.parametrize("text", [
    "",
    "  pages free 5\n",
    "Node 0, zone DMA\n        min 1\n        low 2\n        high 3\n",
    "Node 0, zone DMA\n  pages free x\n",
    "Node 0, zone DMA\n  pages free 1\n  min 1\n  low 2\n  high 3\n  protection: 0, 1\n",
    "Node 0, zone DMA\n  pages free 1\n  min 1\n  low 2\n  high 3\n  nr_free_pages 1 2\n",
])
def test_malformed_zoneinfo_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_zoneinfo(text)


@pytest.mark.live
def test_live_zoneinfo_parses() -> None:
    info = parse_zoneinfo(Path("/proc/zoneinfo").read_text())
    assert info.zones and totalreserve_pages(info) >= 0
