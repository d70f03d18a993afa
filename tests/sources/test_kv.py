"""The fast partial scanner agrees with the full parsers it stands in for."""

from __future__ import annotations

from memsleuth.sources._kv import scan_fields
from memsleuth.sources.pid_status import parse_pid_status
from memsleuth.sources.smaps import parse_smaps_rollup
from tests.conftest import TEXT


def test_scan_matches_the_status_parser() -> None:
    for kernel in ("linux-6.18", "centos6-2.6.32"):
        data = (TEXT / kernel / "pid_status").read_bytes()
        full = parse_pid_status(data.decode())
        got = scan_fields(data, ("Uid", "Threads", "VmSize", "VmRSS", "RssAnon", "VmSwap", "VmPTE"))
        assert got["Uid"] == (full.uid.real if full.uid else None)
        assert got["Threads"] == full.threads
        assert got["VmSize"] == full.vm_size_bytes
        assert got["VmRSS"] == full.vm_rss_bytes
        assert got.get("RssAnon") == full.rss_anon_bytes  # absent on 2.6.32 -> not in the scan
        assert got.get("VmSwap") == full.vm_swap_bytes
        assert got["VmPTE"] == full.vm_pte_bytes


def test_scan_matches_the_rollup_parser() -> None:
    data = (TEXT / "linux-6.18" / "pid_smaps_rollup").read_bytes()
    full = parse_smaps_rollup(data.decode())
    got = scan_fields(data, ("Pss", "Private_Clean", "Private_Dirty", "Rss"))
    assert got["Pss"] == full.pss_bytes and got["Rss"] == full.rss_bytes
    assert got["Private_Clean"] + got["Private_Dirty"] == full.uss_bytes


def test_scan_edge_cases() -> None:
    assert scan_fields(b"Name:\tbash\nVmRSS:\t 12 kB\n", ("Name", "VmRSS", "Nope")) == {"VmRSS": 12288}
    assert scan_fields(b"Threads:\t3", ("Threads",)) == {"Threads": 3}  # no trailing newline
    assert scan_fields(b"XVmRSS:\t5 kB\n", ("VmRSS",)) == {}  # a key is matched whole
