"""/proc/buddyinfo on kernel 6.18 and on CentOS 6 (2.6.32)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.buddyinfo import parse_buddyinfo
from memsleuth.sources.zoneinfo import parse_zoneinfo
from tests.conftest import text_fixture


def test_modern_buddyinfo() -> None:
    b = parse_buddyinfo(text_fixture("linux-6.18", "proc_buddyinfo"))
    assert b.orders == 11
    assert [(z.node, z.zone) for z in b.zones] == [(0, "DMA"), (0, "DMA32"), (0, "Normal")]
    dma = b.zone(0, "DMA")
    assert dma is not None and dma.free_blocks == (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3)
    assert dma.free_pages == 256 + 512 + 3 * 1024
    normal = b.zone(0, "Normal")
    assert normal is not None and normal.free_blocks[0] == 3942 and normal.free_blocks[10] == 247
    assert normal.free_pages_at_or_above(10) == 247 * 1024
    assert b.zone(1, "Normal") is None


def test_centos6_buddyinfo_matches_zoneinfo_free_pages() -> None:
    b = parse_buddyinfo(text_fixture("centos6-2.6.32", "proc_buddyinfo"))
    z = parse_zoneinfo(text_fixture("centos6-2.6.32", "proc_zoneinfo"))
    assert [(x.node, x.zone) for x in b.zones] == [(0, "DMA"), (0, "DMA32"), (0, "Normal"), (1, "Normal")]
    for bz in b.zones:
        zone = z.zone(bz.node, bz.zone)
        assert zone is not None and bz.free_pages == zone.free_pages
    assert b.free_pages == 9001452 // 4  # MemFree
    n1 = b.zone(1, "Normal")
    assert n1 is not None and n1.free_blocks[10] == 0  # fragmented: no order-10 blocks left


@pytest.mark.parametrize("text", [
    "",
    "Node 0, zone DMA\n",
    "Node 0 zone DMA 1 2 3\n",
    "Node 0, zone DMA 1 2 x\n",
    "Node 0, zone DMA 1 2 3\nNode 0, zone Normal 1 2\n",
])
def test_malformed_buddyinfo_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_buddyinfo(text)


@pytest.mark.live
def test_live_buddyinfo_parses() -> None:
    b = parse_buddyinfo(Path("/proc/buddyinfo").read_text())
    assert b.orders >= 1 and b.free_pages >= 0
