"""``memsleuth slab``: oracle against /proc/slabinfo and slabtop, aliases, growth."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import IS_ROOT, CliResult

pytestmark = [pytest.mark.live, pytest.mark.skipif(not IS_ROOT, reason="slabinfo needs root")]
PAGE = os.sysconf("SC_PAGE_SIZE")


def _slabinfo() -> dict[str, list[int]]:
    out = {}
    for line in Path("/proc/slabinfo").read_text().splitlines()[2:]:
        head, _, rest = line.partition(":")
        parts = head.split()
        data = rest.split("slabdata")[1].split()
        out[parts[0]] = [int(v) for v in parts[1:6]] + [int(data[1])]
    return out


def test_rows_match_proc_slabinfo(run_cli: Callable[..., CliResult]) -> None:
    for _ in range(5):
        doc = run_cli("slab", "--all", "--json").json()
        truth = _slabinfo()
        ours = {c["name"]: c for c in doc["caches"]}
        assert set(ours) == set(truth)
        stable = ("objsize_bytes", "objperslab", "pagesperslab")
        for name, t in truth.items():
            c = ours[name]
            assert (c["objsize_bytes"], c["objperslab"], c["pagesperslab"]) == tuple(t[2:5]), name
            for key in stable:
                assert c[key] is not None
        moving = [n for n, t in truth.items()
                  if ours[n]["num_slabs"] * ours[n]["pagesperslab"] * PAGE != ours[n]["size_bytes"]
                  or abs(ours[n]["active_objs"] - t[0]) > max(512, t[0] // 20)]
        if not moving:
            break
    assert not moving, moving
    dentry = ours["dentry"]
    assert dentry["reclaimable"] is True
    assert dentry["waste_bytes"] == dentry["size_bytes"] - dentry["active_objs"] * dentry["objsize_bytes"]
    assert doc["totals"]["size_bytes"] == sum(c["size_bytes"] for c in doc["caches"])


@pytest.mark.skipif(shutil.which("slabtop") is None, reason="procps slabtop not installed")
def test_sizes_agree_with_slabtop(run_cli: Callable[..., CliResult]) -> None:
    out = subprocess.run(["slabtop", "-o", "-s", "c"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    start = next(i for i, ln in enumerate(out) if ln.strip().startswith("OBJS")) + 1
    theirs = {}
    for line in out[start:start + 10]:
        parts = line.split()
        theirs[parts[-1]] = int(float(parts[6].rstrip("K")) * 1024)
    ours = {c["name"]: c["size_bytes"] for c in run_cli("slab", "--all", "--json").json()["caches"]}
    for name, size in theirs.items():
        assert abs(ours[name] - size) <= max(64 * PAGE, size // 50), name
    # the default order is by size, like slabtop -s c
    top = run_cli("slab", "--limit", "3", "--json").json()["caches"]
    assert [c["size_bytes"] for c in top] == sorted((c["size_bytes"] for c in top), reverse=True)


def test_merged_aliases_are_named(run_cli: Callable[..., CliResult]) -> None:
    if not Path("/sys/kernel/slab").is_dir():
        pytest.skip("no SLUB sysfs on this kernel")
    caches = run_cli("slab", "--all", "--json").json()["caches"]
    merged = [c for c in caches if c["merged"]]
    assert merged, "SLUB merges caches of equal size unless booted with slab_nomerge"
    for c in merged[:5]:
        target = os.path.realpath(f"/sys/kernel/slab/{c['name']}")
        for alias in c["aliases"]:
            assert os.path.realpath(f"/sys/kernel/slab/{alias}") == target


def test_growth_over_an_interval(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    # 20k negative dentries on a disk filesystem grow the dentry cache
    work = Path("/var/tmp") / f"memsleuth-slab-{os.getpid()}"
    work.mkdir()
    try:
        child = subprocess.Popen(
            ["python3", "-c",
             "import os,sys,time\nd=sys.argv[1]\nend=time.time()+1.5\ni=0\n"
             "while time.time()<end:\n    os.path.exists(f'{d}/n{i}'); i+=1\n",
             str(work)])
        doc = run_cli("slab", "1", "1", "--all", "--json").json()
        child.wait()
        dentry = next(c for c in doc["caches"] if c["name"] == "dentry")
        assert dentry["growth_objects_per_second"] is not None
        assert dentry["growth_objects_per_second"] > 1000
    finally:
        work.rmdir()


def _slabtop(sort: str, n: int = 8) -> list[tuple[str, int, int]]:
    """``slabtop -o -s SORT``: (name, OBJS, OBJ/SLAB) of the first ``n`` rows, in slabtop's order."""
    out = subprocess.run(["slabtop", "-o", "-s", sort], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    start = next(i for i, ln in enumerate(out) if ln.strip().startswith("OBJS")) + 1
    rows = []
    for line in out[start:start + n]:
        parts = line.split()
        rows.append((parts[-1], int(parts[0]), int(parts[5])))
    return rows


@pytest.mark.skipif(shutil.which("slabtop") is None, reason="procps slabtop not installed")
@pytest.mark.parametrize(("letter", "key"), [("c", "size"), ("o", "objects"), ("b", "objperslab")])
def test_slabtop_sort_letters_and_once(run_cli: Callable[..., CliResult], letter: str, key: str) -> None:
    """``slab -o -s c`` orders as ``slabtop -o -s c`` does (and o, b): slabtop's leaders are ours."""
    theirs = _slabtop(letter)
    res = run_cli("slab", "-o", "-s", letter, "--limit", "40", "--json")
    assert res.code == 0
    ours = res.json()["caches"]
    names = [c["name"] for c in ours]
    by_name = {c["name"]: c for c in ours}
    field = {"size": "size_bytes", "objects": "num_objs", "objperslab": "objperslab"}[key]
    values = [c[field] for c in ours]
    assert values == sorted(values, reverse=True)
    if key == "objperslab":  # many caches tie (512 per slab): the leading value must agree
        assert values[0] == theirs[0][2]
    for name, objs, per_slab in theirs[:5]:
        if key != "objperslab":
            assert name in names[:12], (name, names[:12])
        if name not in by_name:
            continue
        assert by_name[name]["objperslab"] == per_slab
        assert abs(by_name[name]["num_objs"] - objs) <= max(512, objs // 20), name
    text = run_cli("slab", "-o", "-s", letter, "--limit", "5")
    assert text.code == 0 and "\x1b[" not in text.out


def test_waiting_slab_is_silent_on_a_pipe(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("slab", "0.2", "1", "--limit", "3")
    assert res.code == 0
    assert res.err == ""  # no progress line: stderr is not a terminal
    assert "GROWTH" in res.out


def test_refreshing_slab_piped_prints_each_frame(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("slab", "--interval", "0.2", "--count", "3", "-s", "c", "--limit", "3")
    assert res.code == 0
    assert res.out.count("memsleuth slab - ") == 3
    assert res.out.count("GROWTH") == 2  # growth from the second frame on
    assert "\x1b[" not in res.out
    assert run_cli("slab", "5", "--interval", "1").code == 2
    assert run_cli("slab", "--count", "2").code == 2
