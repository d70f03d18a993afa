"""``memsleuth buddy``: the kernel's index formulas on a hand-made buddyinfo, and the live host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth.analysis.buddy import (
    check_alloc,
    contig_info,
    format_index,
    fragmentation_index,
    order_rows,
    unusable_free_index,
)
from memsleuth.sources.buddyinfo import parse_buddyinfo
from memsleuth.sources.zoneinfo import Zone
from tests.conftest import IS_ROOT, SYSTEM_PYTHON, TEXT, CliResult

HAND = TEXT / "buddy-handmade"
PAGE = 4096


def _zones() -> dict[str, tuple[int, ...]]:
    info = parse_buddyinfo((HAND / "buddyinfo").read_text())
    return {z.zone: z.free_blocks for z in info.zones}


def test_contig_info_as_fill_contig_page_info() -> None:
    normal = _zones()["Normal"]  # 10, 4, 2, 1 blocks at orders 0-3
    # free pages 10 + 4*2 + 2*4 + 1*8 = 34 in 10 + 4 + 2 + 1 = 17 blocks
    assert contig_info(normal, 0).free_pages == 34 and contig_info(normal, 0).free_blocks_total == 17
    # suitable for order 1: 4 + 2<<1 + 1<<2 = 12 blocks of 2 pages
    assert contig_info(normal, 1).free_blocks_suitable == 12
    assert contig_info(normal, 2).free_blocks_suitable == 4  # 2 + 1<<1
    assert contig_info(normal, 3).free_blocks_suitable == 1
    assert contig_info(normal, 4).free_blocks_suitable == 0


def test_fragmentation_index_by_hand() -> None:
    normal = _zones()["Normal"]
    got = [fragmentation_index(o, contig_info(normal, o)) for o in range(11)]
    # orders 0-3: a suitable block exists -> -1000
    # order 4: 1000 - (1000 + 34000 // 16) // 17 = 1000 - 3125 // 17 = 1000 - 183 = 817
    # order 5: 1000 - (1000 + 1062) // 17 = 1000 - 121 = 879
    # order 6: 1000 - (1000 + 531) // 17 = 1000 - 90 = 910
    # order 7: 1000 - (1000 + 265) // 17 = 1000 - 74 = 926
    # order 8: 1000 - (1000 + 132) // 17 = 1000 - 66 = 934
    # order 9: 1000 - (1000 + 66) // 17 = 1000 - 62 = 938
    # order 10: 1000 - (1000 + 33) // 17 = 1000 - 60 = 940
    assert got == [-1000, -1000, -1000, -1000, 817, 879, 910, 926, 934, 938, 940]
    # one free page, order 1: 1000 - (1000 + 1000 // 2) // 1 = -500
    dma = _zones()["DMA"]
    assert fragmentation_index(1, contig_info(dma, 1)) == -500
    # nothing free: 0
    assert fragmentation_index(9, contig_info(_zones()["Movable"], 9)) == 0


def test_unusable_index_by_hand() -> None:
    normal = _zones()["Normal"]
    got = [unusable_free_index(o, contig_info(normal, o)) for o in range(6)]
    # order 0: (34 - 34) * 1000 // 34 = 0
    # order 1: (34 - 12 << 1) * 1000 // 34 = 10000 // 34 = 294
    # order 2: (34 - 4 << 2) * 1000 // 34 = 18000 // 34 = 529
    # order 3: (34 - 1 << 3) * 1000 // 34 = 26000 // 34 = 764
    # order 4, 5: (34 - 0) * 1000 // 34 = 1000
    assert got == [0, 294, 529, 764, 1000, 1000]
    assert unusable_free_index(0, contig_info(_zones()["Movable"], 0)) == 1000  # nothing free


def test_printed_like_the_kernel() -> None:
    # "%2d.%03d" of index / 1000 and index % 1000, with C's truncating division
    assert format_index(-1000) == "-1.000"
    assert format_index(817) == " 0.817"
    assert format_index(0) == " 0.000"
    assert format_index(-500) == " 0.-500"
    assert format_index(294, width=1) == "0.294"  # unusable_index uses "%d.%03d"


def test_order_rows_and_largest_block() -> None:
    rows = order_rows(_zones()["Normal"], PAGE)
    assert [r.free_pages_at_or_above for r in rows[:5]] == [34, 24, 16, 8, 0]
    assert rows[9].block_bytes == 2 << 20


def _zone(free: int, low: int) -> Zone:
    return Zone(node=0, name="Normal", free_pages=free, min_pages=low - 1, low_pages=low,
                high_pages=low + 1, present_pages=1000, protection_pages=(0, 0, 0))


def test_order_checks_watermark_and_block() -> None:
    bz = parse_buddyinfo((HAND / "buddyinfo").read_text()).zone(0, "Normal")
    assert bz is not None
    z = _zone(34, 3)
    nodes = [z]
    # order 3: 34 - 7 = 27 > 3 and one order-3 block: succeeds
    ok = check_alloc(3, bz, z, nodes, None)
    assert ok.ok is True and ok.free_after_pages == 27 and ok.needed_pages == 3
    # order 4: enough pages, but no block of order >= 4
    assert check_alloc(4, bz, z, nodes, None).ok is False
    # low watermark 30: 27 <= 30 fails even though the block exists
    low = check_alloc(3, bz, _zone(34, 30), [_zone(34, 30)], None)
    assert low.ok is False and low.has_block and "watermark" in low.reason
    # the only order-3 block is HighAtomic: not usable by an ordinary allocation
    types = {"Unmovable": (10, 4, 2, 0) + (0,) * 7, "Movable": (0,) * 11,
             "Reclaimable": (0,) * 11, "HighAtomic": (0, 0, 0, 1) + (0,) * 7}
    assert check_alloc(3, bz, z, nodes, types).has_block is False


def test_cli_on_the_handmade_root(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    shutil.copy(HAND / "buddyinfo", tmp_path / "proc" / "buddyinfo")
    res = run_cli("--root", str(tmp_path), "buddy", "--order", "4", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["schema"] == "memsleuth.buddy/1"
    normal = next(z for z in doc["zones"] if z["zone"] == "Normal")
    assert [o["fragmentation_index_milli"] for o in normal["orders"]][3:6] == [-1000, 817, 879]
    assert normal["orders"][4]["fragmentation_index"] == "0.817"
    assert normal["largest_free_order"] == 3 and normal["largest_free_block_bytes"] == 8 * PAGE
    assert [c["order"] for c in normal["checks"]] == [3, 4, 9]
    assert all(c["ok"] is None for c in normal["checks"])  # no zoneinfo: unknown
    assert any("zoneinfo" in n for n in doc["notes"]) and any("pagetypeinfo" in n for n in doc["notes"])
    text = run_cli("--root", str(tmp_path), "buddy", "--explain")
    assert text.code == 0
    assert " 0.-500" in text.out and "External fragmentation" in text.out
    bad = run_cli("--root", str(tmp_path), "buddy", "--order", "11")
    assert bad.code == 2 and "largest order is 10" in bad.err


# -- live ---------------------------------------------------------------------


@pytest.mark.live
def test_live_zones_match_proc_buddyinfo(run_cli: Callable[..., CliResult]) -> None:
    for _ in range(5):
        before = Path("/proc/buddyinfo").read_text()
        doc = run_cli("buddy", "--json").json()
        if Path("/proc/buddyinfo").read_text() == before:
            break
    truth = parse_buddyinfo(before)
    assert [(z["node"], z["zone"], tuple(z["free_blocks"])) for z in doc["zones"]] == [
        (z.node, z.zone, z.free_blocks) for z in truth.zones]
    for z in doc["zones"]:
        for o in z["orders"]:
            info = contig_info(z["free_blocks"], o["order"])
            assert o["fragmentation_index_milli"] == fragmentation_index(o["order"], info)
    res = run_cli("buddy", "--explain")
    assert res.code == 0 and max(len(line) for line in res.out.splitlines()) <= 80
    if IS_ROOT:
        assert doc["zones"][0]["free_blocks_by_type"] is not None
        assert doc["slab_waste"]["total_waste_bytes"] > 0
        # this VM has gigabytes free in order-10 blocks: an order-3 allocation succeeds
        assert any(c["ok"] for c in doc["node_checks"] if c["order"] == 3)


def _kernel_tables(debugfs: Path) -> tuple[str, str, str, str]:
    for _ in range(20):
        before = Path("/proc/buddyinfo").read_text()
        extfrag = (debugfs / "extfrag" / "extfrag_index").read_text()
        unusable = (debugfs / "extfrag" / "unusable_index").read_text()
        after = Path("/proc/buddyinfo").read_text()
        if before == after:
            return before, extfrag, unusable, after
    pytest.skip("buddyinfo kept changing between reads")


@pytest.mark.live
@pytest.mark.skipif(not IS_ROOT or shutil.which("mount") is None, reason="mounting debugfs needs root")
def test_indices_equal_the_kernels_extfrag_files() -> None:
    # debugfs is mounted on a private directory for the test and unmounted after
    where = Path(tempfile.mkdtemp(prefix="memsleuth-debugfs-"))
    mount = subprocess.run(["mount", "-t", "debugfs", "none", str(where)], capture_output=True)
    mounted = mount.returncode == 0
    try:
        if not mounted or not (where / "extfrag" / "extfrag_index").exists():
            pytest.skip("no debugfs extfrag files on this kernel")
        buddy, extfrag, unusable, _ = _kernel_tables(where)
        ours_frag, ours_unusable = [], []
        for z in parse_buddyinfo(buddy).zones:
            head = f"Node {z.node}, zone {z.zone:>8} "
            infos = [contig_info(z.free_blocks, o) for o in range(len(z.free_blocks))]
            ours_frag.append(head + "".join(format_index(fragmentation_index(o, i)) + " "
                                            for o, i in enumerate(infos)))
            ours_unusable.append(head + "".join(format_index(unusable_free_index(o, i), width=1) + " "
                                                for o, i in enumerate(infos)))
        # the kernel reads nr_free under no lock; zones match when buddyinfo did not move
        assert extfrag.splitlines() == ours_frag
        assert unusable.splitlines() == ours_unusable
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=True)
        os.rmdir(where)


@pytest.mark.live
def test_buddy_as_nobody_degrades_with_notes(nobody_site: Path) -> None:
    env = {"PYTHONPATH": str(nobody_site), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          str(SYSTEM_PYTHON), "-m", "memsleuth", "buddy", "--json"],
                         capture_output=True, text=True, env=env, timeout=60, cwd="/")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    # buddyinfo and zoneinfo are world-readable; pagetypeinfo and slabinfo are root-only
    assert doc["zones"] and doc["zones"][0]["free_blocks_by_type"] is None
    assert doc["slab_waste"] is None
    assert any("pagetypeinfo" in n for n in doc["notes"]) and any("slabinfo" in n for n in doc["notes"])
    assert any(c["ok"] is not None for c in doc["node_checks"])
