"""``memsleuth numa``: the 2-node fixture root with hand-checked values, and the live host."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth.analysis.numa import process_spread
from memsleuth.sources.node import parse_cpulist
from memsleuth.sources.numa_maps import parse_numa_maps
from tests.conftest import HOSTS, IS_ROOT, SYSTEM_PYTHON, CliResult

ANSI = re.compile(r"\x1b\[[0-9;]*m")

ROOT = str(HOSTS / "numa-2node")
KB = 1024


def test_two_nodes_cpus_and_memory(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("--root", ROOT, "numa", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["schema"] == "memsleuth.numa/1"
    n0, n1 = doc["nodes"]
    assert (n0["cpulist"], n1["cpulist"]) == ("0-7,16-23", "8-15,24-31")
    assert n0["cpus"] == [*range(0, 8), *range(16, 24)]
    assert n0["mem_total_bytes"] == 32957296 * KB and n1["mem_total_bytes"] == 32965572 * KB
    assert n0["mem_free_bytes"] == 4735200 * KB and n1["mem_free_bytes"] == 4266252 * KB
    assert n0["mem_used_bytes"] == 28222096 * KB
    assert n0["file_pages_bytes"] == 1772036 * KB and n1["anon_pages_bytes"] == 6749584 * KB
    assert n0["slab_bytes"] + n1["slab_bytes"] == 39242216 * KB  # the post-mortem's Slab
    assert n0["huge_pages_total"] == 0
    # numastat: node 0's foreign is node 1's miss
    assert n0["numa_foreign"] == n1["numa_miss"] == 40219332
    # miss ratio 18233741 / (9482113644 + 18233741) = 0.19191...%
    assert n0["miss_percent"] == pytest.approx(100 * 18233741 / 9500347385)
    assert n1["miss_percent"] == pytest.approx(0.43870, abs=1e-5)
    # mean free (4735200 + 4266252) / 2 = 4500726 kB; node 0 is 234474 kB = 5.2097% above
    assert n0["free_vs_mean_percent"] == pytest.approx(100 * 234474 / 4500726)
    assert n1["free_vs_mean_percent"] == pytest.approx(-100 * 234474 / 4500726)
    # mean used 28460708 kB; node 1 is 238612 kB = 0.8384% above
    assert n1["used_vs_mean_percent"] == pytest.approx(100 * 238612 / 28460708)
    assert doc["imbalance"]["free_percent"] == pytest.approx(5.20970, abs=1e-4)


def test_slab_objects_per_node(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("--root", ROOT, "numa", "--json").json()
    assert [s["cache"] for s in doc["slab"]] == ["dentry", "kmalloc-64", "inode_cache"]
    assert doc["slab"][0]["objects_per_node"] == {"0": 96500000, "1": 95099990}
    assert doc["slab_objects_per_node"] == {"0": 96824391, "1": 95335809}
    assert len(run_cli("--root", ROOT, "numa", "--slab", "1", "--json").json()["slab"]) == 1


def test_process_spread_top_by_rss(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("--root", ROOT, "numa", "--json").json()
    procs = {p["pid"]: p for p in doc["processes"]}
    assert [p["pid"] for p in doc["processes"]] == [3300, 2201, 1, 4100]  # by statm resident
    java = procs[3300]
    # 65536 x 4 KiB + 2 x 2 MiB on N0; the same plus 20 text pages on N1
    assert java["bytes_per_node"] == {"0": 272629760, "1": 272711680}
    assert java["largest_node"] == 1 and java["spread"] is True
    assert java["largest_share_percent"] == pytest.approx(100 * 272711680 / 545341440)
    haproxy = procs[2201]
    assert haproxy["bytes_per_node"] == {"0": 17920 * 4096, "1": 7680 * 4096}
    assert haproxy["largest_share_percent"] == pytest.approx(70.0)
    assert haproxy["rss_bytes"] == 25600 * 4096
    assert procs[1]["nodes_used"] == 1 and procs[1]["bytes_per_node"] == {"0": 10240000}
    assert procs[4100]["bytes_per_node"] == {"1": 4300800} and procs[4100]["spread"] is False
    # bounded: only the N largest are read
    top2 = run_cli("--root", ROOT, "numa", "--limit", "2", "--json").json()["processes"]
    assert [p["pid"] for p in top2] == [3300, 2201]


def test_text_is_lscpu_style_and_fits_80_columns(run_cli: Callable[..., CliResult],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    res = run_cli("--root", ROOT, "numa", "--explain")
    assert res.code == 0, res.err
    assert "NUMA node0 CPU(s): 0-7,16-23" in res.out
    assert "NUMA node1 CPU(s): 8-15,24-31" in res.out
    assert "2 of the 4 largest processes have pages on more than one node" in res.out
    assert "+5.2%" in res.out and "-5.2%" in res.out
    assert "0.439% (40,219,332 of 9,167,955,844 pages)" in " ".join(res.out.split())
    # piped, a table keeps every value in full; on an 80-column terminal it fits
    assert "/usr/sbin/haproxy -f /etc/haproxy/haproxy.cfg" in res.out
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "80")
    tty = re.sub(r"\x1b\[[0-9;]*m", "", run_cli("--root", ROOT, "numa", "--explain").out)
    assert max(len(line) for line in tty.splitlines()) <= 80


def test_no_node_directory_is_a_clear_error(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 1000 kB\nMemFree: 500 kB\n")
    res = run_cli("--root", str(tmp_path), "numa")
    assert res.code == 2 and "CONFIG_NUMA" in res.err


@pytest.mark.live
def test_live_host_matches_sysfs(run_cli: Callable[..., CliResult]) -> None:
    base = Path("/sys/devices/system/node")
    if not base.is_dir():
        pytest.skip("kernel without CONFIG_NUMA")
    doc = run_cli("numa", "--json").json()
    online = sorted(int(p.name[4:]) for p in base.glob("node[0-9]*"))
    assert [n["node"] for n in doc["nodes"]] == online
    n0 = doc["nodes"][0]
    assert n0["cpulist"] == (base / "node0/cpulist").read_text().strip()
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    m = re.search(r"NUMA node0 CPU\(s\):\s+(\S+)", lscpu)
    if m:  # lscpu writes "0,1" where the kernel writes "0-1": compare the CPUs
        assert n0["cpus"] == list(parse_cpulist(m.group(1)))
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", (base / "node0/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    assert n0["mem_total_bytes"] == total_kb * KB
    if len(online) == 1:
        assert doc["imbalance"]["free_percent"] is None
        assert n0["numa_miss"] == 0 and n0["other_node"] == 0
    if IS_ROOT:
        assert sum(doc["slab_objects_per_node"].values()) > 0
        for cache in doc["slab"]:  # "objects" is the sum of its N<id>= parts
            assert sum(cache["objects_per_node"].values()) == cache["objects"], cache


@pytest.mark.live
def test_live_process_spread_of_a_known_process() -> None:
    # a child that touches 64 MiB: numa_maps puts all of it on the node(s) it ran on
    child = subprocess.Popen(["python3", "-c", "import sys,time\nb=bytearray(64<<20)\n"
                              "for i in range(0,len(b),4096): b[i]=1\nprint(1,flush=True)\ntime.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "1"
        text = Path(f"/proc/{child.pid}/numa_maps").read_text()
        spread = process_spread(pid=child.pid, comm="python3", command=None, rss_bytes=None,
                                maps=parse_numa_maps(text))
        assert spread.numa_maps_bytes >= 64 << 20
        nodes = len(list(Path("/sys/devices/system/node").glob("node[0-9]*")))
        if nodes == 1:
            assert spread.nodes_used == 1 and spread.largest_share_percent == 100.0
    finally:
        child.kill()
        child.wait()


@pytest.mark.live
def test_live_text_fits_80_columns(run_cli: Callable[..., CliResult],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # on an 80-column terminal (piped output keeps every value whole, so lines may be longer)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "80")
    res = run_cli("numa", "--explain")
    res.out = ANSI.sub("", res.out)
    assert res.code == 0, res.err
    assert re.search(r"NUMA node0 CPU\(s\): \S+", res.out)
    assert max(len(line) for line in res.out.splitlines()) <= 80
    assert os.path.exists("/sys/devices/system/node/node0")


@pytest.mark.live
def test_numa_as_nobody_degrades_with_notes(nobody_site: Path) -> None:
    env = {"PYTHONPATH": str(nobody_site), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          str(SYSTEM_PYTHON), "-m", "memsleuth", "numa"],
                         capture_output=True, text=True, env=env, timeout=60, cwd="/")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr
    assert "NUMA node0 CPU(s):" in res.stdout
    # slab objects are 0400 and other users' numa_maps are private: both are named
    assert "slab objects per node need" in res.stdout and "run as root" in res.stdout
