"""/proc/PID/maps and the header parser shared with smaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.maps import parse_maps, parse_vma_header
from tests.conftest import text_fixture


def test_maps_fixture() -> None:
    areas = parse_maps(text_fixture("linux-6.18", "pid_maps"))
    assert len(areas) == 129
    first = areas[0]
    assert (first.start, first.end) == (0x55AB87D72000, 0x55AB87D73000)
    assert first.perms == "r--p" and first.offset == 0
    assert (first.dev_major, first.dev_minor, first.dev) == (0xFE, 0, "fe:00")
    assert first.inode == 26723
    assert first.pathname == "/root/.pyenv/versions/3.11.7/bin/python3.11"
    assert first.size_bytes == 4096
    by_name = {a.pathname: a for a in areas}
    assert by_name["[heap]"].inode == 0
    spaced = by_name["/tmp/memsleuth fixture/mapped file.bin"]
    assert spaced.shared and not spaced.deleted
    gone = by_name["/tmp/memsleuth fixture/gone.bin"]
    assert gone.deleted and gone.perms == "r--p"
    assert by_name["/memfd:memsleuth-memfd"].deleted
    assert areas[-1].pathname == "[vsyscall]"
    assert areas[-1].start == 0xFFFFFFFFFF600000
    assert sum(1 for a in areas if a.pathname is None) > 0


def test_header_with_offset_and_anon_name() -> None:
    h = parse_vma_header("7f00-8000 rw-p 0001c000 00:00 0                          [anon:my pool]")
    assert h == (0x7F00, 0x8000, "rw-p", 0x1C000, 0, 0, 0, "[anon:my pool]", False)
    (area,) = parse_maps("7f00-8000 rw-p 0001c000 00:00 0    [anon:my pool]\n")
    assert area.anon_name == "my pool"


def test_anonymous_header_has_trailing_space_and_no_name() -> None:
    (area,) = parse_maps("7f69b0000000-7f69b0021000 rw-p 00000000 00:00 0 \n")
    assert area.pathname is None and area.anon_name is None and not area.deleted


def test_empty_maps_is_empty() -> None:
    assert parse_maps("") == ()


@pytest.mark.parametrize(
    "line",
    [
        "7f00-8000 rw-p 0 00:00",  # too few fields
        "7f008000 rw-p 0 00:00 0",  # no dash
        "7f00-8000 rw-p 0 0000 0",  # no colon in dev
        "7f00-8000 rw 0 00:00 0",  # perms not 4 chars
        "7f00-zz00 rw-p 0 00:00 0",  # not hex
        "7f00-8000 rw-p 0 00:00 inode",  # inode not decimal
    ],
)
def test_malformed_maps_is_a_parse_error(line: str) -> None:
    with pytest.raises(ParseError):
        parse_maps(line + "\n")


@pytest.mark.live
def test_live_self_maps() -> None:
    areas = parse_maps(Path("/proc/self/maps").read_text())
    assert areas and all(a.start < a.end for a in areas)
    assert any(a.pathname == "[stack]" for a in areas)
