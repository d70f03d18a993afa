"""Cgroup memory files (v1 and v2), /proc/cgroups, /proc/PID/cgroup, unit names."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.cgroup import (
    MemoryStatV1,
    MemoryStatV2,
    memory_cgroup_of,
    memory_stat_version,
    parse_cgroup_stat,
    parse_counter,
    parse_limit,
    parse_memory_stat,
    parse_memory_stat_v1,
    parse_memory_stat_v2,
    parse_pid_cgroup,
    parse_proc_cgroups,
    systemd_unit_of,
)
from memsleuth.sources.meminfo import parse_meminfo
from tests.conftest import text_fixture

KIB = 1024


def test_v2_memory_stat() -> None:
    s = parse_memory_stat_v2(text_fixture("linux-6.18", "cgroup2_memory.stat"))
    assert s.version == 2
    assert s.anon_bytes == 157286400 and s.file_bytes == 125829120
    assert s.kernel_bytes == 12622656 and s.sock_bytes == 1048576
    assert s.kernel_stack_bytes == 78 * 16384
    assert s.anon_thp_bytes == 50 * 2 * 1024 * 1024
    assert s.workingset_refault_file == 1843  # a count, not bytes
    assert s.pgfault == 4128937 and s.pgmajfault == 1311
    assert s.hugetlb_bytes is None  # not printed without memory_hugetlb_accounting
    # the kernel's identities hold
    assert s.slab_reclaimable_bytes is not None and s.slab_unreclaimable_bytes is not None
    assert s.slab_bytes == s.slab_reclaimable_bytes + s.slab_unreclaimable_bytes
    assert s.inactive_anon_bytes is not None and s.active_anon_bytes is not None
    assert s.shmem_bytes is not None
    assert s.inactive_anon_bytes + s.active_anon_bytes == s.anon_bytes + s.shmem_bytes
    parts = ("kernel_stack_bytes", "pagetables_bytes", "sec_pagetables_bytes", "percpu_bytes",
             "vmalloc_bytes", "slab_bytes")  # fmt: skip
    assert sum(int(getattr(s, p)) for p in parts) < s.kernel_bytes
    # untyped keys are kept
    assert s.raw["zswap_incomp"] == 0 and s.raw["pgdemote_proactive"] == 0
    current = parse_counter(text_fixture("linux-6.18", "cgroup2_memory.current"))
    assert s.kernel_bytes is not None
    charged = s.anon_bytes + s.file_bytes + s.kernel_bytes + s.sock_bytes
    assert 0 <= current - charged < 4096


def test_v2_limits() -> None:
    assert parse_limit(text_fixture("linux-6.18", "cgroup2_memory.max")) == 512 * 1024 * 1024
    assert parse_limit(text_fixture("linux-6.18", "cgroup2_memory.high")) is None  # max


def test_v1_root_memory_stat_modern() -> None:
    s = parse_memory_stat_v1(text_fixture("linux-6.18", "cgroup1_root_memory.stat"))
    assert s.version == 1
    assert s.cache_bytes == 9510912 and s.rss_bytes == 7761920
    assert s.shmem_bytes == 9084928 and s.unevictable_bytes == 15314944
    assert s.pgfault == 54013 and s.workingset_refault_file == 1069
    assert s.hierarchical_memory_limit_bytes is None  # 9223372036854771712: unlimited
    assert s.raw["hierarchical_memory_limit"] == 9223372036854771712
    assert s.total is not None
    assert s.total.rss_bytes == 84250624 and s.total.pgmajfault == 2259
    assert s.total.total is None and s.total.raw["cache"] == 299495424
    assert s.total.cache_bytes is not None and s.cache_bytes is not None
    assert s.total.cache_bytes >= s.cache_bytes  # the subtree includes the root's own
    # usage_in_bytes, read a moment later, is the subtree's cache + rss (it is fuzzy by design)
    usage = parse_counter(text_fixture("linux-6.18", "cgroup1_root_memory.usage_in_bytes"))
    assert s.total.rss_bytes is not None
    assert abs(usage - (s.total.cache_bytes + s.total.rss_bytes)) < 4 * 1024 * 1024


def test_v1_centos6_memory_stat() -> None:
    text = text_fixture("centos6-2.6.32", "cgroup1_memory.stat")
    s = parse_memory_stat(text)
    assert isinstance(s, MemoryStatV1)
    host = parse_meminfo(text_fixture("centos6-2.6.32", "proc_meminfo"))
    assert s.rss_bytes == host.anon_pages_bytes == 13570008 * KIB
    assert s.cache_bytes == 3539820 * KIB
    assert s.mapped_file_bytes == host.mapped_bytes
    assert s.active_anon_bytes == host.active_anon_bytes
    assert s.pgpgin is not None and s.pgpgout is not None
    assert (s.pgpgin - s.pgpgout) * 4096 == s.cache_bytes + s.rss_bytes
    # 2.6.32 has none of the later keys
    assert s.rss_huge_bytes is None and s.shmem_bytes is None and s.dirty_bytes is None
    assert s.pgfault is None and s.workingset_refault_file is None
    # LLONG_MAX: res_counter's "unlimited"
    assert s.hierarchical_memory_limit_bytes is None and s.hierarchical_memsw_limit_bytes is None
    assert s.total is not None and s.total.rss_bytes == s.rss_bytes  # no child groups
    assert parse_limit(text_fixture("centos6-2.6.32", "cgroup1_memory.limit_in_bytes")) is None


def test_version_detection() -> None:
    v1 = text_fixture("linux-6.18", "cgroup1_root_memory.stat")
    v2 = text_fixture("linux-6.18", "cgroup2_memory.stat")
    assert memory_stat_version(line.split()[0] for line in v1.splitlines()) == 1
    assert memory_stat_version(line.split()[0] for line in v2.splitlines()) == 2
    assert isinstance(parse_memory_stat(v2), MemoryStatV2)
    assert isinstance(parse_memory_stat(v1), MemoryStatV1)
    with pytest.raises(ParseError):
        parse_memory_stat_v1(v2)
    with pytest.raises(ParseError):
        parse_memory_stat_v2(v1)
    with pytest.raises(ParseError):
        memory_stat_version(["pgfault", "pgmajfault"])  # neither
    with pytest.raises(ParseError):
        memory_stat_version(["cache", "anon"])  # both


def test_v1_single_value_files() -> None:
    assert parse_counter(text_fixture("linux-6.18", "cgroup1_root_memory.usage_in_bytes")) == 383545344
    assert parse_counter(text_fixture("linux-6.18", "cgroup1_root_memory.kmem.usage_in_bytes")) == (155672576)
    assert parse_limit(text_fixture("linux-6.18", "cgroup1_root_memory.limit_in_bytes")) is None
    assert parse_limit("9223372036854710272\n") is None  # 64 KiB pages
    assert parse_limit("9223372036854775807\n") is None  # pre-3.19
    assert parse_limit("8589934592\n") == 8 * 1024**3
    assert parse_limit("0\n") == 0  # a real (if deadly) limit


@pytest.mark.parametrize("text", ["", "max max\n", "-5\n", "12 kB\n", "unlimited\n"])
def test_malformed_single_values_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse_limit(text)


@pytest.mark.parametrize("text", ["", "max\n", "1.5\n"])
def test_malformed_counters_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse_counter(text)


@pytest.mark.parametrize("text", ["", "anon\n", "anon 1 2\n", "anon many\n", "pgfault 1\n"])
def test_malformed_memory_stat_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_memory_stat(text)


def test_cgroup_stat() -> None:
    c = parse_cgroup_stat(text_fixture("linux-6.18", "cgroup2_root_cgroup.stat"))
    assert c.nr_descendants == 0 and c.nr_dying_descendants == 0
    assert c.nr_subsys == {"perf_event": 1, "hugetlb": 1}
    assert c.nr_dying_subsys == {"perf_event": 0, "hugetlb": 0}
    old = parse_cgroup_stat("nr_descendants 41\nnr_dying_descendants 2970\n")
    assert old.nr_dying_descendants == 2970
    assert old.nr_subsys is None and old.nr_dying_subsys is None  # before 6.11


@pytest.mark.parametrize("text", ["", "nr_dying_descendants 1\n", "nr_descendants x\n"])
def test_malformed_cgroup_stat_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_cgroup_stat(text)


def test_proc_cgroups() -> None:
    c = parse_proc_cgroups(text_fixture("linux-6.18", "proc_cgroups"))
    assert len(c) == 12
    mem = c["memory"]
    assert (mem.hierarchy, mem.num_cgroups, mem.enabled) == (4, 19, True)
    assert c["hugetlb"].hierarchy == 0  # not mounted on v1
    assert (
        parse_proc_cgroups("#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t0\t5\t0\n")[
            "memory"
        ].enabled
        is False
    )


@pytest.mark.parametrize("text", ["", "#subsys_name hierarchy\n", "memory 4 18\n", "memory 4 x 1\n"])
def test_malformed_proc_cgroups_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_proc_cgroups(text)


def test_pid_cgroup_hybrid() -> None:
    p = parse_pid_cgroup(text_fixture("linux-6.18", "pid1_cgroup"))
    assert p["memory"] == "/" and p[""] == "/"
    assert p["name=systemd"] == "/"
    assert set(p) == {
        "name=systemd", "pids", "blkio", "freezer", "devices", "memory", "cpuset",
        "cpuacct", "cpu", "",
    }  # fmt: skip


def test_pid_cgroup_shapes() -> None:
    v1 = parse_pid_cgroup("3:cpu,cpuacct:/system.slice/nginx.service\n4:memory:/system.slice/nginx.service\n")
    assert v1["cpu"] == v1["cpuacct"] == v1["memory"] == "/system.slice/nginx.service"
    v2 = parse_pid_cgroup("0::/system.slice/app:with:colons.service (deleted)\n")
    assert v2 == {"": "/system.slice/app:with:colons.service (deleted)"}


HYBRID = (
    "12:memory:/system.slice/probe.service\n"
    "3:cpu,cpuacct:/user.slice\n"
    "1:name=systemd:/user.slice/user-1000.slice/session-3.scope\n"
    "0::/user.slice/user-1000.slice/session-3.scope\n"
)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        # hybrid: the unified line carries no controller; memory is charged where v1 memory says
        (HYBRID, "/system.slice/probe.service"),
        ("0::/system.slice/nginx.service\n", "/system.slice/nginx.service"),  # v2 only
        ("0::/\n", "/"),
        # v1 without the memory controller mounted: systemd's named hierarchy
        ("2:cpu:/a\n1:name=systemd:/system.slice/crond.service\n", "/system.slice/crond.service"),
        ("2:cpu,cpuacct:/a\n", None),
    ],
)
def test_memory_cgroup_of(text: str, path: str | None) -> None:
    assert memory_cgroup_of(parse_pid_cgroup(text)) == path


def test_memory_cgroup_of_a_captured_hybrid_pid1() -> None:
    assert memory_cgroup_of(parse_pid_cgroup(text_fixture("linux-6.18", "pid1_cgroup"))) == "/"


@pytest.mark.parametrize("text", ["", "memory:/a\n", "x:memory:/a\n", "4:memory:relative\n"])
def test_malformed_pid_cgroup_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pid_cgroup(text)


CID = "3f9a6c1be2d45e7f8a90b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2"


@pytest.mark.parametrize(
    ("path", "unit"),
    [
        ("/system.slice/nginx.service", "nginx.service"),
        ("/user.slice/user-1000.slice/session-3.scope", "session-3.scope"),
        ("/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo-12.scope", "app-foo-12.scope"),
        ("/system.slice", "system.slice"),
        ("/system.slice/nginx.service (deleted)", "nginx.service"),
        (f"/docker/{CID}", "3f9a6c1be2d4"),
        (f"/system.slice/docker-{CID}.scope", "3f9a6c1be2d4"),
        (f"/system.slice/docker-{CID}.scope/init.scope", "3f9a6c1be2d4"),
        (f"/kubepods/burstable/pod0e1f2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b/{CID}", "3f9a6c1be2d4"),
        (
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0e1f2a3b_4c5d.slice/"
            f"cri-containerd-{CID}.scope",
            "3f9a6c1be2d4",
        ),
        (f"/kubepods-besteffort-pod0e1f2a3b_4c5d.slice:cri-containerd:{CID}", "3f9a6c1be2d4"),
        (f"/machine.slice/libpod-{CID}.scope/container", "3f9a6c1be2d4"),
        (f"/system.slice/crio-{CID}.scope", "3f9a6c1be2d4"),
        ("/", None),
        ("", None),
        ("/process_api/7dc8bb0f8787559f98faecaa6eb5fc2b", None),  # 32 hex digits: not a container
    ],
)
def test_systemd_unit_of(path: str, unit: str | None) -> None:
    assert systemd_unit_of(path) == unit


@pytest.mark.live
def test_live_proc_cgroups_and_self_cgroup_parse() -> None:
    subsys = parse_proc_cgroups(Path("/proc/cgroups").read_text())
    assert "memory" in subsys
    paths = parse_pid_cgroup(Path("/proc/self/cgroup").read_text())
    assert all(p.startswith("/") for p in paths.values())


@pytest.mark.live
def test_live_cgroup_memory_files_parse() -> None:
    v1 = Path("/sys/fs/cgroup/memory")
    v2 = Path("/sys/fs/cgroup")
    if (v1 / "memory.stat").exists():
        s = parse_memory_stat((v1 / "memory.stat").read_text())
        assert isinstance(s, MemoryStatV1) and s.total is not None
        assert parse_counter((v1 / "memory.usage_in_bytes").read_text()) > 0
        parse_limit((v1 / "memory.limit_in_bytes").read_text())
    elif (v2 / "cgroup.controllers").exists() and "memory" in (v2 / "cgroup.controllers").read_text():
        # the root has no memory.stat on v2; use our own cgroup's
        rel = parse_pid_cgroup(Path("/proc/self/cgroup").read_text())[""]
        here = v2 / rel.lstrip("/")
        if not (here / "memory.stat").exists():
            pytest.skip("own cgroup has no memory.stat")
        assert isinstance(parse_memory_stat((here / "memory.stat").read_text()), MemoryStatV2)
        parse_counter((here / "memory.current").read_text())
    else:
        pytest.skip("no cgroup memory controller mounted")
    for stat in (Path("/sys/fs/cgroup/unified/cgroup.stat"), v2 / "cgroup.stat"):
        if stat.exists():
            assert parse_cgroup_stat(stat.read_text()).nr_descendants is not None
