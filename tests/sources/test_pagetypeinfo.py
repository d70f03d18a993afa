"""/proc/pagetypeinfo on kernel 6.18, plus a 2-node 2.6.32-style text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.buddyinfo import parse_buddyinfo
from memsleuth.sources.pagetypeinfo import parse_pagetypeinfo
from tests.conftest import text_fixture


def test_modern_pagetypeinfo() -> None:
    p = parse_pagetypeinfo(text_fixture("linux-6.18", "proc_pagetypeinfo"))
    assert (p.page_block_order, p.pages_per_block) == (9, 512)
    assert p.orders == tuple(range(11))
    assert p.migrate_types == ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")
    assert len(p.free) == 15  # 3 zones x 5 types
    dma32 = p.free_of(0, "DMA32", "Movable")
    assert dma32 is not None and dma32.free_blocks[10] == 752 and dma32.capped_orders == ()
    blocks = p.blocks_of(0, "Normal")
    assert blocks is not None
    assert dict(blocks.pageblocks) == {"Unmovable": 158, "Movable": 1646, "Reclaimable": 116,
                                       "HighAtomic": 0, "Isolate": 0}
    assert p.mixed_blocks is None
    # only online memory is counted: 1920 blocks x 512 = the Normal zone's managed pages
    assert sum(blocks.pageblocks.values()) * p.pages_per_block == 1920 * 512


def test_migrate_types_add_up_to_buddyinfo_when_read_together() -> None:
    p = parse_pagetypeinfo(text_fixture("linux-6.18", "proc_pagetypeinfo"))
    b = parse_buddyinfo(text_fixture("linux-6.18", "proc_buddyinfo"))
    # DMA and DMA32 do not move on an idle host; Normal does between two reads
    for zone in ("DMA", "DMA32"):
        bz = b.zone(0, zone)
        assert bz is not None
        assert sum(f.free_pages for f in p.free if f.zone == zone) == bz.free_pages


OLD_TYPES = ("Unmovable", "Reclaimable", "Movable", "Reserve", "Isolate")


def layout(node_rows: dict[int, dict[str, list[int | str]]], blocks: dict[int, list[int]],
           types: tuple[str, ...] = OLD_TYPES, orders: int = 11, mixed: bool = False) -> str:
    """The kernel's layout (``pagetypeinfo_show``), headers repeated per node, trailing blanks kept."""
    out = []
    for node, rows in node_rows.items():
        out += ["Page block order: 9", "Pages per block:  512", ""]
        out.append("Free pages count per migrate type at order "
                   + "".join(f"{o:6d} " for o in range(orders)))
        for mtype, counts in rows.items():
            out.append(f"Node {node:4d}, zone {'Normal':>8}, type {mtype:>12} "
                       + "".join(f"{c:>6} " for c in counts))
        out.append("")
        titles = ["Number of blocks type    "] + (["Number of mixed blocks   "] if mixed else [])
        for title in titles:
            out.append(title + "".join(f"{t:>12} " for t in types))
            out.append(f"Node {node}, zone {'Normal':>8} " + "".join(f"{c:12d} " for c in blocks[node]))
    return "\n".join(out) + "\n"


TWO_NODES_OLD = layout(
    {0: {"Unmovable": [311, 90, 21, 3, 0, 0, 0, 0, 0, 0, 0],
         "Reclaimable": [">100000", 61234, 9820, 2011, 403, 58, 7, 1, 1, 0, 0],
         "Movable": [4000, 117, 470, 0, 0, 0, 0, 0, 0, 0, 0],
         "Reserve": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
         "Isolate": [0] * 11},
     1: {"Unmovable": [12, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         "Reclaimable": [99000, 70000, 9000, 2000, 400, 60, 9, 2, 1, 1, 0],
         "Movable": [3000, 104, 400, 0, 0, 0, 0, 0, 0, 0, 0],
         "Reserve": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
         "Isolate": [0] * 11}},
    {0: [412, 12203, 2006, 2, 0], 1: [301, 13490, 2303, 2, 0]},
)


def test_two_nodes_reserve_type_and_capped_counts() -> None:
    p = parse_pagetypeinfo(TWO_NODES_OLD)
    assert p.migrate_types == ("Unmovable", "Reclaimable", "Movable", "Reserve", "Isolate")
    assert len(p.free) == 10 and len(p.blocks) == 2
    rec = p.free_of(0, "Normal", "Reclaimable")
    assert rec is not None and rec.free_blocks[0] == 100000 and rec.capped_orders == (0,)
    n1 = p.blocks_of(1, "Normal")
    assert n1 is not None and n1.pageblocks["Reserve"] == 2


MIXED = layout({0: {"Unmovable": [1, 2], "Movable": [3, 4]}}, {0: [10, 20]},
               types=("Unmovable", "Movable"), orders=2, mixed=True)


def test_mixed_blocks_table() -> None:
    p = parse_pagetypeinfo(MIXED)
    assert p.orders == (0, 1)
    assert p.mixed_blocks is not None
    assert dict(p.mixed_blocks[0].pageblocks) == {"Unmovable": 10, "Movable": 20}
    assert dict(p.blocks[0].pageblocks) == {"Unmovable": 10, "Movable": 20}


@pytest.mark.parametrize("text", [
    "",
    "Page block order: 9\n",
    "Page block order: x\nPages per block:  512\n",
    MIXED.replace("          10           20 ", "          10 "),
    MIXED.replace("      3      4 ", "      3 "),
    MIXED.replace("Movable      3", "Movable      x"),
    MIXED.replace("Number of blocks type", "Number of blokcs type"),
])
def test_malformed_pagetypeinfo_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pagetypeinfo(text)


@pytest.mark.live
def test_live_pagetypeinfo_parses() -> None:
    path = Path("/proc/pagetypeinfo")
    if not os.access(path, os.R_OK):
        pytest.skip("/proc/pagetypeinfo is mode 0400 since 5.4: needs root")
    p = parse_pagetypeinfo(path.read_text())
    assert p.free and p.blocks
