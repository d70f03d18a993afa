"""/proc/PID/smaps and smaps_rollup, captured from one stopped process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.smaps import (
    PSS_ROUNDED,
    iter_smaps,
    parse_smaps,
    parse_smaps_rollup,
    sum_mappings,
)
from tests.conftest import text_fixture

EXACT = (
    "Rss",
    "Shared_Clean",
    "Shared_Dirty",
    "Private_Clean",
    "Private_Dirty",
    "Anonymous",
    "Referenced",
    "Swap",
)


def test_smaps_fixture_mappings() -> None:
    maps = parse_smaps(text_fixture("linux-6.18", "pid_smaps"))
    assert len(maps) == 129
    heap = next(m for m in maps if m.pathname == "[heap]")
    assert heap.size_bytes == heap.end - heap.start
    assert heap.kernel_page_size_bytes == 4096
    assert heap.anonymous_bytes == heap.rss_bytes
    assert heap.pss_anon_bytes is None  # per-VMA smaps never prints Pss_Anon
    assert "rd" in heap.vm_flags and "wr" in heap.vm_flags
    assert heap.thp_eligible is not None
    memfd = next(m for m in maps if m.pathname == "/memfd:memsleuth-memfd")
    assert memfd.deleted and memfd.perms == "rw-s"
    assert memfd.rss_bytes == 32 * 1024 and memfd.private_dirty_bytes == 32 * 1024
    assert "sh" in memfd.vm_flags
    spaced = next(m for m in maps if m.pathname == "/tmp/memsleuth fixture/mapped file.bin")
    assert spaced.size_bytes == 64 * 1024 and not spaced.deleted
    assert maps[-1].pathname == "[vsyscall]" and maps[-1].rss_bytes == 0
    assert maps[-1].vm_flags == ("ex",)
    assert maps[0].raw["Rss"] == maps[0].rss_bytes
    assert tuple(iter_smaps(text_fixture("linux-6.18", "pid_smaps"))) == maps


def test_smaps_rollup_fixture() -> None:
    r = parse_smaps_rollup(text_fixture("linux-6.18", "pid_smaps_rollup"))
    assert (r.start, r.end) == (0x55AB87D72000, 0x7FFF2F535000)
    assert r.rss_bytes == 16176 * 1024
    assert r.pss_bytes == 8303 * 1024
    assert r.pss_anon_bytes == 5648 * 1024
    assert r.pss_file_bytes == 2623 * 1024
    assert r.pss_shmem_bytes == 32 * 1024
    assert r.private_clean_bytes == 216 * 1024
    assert r.private_dirty_bytes == 2148 * 1024
    assert r.uss_bytes == (216 + 2148) * 1024
    assert r.swap_bytes == 0 and r.swap_pss_bytes == 0 and r.locked_bytes == 0
    # Pss splits into its three kinds (each truncated once, so within 2 kB)
    assert r.pss_anon_bytes + r.pss_file_bytes + r.pss_shmem_bytes <= r.pss_bytes
    assert r.pss_bytes - (r.pss_anon_bytes + r.pss_file_bytes + r.pss_shmem_bytes) < 3 * 1024


def _check_totals(maps_text: str, rollup_text: str) -> None:
    maps = parse_smaps(maps_text)
    rollup = parse_smaps_rollup(rollup_text)
    totals = sum_mappings(maps)
    for key in EXACT:
        assert totals[key] == rollup.raw[key], key
    for key in PSS_ROUNDED & totals.keys():
        # per-VMA truncation: the sum is low by less than 1 kB per VMA
        assert 0 <= rollup.raw[key] - totals[key] < 1024 * len(maps), key
    assert "KernelPageSize" not in totals and "THPeligible" not in totals


def test_smaps_totals_equal_rollup_from_the_same_moment() -> None:
    _check_totals(
        text_fixture("linux-6.18", "pid_smaps"), text_fixture("linux-6.18", "pid_smaps_rollup")
    )
    maps = parse_smaps(text_fixture("linux-6.18", "pid_smaps"))
    rollup = parse_smaps_rollup(text_fixture("linux-6.18", "pid_smaps_rollup"))
    assert sum_mappings(maps)["Pss"] == rollup.pss_bytes - 6 * 1024  # as captured
    assert sum(m.uss_bytes or 0 for m in maps) == rollup.uss_bytes


def test_protection_key_and_unknown_keys() -> None:
    text = (
        "00400000-00401000 r-xp 00000000 08:01 42   /bin/x\n"
        "Size:                  4 kB\n"
        "Rss:                   4 kB\n"
        "FutureThing:           8 kB\n"
        "FutureWords:       maybe\n"
        "THPeligible:    1\n"
        "ProtectionKey:         3\n"
        "VmFlags: rd ex mr mw me dw\n"
    )
    (m,) = parse_smaps(text)
    assert m.protection_key == 3 and m.thp_eligible is True
    assert m.raw["FutureThing"] == 8 * 1024 and "FutureWords" not in m.raw
    assert m.pss_bytes is None  # not printed, not 0
    assert m.uss_bytes is None


@pytest.mark.parametrize(
    "text",
    [
        "Rss: 4 kB\n",  # key before any header
        "00400000-00401000 r-xp 00000000 08:01 42 /bin/x\nSize: 4 kB\n",  # no Rss
        "00400000-00401000 r-xp 00000000 08:01 42 /bin/x\nSize: 4 kB\nRss: many kB\n",
        "not a header\nSize: 4 kB\nRss: 4 kB\n",
    ],
)
def test_malformed_smaps_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_smaps(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Rss: 4 kB\n",
        "00400000-00401000 r-xp 00000000 08:01 42 /bin/x\nRss: 4 kB\n",  # not [rollup]
        "00400000-7fff0000 ---p 00000000 00:00 0 [rollup]\nPss: 4 kB\n",  # no Rss
        "00400000-7fff0000 ---p 00000000 00:00 0 [rollup]\nRss: 4 kB\n"
        "00400000-00401000 r-xp 00000000 08:01 42 /bin/x\n",  # second header
    ],
)
def test_malformed_smaps_rollup_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_smaps_rollup(text)


@pytest.fixture
def stopped_child() -> Iterator[int]:
    """A Python child that touched some memory, stopped with SIGSTOP."""
    code = "import sys, time; b = bytearray(4 << 20); print('ok', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ok\n"
        proc.send_signal(signal.SIGSTOP)
        stat = Path(f"/proc/{proc.pid}/stat")
        deadline = time.monotonic() + 10
        while stat.read_text().rpartition(")")[2].split()[0] != "T":
            assert time.monotonic() < deadline, "child did not stop"
            time.sleep(0.01)
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.live
def test_live_smaps_totals_equal_rollup_for_a_stopped_child(stopped_child: int) -> None:
    base = Path(f"/proc/{stopped_child}")
    _check_totals((base / "smaps").read_text(), (base / "smaps_rollup").read_text())
    rollup = parse_smaps_rollup((base / "smaps_rollup").read_text())
    assert rollup.private_dirty_bytes is not None
    assert rollup.private_dirty_bytes >= 4 << 20  # the bytearray


@pytest.mark.live
def test_live_self_smaps_parses() -> None:
    maps = parse_smaps(Path("/proc/self/smaps").read_text())
    assert any(m.pathname == "[stack]" for m in maps)
