"""/proc/sys/fs/inode-nr."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.dentry_state import parse_dentry_state
from memsleuth.sources.inode_nr import parse_inode_nr
from tests.conftest import text_fixture


def test_modern_inode_nr() -> None:
    i = parse_inode_nr(text_fixture("linux-6.18", "proc_sys_fs_inode-nr"))
    assert i.nr_inodes == 95364
    assert i.nr_free_inodes == 0


def test_centos6_dentries_dwarf_inodes() -> None:
    i = parse_inode_nr(text_fixture("centos6-2.6.32", "proc_sys_fs_inode-nr"))
    d = parse_dentry_state(text_fixture("centos6-2.6.32", "proc_sys_fs_dentry-state"))
    assert (i.nr_inodes, i.nr_free_inodes) == (152341, 2087)
    # the founding case's tell: ~1300 dentries per inode means negative dentries
    assert d.nr_dentry // i.nr_inodes == 1321


def test_inode_state_has_the_same_first_two_fields() -> None:
    i = parse_inode_nr("95278\t17\t0\t0\t0\t0\t0\n")
    assert (i.nr_inodes, i.nr_free_inodes) == (95278, 17)


@pytest.mark.parametrize("text", ["", "1\n", "1 2 3\n", "a b\n"])
def test_malformed_inode_nr_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_inode_nr(text)


@pytest.mark.live
def test_live_inode_nr_parses() -> None:
    i = parse_inode_nr(Path("/proc/sys/fs/inode-nr").read_text())
    assert i.nr_inodes > 0 and i.nr_free_inodes >= 0
