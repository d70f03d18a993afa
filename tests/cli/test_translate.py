"""``memsleuth translate``: index split, pagemap decoding, and a live walk."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memsleuth.analysis.translate import paging_levels, parse_address, split_address
from memsleuth.snapshot.pages import pfn_runs
from memsleuth.sources.kpageflags import BITS, decode_flags
from memsleuth.sources.maps import VmArea
from memsleuth.sources.pagemap import decode_entries, decode_entry
from tests.conftest import IS_ROOT, SYSTEM_PYTHON, CliResult

PAGE = 4096

# -- pure ---------------------------------------------------------------------


def test_split_4_level() -> None:
    s = split_address(0x7FFD12345678, 4)
    assert [(i.level, i.index) for i in s.indices] == [("PGD", 255), ("PUD", 500), ("PMD", 145),
                                                       ("PTE", 325)]
    assert s.page_offset == 0x678
    assert [(i.high_bit, i.low_bit) for i in s.indices] == [(47, 39), (38, 30), (29, 21), (20, 12)]


def test_split_is_lossless_and_5_level_adds_the_top_bits() -> None:
    for address in (0x0, 0x1000, 0x55D0C0DE1234, 0x7FFFFFFFFFFF, 0x00FF_8000_0000_1ABC):
        for levels in (4, 5):
            s = split_address(address, levels)
            back = s.page_offset
            for i in s.indices:
                back |= i.index << i.low_bit
            mask = (1 << (12 + 9 * levels)) - 1
            assert back == address & mask
    s5 = split_address(0x00FF_8000_0000_1ABC, 5)
    assert [i.level for i in s5.indices] == ["PGD", "P4D", "PUD", "PMD", "PTE"]
    assert s5.indices[0].index == 0xFF  # bits 56-48
    assert s5.indices[1].index == 0x100  # bits 47-39
    assert s5.indices[4].index == 0x1 and s5.page_offset == 0xABC


def test_paging_levels() -> None:
    low = VmArea(start=0x1000, end=0x2000, perms="rw-p", offset=0, dev_major=0, dev_minor=0, inode=0)
    high = VmArea(start=1 << 50, end=(1 << 50) + PAGE, perms="rw-p", offset=0, dev_major=0, dev_minor=0,
                  inode=0)
    assert paging_levels(frozenset({"fpu"}), [low])[0] == 4
    assert paging_levels(frozenset({"la57"}), [low])[0] == 5
    assert paging_levels(frozenset(), [low, high]) == (5, "a mapping lies above 47 bits")


def test_parse_address() -> None:
    assert parse_address("0x7ffd12345678") == parse_address("7FFD12345678") == 0x7FFD12345678
    with pytest.raises(ValueError):
        parse_address("0xzz")


def test_decode_present_and_swapped_entries() -> None:
    present = decode_entry((1 << 63) | (1 << 56) | (1 << 55) | 0x14C872)
    assert present.present and present.exclusive and present.soft_dirty and not present.swapped
    assert present.pfn == 0x14C872 and present.swap_type is None
    hidden = decode_entry((1 << 63) | (1 << 56))
    assert hidden.pfn is None and hidden.pfn_hidden
    swapped = decode_entry((1 << 62) | (0x1234 << 5) | 3)
    assert swapped.swapped and not swapped.present
    assert (swapped.swap_type, swapped.swap_offset, swapped.pfn) == (3, 0x1234, None)
    filepage = decode_entry((1 << 63) | (1 << 61) | 7)
    assert filepage.file_or_shared_anon and filepage.pfn == 7
    assert decode_entry(0).pfn is None and not decode_entry(0).present
    raw = ((1 << 63) | 5).to_bytes(8, sys.byteorder) + (0).to_bytes(8, sys.byteorder)
    assert list(decode_entries(raw)) == [(1 << 63) | 5, 0]


def test_decode_kpageflags_bits() -> None:
    assert (BITS["LOCKED"], BITS["LRU"], BITS["ANON"], BITS["THP"], BITS["ZERO_PAGE"], BITS["PGTABLE"]) == (
        0, 5, 12, 22, 24, 26)
    f = decode_flags((1 << 5) | (1 << 11) | (1 << 12) | (1 << 14) | (1 << 40))
    assert f.names == ("LRU", "MMAP", "ANON", "SWAPBACKED")
    assert f.has("ANON") and not f.has("DIRTY")


def test_pfn_runs_merge_nearby_frames() -> None:
    assert pfn_runs([10, 11, 12, 70, 200, 5000, 5010], gap_pages=64) == [(10, 70), (200, 200), (5000, 5010)]
    assert pfn_runs([1, 1000], gap_pages=64) == [(1, 1), (1000, 1000)]
    assert pfn_runs([1, 60, 200]) == [(1, 60), (200, 200)]  # default gap: 64 pages


# -- a hand-made root: 5-level, swapped, not present, unmapped -----------------

STAT = "42 (fake) S 1 42 42 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 100 1000000 10 " + " ".join(["0"] * 29)


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    return make_translate_root(tmp_path)


def make_translate_root(dest: Path) -> Path:
    """pid 42 with 5-level paging: one present page with flags and mapcount, one swapped, one never
    touched (the golden test of every view builds the same root)."""
    tmp_path = dest
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "stat").write_text(STAT + "\n")
    (proc / "42" / "maps").write_text(
        "7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n"
        "7f0000010000-7f0000011000 r--p 00000000 fe:00 123                        /data/file.bin\n")
    (proc / "cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu pse la57 sse\n")
    pfn = 0x18001  # in memory block 3 with 128 MiB blocks (32768 pages each)
    entries = {
        0x7F0000000000: (1 << 63) | (1 << 56) | pfn,  # present
        0x7F0000001000: (1 << 62) | (0x99 << 5) | 1,  # swapped, type 1 offset 0x99
        # 0x7f0000002000: never touched (0)
    }
    with open(proc / "42" / "pagemap", "wb") as f:
        for vaddr, value in entries.items():
            f.seek(vaddr // PAGE * 8)
            f.write(value.to_bytes(8, sys.byteorder))
        f.seek(0x7F0000011000 // PAGE * 8)
        f.write(b"\0" * 8)
    flags = (1 << 5) | (1 << 11) | (1 << 12) | (1 << 14)
    with open(proc / "kpageflags", "wb") as f:
        f.seek(pfn * 8)
        f.write(flags.to_bytes(8, sys.byteorder))
    with open(proc / "kpagecount", "wb") as f:
        f.seek(pfn * 8)
        f.write((2).to_bytes(8, sys.byteorder))
    (tmp_path / "sys/devices/system/memory").mkdir(parents=True)
    (tmp_path / "sys/devices/system/memory/block_size_bytes").write_text("8000000\n")
    (tmp_path / "sys/devices/system/node/node0/memory0").mkdir(parents=True)
    (tmp_path / "sys/devices/system/node/node1/memory3").mkdir(parents=True)
    return tmp_path


def test_translate_present_page_from_a_root(run_cli: Callable[..., CliResult], fake_root: Path) -> None:
    res = run_cli("--root", str(fake_root), "translate", "42", "0x7f0000000abc", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["schema"] == "memsleuth.translate/1"
    assert doc["levels"] == 5 and doc["levels_reason"].startswith("la57")
    assert [i["level"] for i in doc["indices"]] == ["PGD", "P4D", "PUD", "PMD", "PTE"]
    assert doc["state"] == "present"
    assert doc["pagemap"]["pfn"] == 0x18001 and doc["pagemap"]["exclusive"] is True
    assert doc["physical_address"] == 0x18001 * PAGE + 0xABC
    assert doc["page_flags"]["names"] == ["LRU", "MMAP", "ANON", "SWAPBACKED"]
    assert doc["mapcount"] == 2
    assert doc["numa_node"] == 1
    assert doc["vma"]["start"] == 0x7F0000000000


def test_translate_swapped_untouched_and_unmapped(run_cli: Callable[..., CliResult],
                                                  fake_root: Path) -> None:
    swapped = run_cli("--root", str(fake_root), "translate", "42", "7f0000001010", "--json").json()
    assert swapped["state"] == "swapped"
    assert (swapped["pagemap"]["swap_type"], swapped["pagemap"]["swap_offset"]) == (1, 0x99)
    assert swapped["physical_address"] is None and swapped["page_flags"] is None
    untouched = run_cli("--root", str(fake_root), "translate", "42", "0x7f0000002000", "--json").json()
    assert untouched["state"] == "not_present" and untouched["physical_address"] is None
    res = run_cli("--root", str(fake_root), "translate", "42", "0x7f0000008000", "--explain")
    assert res.code == 0
    assert "not mapped" in res.out and "SIGSEGV" in res.out
    text = " ".join(run_cli("--root", str(fake_root), "translate", "42", "0x7f0000002000",
                            "--explain").out.split())
    assert "demand paging" in text and "zero-filled page" in text


def test_translate_rejects_a_bad_address(run_cli: Callable[..., CliResult], fake_root: Path) -> None:
    res = run_cli("--root", str(fake_root), "translate", "42", "0xnothex")
    assert res.code == 2 and "hexadecimal" in res.err


# -- live -----------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import ctypes, mmap, sys, time
    private = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS  # mmap's default is MAP_SHARED (shmem)
    touched = mmap.mmap(-1, 1 << 20, flags=private)
    touched.write(b"x" * (1 << 20))
    untouched = mmap.mmap(-1, 1 << 20, flags=private)
    a = ctypes.addressof(ctypes.c_char.from_buffer(touched))
    b = ctypes.addressof(ctypes.c_char.from_buffer(untouched))
    print(hex(a + 0x5123), hex(b + 0x10000), flush=True)
    time.sleep(600)
""")


@pytest.fixture
def buffers_child() -> Iterator[tuple[int, int, int]]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        a, b = proc.stdout.readline().split()
        yield proc.pid, int(a, 16), int(b, 16)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.live
@pytest.mark.skipif(not IS_ROOT, reason="needs root: the kernel hides PFNs and kpageflags from others")
def test_translate_live_touched_and_untouched(run_cli: Callable[..., CliResult],
                                              buffers_child: tuple[int, int, int]) -> None:
    pid, touched, untouched = buffers_child
    res = run_cli("translate", str(pid), hex(touched), "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["state"] == "present"
    assert doc["page_offset"] == 0x123
    pfn = doc["pagemap"]["pfn"]
    assert pfn and pfn > 0
    assert doc["physical_address"] == pfn * PAGE + 0x123
    assert "ANON" in doc["page_flags"]["names"]
    assert doc["mapcount"] >= 1
    assert doc["vma"]["start"] <= touched < doc["vma"]["end"]
    if os.path.isdir("/sys/devices/system/memory"):
        assert doc["numa_node"] is not None
    idx = {i["level"]: i["index"] for i in doc["indices"]}
    assert idx["PTE"] == (touched >> 12) & 511 and idx["PMD"] == (touched >> 21) & 511
    doc2 = run_cli("translate", str(pid), hex(untouched), "--json").json()
    assert doc2["state"] == "not_present"
    assert doc2["pagemap"]["present"] is False and doc2["physical_address"] is None


# -- as nobody: partial output and exit 2, never a traceback ---------------------

@pytest.mark.live
def test_translate_as_nobody_says_it_needs_root(nobody_site: Path) -> None:
    # nobody translates an address of its own python: pagemap is readable, PFNs are zeroed
    code = ("import mmap,ctypes,os,sys,runpy; m=mmap.mmap(-1,4096); m.write(b'x'); "
            "a=ctypes.addressof(ctypes.c_char.from_buffer(m)); "
            "sys.argv=['memsleuth','translate',str(os.getpid()),hex(a)]; "
            "runpy.run_module('memsleuth', run_name='__main__')")
    env = {"PYTHONPATH": str(nobody_site), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          str(SYSTEM_PYTHON), "-c", code], capture_output=True, text=True, env=env,
                         timeout=60, cwd="/")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 2
    assert "present in RAM" in res.stdout and "hidden (needs root)" in res.stdout
    assert "without root" in res.stderr
    # another process's pagemap: refused with the reason
    res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          str(SYSTEM_PYTHON), "-m", "memsleuth", "translate", "1", "0x1000"],
                         capture_output=True, text=True, env=env, timeout=60, cwd="/")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 2 and "root" in res.stderr
