"""/proc/vmallocinfo on kernel 6.18, plus 2.6.32-style lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.vmallocinfo import parse_vmallocinfo
from tests.conftest import text_fixture


def test_modern_vmallocinfo() -> None:
    info = parse_vmallocinfo(text_fixture("linux-6.18", "proc_vmallocinfo"))
    assert len(info.areas) == 666
    assert info.total_pages == 3599
    by_caller = info.pages_by_caller()
    assert list(by_caller)[:4] == ["htab_map_alloc", "pcpu_create_chunk", "bpf_prog_pack_alloc",
                                   "kernel_clone"]
    # 102 kernel stacks of 4 pages; the size column adds a guard page to each
    assert by_caller["kernel_clone"] == 102 * 4
    stacks = [a for a in info.areas if a.caller == "kernel_clone"]
    assert len(stacks) == 102 and all(a.size_bytes == 5 * 4096 for a in stacks)
    first = stacks[0]
    assert first.caller_symbol == "kernel_clone+0x94/0x3e0" and first.flags == ("vmalloc",)
    assert dict(first.pages_per_node) == {0: 4} and first.module is None
    io = list(info.iter_flagged("ioremap"))
    assert len(io) == 29 and all(a.pages is None for a in io)
    assert io[0].phys == 0xA0000 and io[0].caller == "acpi_os_map_iomem"
    unpurged = list(info.iter_flagged("unpurged"))
    assert len(unpurged) == 423 and all(a.caller is None for a in unpurged)
    # hashed %pK addresses: end - start is not the size
    assert any(a.end < a.start for a in info.areas)


OLD = """0xffffc90000000000-0xffffc90000004000   16384 acpi_os_map_memory+0x12b/0x1c0 phys=fed00000 ioremap
0xffffc90000004000-0xffffc90000015000   69632 alloc_large_system_hash+0x171/0x240 pages=16 vmalloc N0=8 N1=8
0xffffc90000015000-0xffffc9000001a000 20480 nf_ct_alloc_hashtable+0x5a/0x90 [nf_conntrack] pages=4 vmalloc
0xffffc9000001a000-0xffffc9000001f000   20480 0xffffffffa0012345 pages=4 vmalloc vpages N0=4
0xffffc9000001f000-0xffffc90000024000   20480 vm_map_ram
"""


def test_old_format_module_and_bare_phys() -> None:
    info = parse_vmallocinfo(OLD)
    io, hashtab, ct, anon, ram = info.areas
    assert io.phys == 0xFED00000 and io.flags == ("ioremap",) and io.pages is None
    assert hashtab.end - hashtab.start == hashtab.size_bytes == 69632
    assert dict(hashtab.pages_per_node) == {0: 8, 1: 8}
    assert ct.caller == "nf_ct_alloc_hashtable" and ct.module == "nf_conntrack" and ct.pages == 4
    assert dict(ct.pages_per_node) == {}
    assert anon.caller == "0xffffffffa0012345" and anon.flags == ("vmalloc", "vpages")
    assert ram.caller is None and ram.flags == ("vm_map_ram",)
    assert dict(info.pages_by_caller()) == {"alloc_large_system_hash": 16,
                                            "0xffffffffa0012345": 4, "nf_ct_alloc_hashtable": 4}


@pytest.mark.parametrize("text", [
    "garbage\n",
    "0xffff-0xfffe\n",
    "0xzz-0x10 4096 f+0x1/0x2 vmalloc\n",
    "0x10-0x20 big f+0x1/0x2 vmalloc\n",
    "0x10-0x20 4096 f+0x1/0x2 pages=x vmalloc\n",
    "0x10-0x20 4096 f+0x1/0x2 what=1 vmalloc\n",
])
def test_malformed_vmallocinfo_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_vmallocinfo(text)


@pytest.mark.live
def test_live_vmallocinfo_parses() -> None:
    path = Path("/proc/vmallocinfo")
    if not os.access(path, os.R_OK):
        pytest.skip("/proc/vmallocinfo is mode 0400: needs root")
    info = parse_vmallocinfo(path.read_text())
    assert info.areas and info.total_pages > 0
