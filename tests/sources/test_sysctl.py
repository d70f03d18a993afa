"""Single-value sysctls, vectors, the THP mode, and the sysctl table."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.sysctl import (
    VM_SYSCTLS,
    parse_int_sysctl,
    parse_int_vector,
    parse_thp_enabled,
)
from tests.conftest import text_fixture


def test_int_sysctl() -> None:
    assert parse_int_sysctl(text_fixture("linux-6.18", "proc_sys_vm_min_free_kbytes")) == 67584
    assert parse_int_sysctl("-1\n") == -1


def test_int_vector() -> None:
    assert parse_int_vector(text_fixture("linux-6.18", "proc_sys_net_ipv4_tcp_mem")) == (
        287898,
        383867,
        575796,
    )


def test_thp_modes() -> None:
    assert parse_thp_enabled(text_fixture("linux-6.18", "sys_kernel_mm_transparent_hugepage_enabled")) == (
        "madvise"
    )
    defrag = text_fixture("linux-6.18", "sys_kernel_mm_transparent_hugepage_defrag")
    assert parse_thp_enabled(defrag) == "madvise"
    assert parse_thp_enabled("[always] madvise never\n") == "always"
    assert parse_thp_enabled("always within_size advise [never] deny force\n") == "never"
    assert parse_thp_enabled("always defer [defer+madvise] madvise never\n") == "defer+madvise"


def test_table_names_paths_units() -> None:
    names = {
        "vm.min_free_kbytes", "vm.watermark_scale_factor", "vm.vfs_cache_pressure",
        "vm.swappiness", "vm.overcommit_memory", "vm.overcommit_ratio",
        "vm.overcommit_kbytes", "vm.admin_reserve_kbytes", "vm.user_reserve_kbytes",
        "vm.nr_hugepages", "vm.zone_reclaim_mode", "vm.dirty_ratio",
        "vm.dirty_background_ratio", "vm.max_map_count", "vm.panic_on_oom",
        "kernel.pid_max", "kernel.threads-max", "net.netfilter.nf_conntrack_count",
        "net.netfilter.nf_conntrack_max", "fs.dentry-negative",
    }  # fmt: skip
    assert set(VM_SYSCTLS) == names
    for name, spec in VM_SYSCTLS.items():
        assert spec.name == name
        assert spec.meaning and "\n" not in spec.meaning
    assert VM_SYSCTLS["vm.min_free_kbytes"].path == "proc/sys/vm/min_free_kbytes"
    assert VM_SYSCTLS["vm.min_free_kbytes"].unit == "kB"
    assert VM_SYSCTLS["kernel.threads-max"].path == "proc/sys/kernel/threads-max"
    assert VM_SYSCTLS["net.netfilter.nf_conntrack_max"].path == ("proc/sys/net/netfilter/nf_conntrack_max")
    assert VM_SYSCTLS["fs.dentry-negative"].path == "proc/sys/fs/dentry-negative"
    assert VM_SYSCTLS["vm.dirty_ratio"].unit == "percent"
    assert VM_SYSCTLS["vm.watermark_scale_factor"].unit == "per_10000"
    assert all(s.unit == "kB" for n, s in VM_SYSCTLS.items() if n.endswith("_kbytes"))


@pytest.mark.parametrize("text", ["", "\n", "12 13\n", "lots\n", "1.5\n"])
def test_malformed_int_sysctl_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_int_sysctl(text)


@pytest.mark.parametrize("text", ["", "1 x 3\n"])
def test_malformed_int_vector_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_int_vector(text)


@pytest.mark.parametrize("text", ["", "always madvise never\n", "[always] [never]\n", "[]\n"])
def test_malformed_thp_mode_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_thp_enabled(text)


@pytest.mark.live
def test_live_sysctls_in_the_table_parse() -> None:
    seen = 0
    for spec in VM_SYSCTLS.values():
        path = Path("/") / spec.path
        if path.exists():
            parse_int_sysctl(path.read_text())
            seen += 1
    assert seen >= 15  # the vm.* and kernel.* ones exist on every kernel we support


@pytest.mark.live
def test_live_thp_enabled_parses() -> None:
    path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not path.exists():
        pytest.skip("no THP")
    assert parse_thp_enabled(path.read_text()) in {"always", "madvise", "never"}
