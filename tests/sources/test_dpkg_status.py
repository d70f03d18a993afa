"""/var/lib/dpkg/status: versions by package, continuation lines, multi-arch duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.sources.dpkg_status import parse_dpkg_status
from tests.conftest import text_fixture


def test_captured_status() -> None:
    v = parse_dpkg_status(text_fixture("debian-12", "var_lib_dpkg_status"))
    assert dict(v) == {"curl": "7.88.1-10+deb12u14", "libcurl4": "7.88.1-10+deb12u14",
                       "libnss3": "2:3.87.1-1+deb12u2"}


def test_first_stanza_of_a_multiarch_package_wins() -> None:
    text = ("Package: libc6\nArchitecture: amd64\nVersion: 2.36-9\n\n"
            "Package: libc6\nArchitecture: i386\nVersion: 2.36-8\n")
    assert parse_dpkg_status(text) == {"libc6": "2.36-9"}


def test_continuation_lines_and_stanzas_without_a_version() -> None:
    text = ("Package: a\nDescription: x\n Version: 9.9 (in the description)\nVersion: 1.0\n\n"
            "Package: b\nStatus: purge ok not-installed\n\n\n"
            "Package: b\nVersion: 2.0\n")
    assert parse_dpkg_status(text) == {"a": "1.0", "b": "2.0"}


@pytest.mark.parametrize("text", ["", "\n\n", "garbage without fields\n", "Version: 1\n"])
def test_nothing_to_read_is_an_empty_mapping(text: str) -> None:
    assert parse_dpkg_status(text) == {}


@pytest.mark.live
@pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists(), reason="not a dpkg host")
def test_live_status_has_dpkg_itself() -> None:
    assert "dpkg" in parse_dpkg_status(Path("/var/lib/dpkg/status").read_text())
