"""/sys/kernel/slab on kernel 6.18 (SLUB): merge groups, reclaim_account, objects."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.slab_sysfs import parse_objects, parse_slab_sysfs, parse_unique_id
from memsleuth.sources.slabinfo import parse_slabinfo
from tests.conftest import text_fixture

Listing = dict[str, str | None]
Files = dict[str, dict[str, str]]


def load_tsv(text: str) -> tuple[Listing, Files]:
    """The fixture's ``entry, symlink target, reclaim_account, objects, aliases`` rows."""
    listing: Listing = {}
    files: Files = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        entry, target, reclaim, objects, aliases = line.split("\t")
        listing[entry] = None if target == "-" else target
        if target == "-":
            files[entry] = {"reclaim_account": reclaim + "\n", "objects": objects + "\n",
                            "aliases": aliases + "\n"}
    return listing, files


def test_slab_sysfs_groups_aliases() -> None:
    listing, files = load_tsv(text_fixture("linux-6.18", "sys_kernel_slab.tsv"))
    s = parse_slab_sysfs(listing, files)
    assert len(s.dirs) == 235  # one real directory per /proc/slabinfo line
    assert s.resolve("pid") == ":A-0000192"
    assert s.resolve("dentry") == "dentry"
    assert s.resolve("nope") is None
    assert s.aliases_of("pid") == ("cred", "pid", "pid_2")
    assert s.aliases_of(":A-0000192") == ("cred", "pid", "pid_2")
    assert s.aliases_of("dentry") == ("dentry",)
    group = s.dirs[":0000192"]
    assert group.names == ("aio_kiocb", "file_lock_cache", "inet_peer", "mfc6_cache", "mfc_cache",
                           "rtable", "skbuff_ext_cache", "xsk_generic_xmit_cache")
    assert group.aliases == 7  # refcount - 1: the kernel does not count the first cache
    assert (group.id_flags, group.id_size_bytes) == ("", 192)
    assert group.reclaim_account is False and group.objects == 126
    bh = s.dirs[":a-0000104"]
    assert bh.id_flags == "a" and bh.reclaim_account is True  # 'a' = SLAB_RECLAIM_ACCOUNT
    assert s.reclaimable("buffer_head") is True
    d = s.dirs["dentry"]
    assert d.id_flags is None and d.reclaim_account is True
    assert d.objects == 136153 and dict(d.objects_per_node) == {0: 136153}
    groups = dict(s.iter_alias_groups())
    assert groups[":A-0000192"] == ("cred", "pid", "pid_2")
    assert "dentry" not in groups


def test_slabinfo_names_a_merged_cache_by_one_alias() -> None:
    listing, files = load_tsv(text_fixture("linux-6.18", "sys_kernel_slab.tsv"))
    s = parse_slab_sysfs(listing, files)
    info = parse_slabinfo(text_fixture("linux-6.18", "proc_slabinfo"))
    names = {c.name for c in info.caches}
    assert {"pid", "file_lock_cache"} <= names and not {"cred", "rtable"} & names
    # every slabinfo line resolves to a distinct real directory
    assert len({s.resolve(n) for n in names}) == len(names) == len(s.dirs)


def test_pieces() -> None:
    assert parse_objects("9387 N0=9000 N1=387\n") == (9387, {0: 9000, 1: 387})
    assert parse_unique_id(":aA-0000016") == ("aA", 16)
    assert parse_unique_id("dentry") is None
    # a symlink listed after its target went away still resolves; partial reads are None
    s = parse_slab_sysfs({"x": "../slab/:0000008", ":0000064": None}, {})
    assert s.resolve("x") == ":0000008" and s.reclaimable("x") is None
    assert s.dirs[":0000064"].objects is None and s.dirs[":0000064"].reclaim_account is None


@pytest.mark.parametrize("files", [
    {":0000064": {"objects": "N0=5\n"}},
    {":0000064": {"objects": "5 X0=5\n"}},
    {":0000064": {"objects": ""}},
    {":0000064": {"reclaim_account": "yes\n"}},
    {":0000064": {"aliases": "two\n"}},
])
def test_malformed_slab_sysfs_is_a_parse_error(files: Files) -> None:
    with pytest.raises(ParseError):
        parse_slab_sysfs({":0000064": None}, files)


@pytest.mark.live
def test_live_slab_sysfs_parses() -> None:
    root = Path("/sys/kernel/slab")
    if not root.is_dir():
        pytest.skip("no /sys/kernel/slab (not SLUB, or no sysfs)")
    listing: Listing = {}
    files: Files = {}
    for entry in root.iterdir():
        if entry.is_symlink():
            listing[entry.name] = os.readlink(entry)
            continue
        listing[entry.name] = None
        files[entry.name] = {}
        for name in ("reclaim_account", "objects", "aliases"):
            # a file may be missing (no CONFIG_SLUB_DEBUG) or unreadable (not root)
            with contextlib.suppress(OSError):
                files[entry.name][name] = (entry / name).read_text()
    s = parse_slab_sysfs(listing, files)
    assert s.dirs
