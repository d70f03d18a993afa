"""``memsleuth reclaim``: the dry run changes nothing; --yes --slab frees dentries, measured."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import IS_ROOT, SYSTEM_PYTHON, CliResult

pytestmark = [pytest.mark.live, pytest.mark.skipif(not IS_ROOT, reason="drop_caches needs root")]


def _vmstat(key: str) -> int:
    for line in Path("/proc/vmstat").read_text().splitlines():
        name, value = line.split()
        if name == key:
            return int(value)
    raise KeyError(key)


def _meminfo_kb(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


@pytest.fixture
def negative_dentries() -> Iterator[Path]:
    """~200k negative dentries in a /var/tmp directory (a disk filesystem; tmpfs keeps none)."""
    d = Path(tempfile.mkdtemp(prefix="memsleuth-reclaim-", dir="/var/tmp"))
    code = ("import os, sys\nfor i in range(200_000):\n"
            "    os.access(f'{sys.argv[1]}/n{i}', os.F_OK)\n")
    subprocess.run([sys.executable, "-c", code, str(d)], check=True, timeout=120)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_dry_run_changes_nothing(run_cli: Callable[..., CliResult]) -> None:
    slab0, page0 = _vmstat("drop_slab"), _vmstat("drop_pagecache")
    res = run_cli("reclaim", "--both", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert (_vmstat("drop_slab"), _vmstat("drop_pagecache")) == (slab0, page0)
    assert doc["schema"] == "memsleuth.reclaim/1"
    assert doc["dry_run"] is True and doc["result"] is None
    assert doc["drop_caches_value"] == 3
    rec = doc["reclaimable"]
    # SReclaimable from meminfo, within what moves between two reads
    assert abs(rec["s_reclaimable_bytes"] - _meminfo_kb("SReclaimable") * 1024) < 64 << 20
    assert rec["estimate_bytes"] == rec["s_reclaimable_bytes"] + rec["clean_page_cache_bytes"]
    names = [c["name"] for c in rec["caches"]]
    assert "dentry" in names
    sizes = [c["size_bytes"] for c in rec["caches"]]
    assert sizes == sorted(sizes, reverse=True)
    text = run_cli("reclaim")
    assert "dry run: nothing was dropped" in text.out
    assert "stop-gap" in text.out and "off-peak" in text.out
    assert (_vmstat("drop_slab"), _vmstat("drop_pagecache")) == (slab0, page0)


def test_yes_slab_frees_dentries_and_counts_one_drop(
        run_cli: Callable[..., CliResult], negative_dentries: Path) -> None:
    slab0, page0 = _vmstat("drop_slab"), _vmstat("drop_pagecache")
    res = run_cli("reclaim", "--slab", "--yes", "--settle", "1", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert _vmstat("drop_slab") == slab0 + 1
    assert _vmstat("drop_pagecache") == page0
    assert doc["dry_run"] is False and doc["drop_caches_value"] == 2
    result = doc["result"]
    assert result["sync_seconds"] is None  # no sync for slab only
    b = {x["name"]: x for x in result["buckets"]}
    assert b["drop_slab"]["change"] == 1
    # 200k negative dentries at 192 bytes are ~37 MiB of dentry cache
    assert b["dentry_objects"]["change"] < -150_000
    assert b["dentry_cache_bytes"]["change"] < -(20 << 20)
    assert b["s_reclaimable_bytes"]["change"] < -(20 << 20)
    assert b["s_reclaimable_bytes"]["after"] < doc["reclaimable"]["s_reclaimable_bytes"]
    assert result["mem_free_after_settle_bytes"] > 0


def test_reclaim_as_nobody(nobody_site: Path) -> None:
    env = {"PYTHONPATH": str(nobody_site), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    slab0 = _vmstat("drop_slab")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                               str(SYSTEM_PYTHON), "-m", "memsleuth", *args],
                              capture_output=True, text=True, env=env, timeout=60, cwd="/")

    dry = run("reclaim")
    assert dry.returncode == 0, dry.stderr
    assert "slabinfo" in dry.stderr and "Traceback" not in dry.stderr
    yes = run("reclaim", "--yes")
    assert yes.returncode == 2
    assert "run as root" in yes.stderr and "Traceback" not in yes.stderr
    assert _vmstat("drop_slab") == slab0


def test_refuses_yes_on_a_bundle(run_cli: Callable[..., CliResult]) -> None:
    from tests.conftest import HOSTS

    root = next(p for p in sorted(HOSTS.iterdir()) if (p / "proc" / "meminfo").exists())
    slab0 = _vmstat("drop_slab")
    res = run_cli("--root", str(root), "reclaim", "--yes")
    assert res.code == 2 and "bundle" in res.err
    assert _vmstat("drop_slab") == slab0
    assert os.geteuid() == 0
