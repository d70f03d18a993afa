"""``memsleuth status`` on the founding case and live."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import HOSTS, CliResult

KIB = 1024
ROOT = str(HOSTS / "centos6-founding")


def test_founding_case_status_json(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("--root", ROOT, "status", "--json").json()
    assert doc["schema"] == "memsleuth.status/1"
    assert doc["host"]["hostname"] == "lb-web-017"
    assert doc["legacy"]["used_percent"] == pytest.approx(86.35, abs=0.05)
    avail = doc["available"]
    assert avail["estimated"] is True
    assert avail["method"] == "zoneinfo"
    # the kernel's si_mem_available() on the fixture's zoneinfo (PROVENANCE.md)
    assert avail["available_bytes"] == 49887276 * KIB
    assert avail["used_percent"] == pytest.approx(24.3, abs=0.1)
    assert doc["reclaimable_slab_bytes"] == 38506072 * KIB
    assert doc["reasons"][0]["key"] == "slab_reclaimable"
    acct = doc["accounting"]
    total = sum(b["size_bytes"] or 0 for b in acct["buckets"]) + acct["unaccounted_bytes"]
    assert total == 65922868 * KIB
    assert acct["unaccounted_bytes"] == 156252 * KIB


def test_founding_case_status_text_says_why(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("--root", ROOT, "status")
    assert res.code == 0
    flat = " ".join(res.out.split())
    assert "86.3" in flat
    assert "MemAvailable*" in flat
    assert "Reclaimable slab alone is 36.7Gi" in flat
    assert "CentOS 6 free calls it used" in flat


def test_no_arguments_means_status(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("--root", ROOT).out == run_cli("--root", ROOT, "status").out


@pytest.mark.live
def test_live_status_buckets_add_up(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("status", "--json").json()
    acct = doc["accounting"]
    total = sum(b["size_bytes"] or 0 for b in acct["buckets"]) + acct["unaccounted_bytes"]
    assert total == acct["total_bytes"]
    # on an idle VM the kernel itemises almost everything
    assert abs(acct["unaccounted_bytes"]) < 0.05 * acct["total_bytes"]
