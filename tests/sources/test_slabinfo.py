"""/proc/slabinfo: SLUB on 6.18, SLAB with tunables on CentOS 6 (2.6.32)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.meminfo import parse_meminfo
from memsleuth.sources.slabinfo import parse_slabinfo
from tests.conftest import text_fixture

PAGE = 4096


def test_slub_slabinfo() -> None:
    info = parse_slabinfo(text_fixture("linux-6.18", "proc_slabinfo"))
    assert info.version == "2.1" and not info.statistics
    assert len(info.caches) == 235
    d = info.cache("dentry")
    assert d is not None
    assert (d.active_objs, d.num_objs, d.objsize_bytes, d.objperslab, d.pagesperslab) == \
        (136153, 137109, 192, 21, 1)
    assert (d.limit, d.batchcount, d.sharedfactor, d.sharedavail) == (0, 0, 0, 0)
    assert not d.has_tunables
    assert d.active_slabs == d.num_slabs == 6529
    assert d.total_bytes(PAGE) == 6529 * 4096
    assert d.active_bytes == 136153 * 192
    assert d.waste_bytes(PAGE) == 6529 * 4096 - 136153 * 192
    assert d.usage_percent == pytest.approx(100 * 136153 / 137109)
    e = info.cache("ext4_inode_cache")
    assert e is not None and (e.objsize_bytes, e.pagesperslab) == (1128, 4)
    empty = info.cache("btrfs_inode")
    assert empty is not None and empty.usage_percent is None


def test_slab_slabinfo_with_tunables_sums_to_meminfo() -> None:
    info = parse_slabinfo(text_fixture("centos6-2.6.32", "proc_slabinfo"))
    meminfo = parse_meminfo(text_fixture("centos6-2.6.32", "proc_meminfo"))
    d = info.cache("dentry")
    assert d is not None and d.has_tunables
    assert (d.objsize_bytes, d.objperslab, d.limit, d.batchcount, d.sharedfactor) == (192, 20, 120, 60, 8)
    assert d.sharedavail == 37
    assert d.num_slabs == 9571718
    assert d.total_bytes(PAGE) == 9571718 * 4096
    # 20 x 192 B in a 4 KiB slab: 256 B of every page is SLAB's management and slack
    assert d.waste_bytes(PAGE) == 9571718 * 4096 - 191434347 * 192
    big = info.cache("size-4096")
    assert big is not None and (big.limit, big.batchcount) == (24, 12)
    # the fixture lists every cache, so it adds up to meminfo's Slab and SReclaimable
    assert info.total_bytes(PAGE) == meminfo.slab_bytes
    reclaimable = {"dentry", "ext4_inode_cache", "inode_cache", "proc_inode_cache",
                   "sock_inode_cache", "buffer_head", "radix_tree_node"}
    assert sum(c.total_bytes(PAGE) for c in info.caches if c.name in reclaimable) == \
        meminfo.s_reclaimable_bytes
    assert info.cache("size-64(DMA)") is not None


STATS = "\n".join([
    "slabinfo - version: 2.1 (statistics)",
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
    " : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>"
    " : globalstat <listallocs> <maxobjs> <grown> <reaped> <error> <maxfreeable> <nodeallocs>"
    " <remotefrees> <alienoverflow> : cpustat <allochit> <allocmiss> <freehit> <freemiss>",
    "dentry              1234   2000    192   20    1 : tunables  120   60    8"
    " : slabdata    100    100      0"
    " : globalstat    5120   2000   110    10    0    1    0    0    0 : cpustat   9000    300   8800    250",
]) + "\n"


def test_statistics_variant() -> None:
    info = parse_slabinfo(STATS)
    assert info.statistics
    d = info.caches[0]
    assert d.num_slabs == 100 and d.active_objs == 1234
    assert d.globalstat is not None and d.globalstat["grown"] == 110
    assert d.cpustat is not None and d.cpustat["freemiss"] == 250


@pytest.mark.parametrize("text", [
    "",
    "dentry 1 2 3 4 5 : tunables 0 0 0 : slabdata 0 0 0\n",
    "slabinfo - version: 1.1\n",
    "slabinfo - version: 2.1\ndentry 1 2 3 4 5\n",
    "slabinfo - version: 2.1\ndentry 1 2 x 4 5 : tunables 0 0 0 : slabdata 0 0 0\n",
    "slabinfo - version: 2.1\ndentry 1 2 3 4 5 : tunables 0 0 : slabdata 0 0 0\n",
])
def test_malformed_slabinfo_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_slabinfo(text)


@pytest.mark.live
def test_live_slabinfo_parses() -> None:
    path = Path("/proc/slabinfo")
    if not os.access(path, os.R_OK):
        pytest.skip("/proc/slabinfo is mode 0400: needs root")
    info = parse_slabinfo(path.read_text())
    assert info.caches and all(c.active_objs <= c.num_objs for c in info.caches)
