"""/proc/sys/fs/file-nr."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.file_nr import parse_file_nr
from tests.conftest import text_fixture


def test_file_nr() -> None:
    f = parse_file_nr(text_fixture("linux-6.18", "proc_sys_fs_file-nr"))
    assert f.nr_files == 585
    assert f.nr_free_files == 0  # always 0 since 2.6: a true value, not unknown
    assert f.max_files == 2466170


def test_file_max_may_be_long_max() -> None:
    f = parse_file_nr("1024\t0\t9223372036854775807\n")
    assert f.max_files == 2**63 - 1


@pytest.mark.parametrize("text", ["", "1 0\n", "1 0 2 3\n", "1 0 many\n"])
def test_malformed_file_nr_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_file_nr(text)


@pytest.mark.live
def test_live_file_nr_parses() -> None:
    f = parse_file_nr(Path("/proc/sys/fs/file-nr").read_text())
    assert 0 < f.nr_files <= f.max_files
