"""/proc/sys/fs/dentry-state: the nr_negative rule on 6.18 and 2.6.32."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.dentry_state import kernel_has_nr_negative, parse_dentry_state
from tests.conftest import text_fixture


def test_modern_dentry_state_counts_negative_dentries() -> None:
    d = parse_dentry_state(text_fixture("linux-6.18", "proc_sys_fs_dentry-state"))
    assert d.nr_dentry == 131685
    assert d.nr_unused == 130134
    assert d.age_limit_seconds == 45
    assert d.want_pages == 0
    assert d.nr_negative == 36164  # non-zero: trusted without a hint
    assert d.nr_negative <= d.nr_unused  # negative dentries counted on the LRU only


def test_centos6_fifth_field_is_not_a_count() -> None:
    text = text_fixture("centos6-2.6.32", "proc_sys_fs_dentry-state")
    hint = kernel_has_nr_negative("2.6.32-431.el6.x86_64")
    assert hint is False
    d = parse_dentry_state(text, has_nr_negative=hint)
    assert d.nr_dentry == 201326592
    assert d.nr_unused == 200917711
    assert d.nr_negative is None  # printed 0, means "not counted"
    # without a hint a zero is just as ambiguous
    assert parse_dentry_state(text).nr_negative is None


def test_zero_is_zero_only_when_the_kernel_counts() -> None:
    text = "1000 900 45 0 0 0\n"
    assert parse_dentry_state(text, has_nr_negative=True).nr_negative == 0
    assert parse_dentry_state(text, has_nr_negative=False).nr_negative is None
    assert parse_dentry_state(text, has_nr_negative=None).nr_negative is None


def test_nonzero_fifth_field_wins_over_an_old_release() -> None:
    # a distribution kernel older than 5.0 that backported the counter
    d = parse_dentry_state("5000 4000 45 0 1200 0\n", has_nr_negative=False)
    assert d.nr_negative == 1200


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("2.6.32-431.el6.x86_64", False),
        ("3.10.0-1160.el7.x86_64", False),
        ("4.20.17", False),
        ("4.18.0-553.el8_10.x86_64", False),
        ("5.0.0", True),
        ("5.4.0-150-generic", True),
        ("6.18.44-fc-v669", True),
        ("10.1", True),
        ("", None),
        ("linux", None),
    ],
)
def test_kernel_has_nr_negative(release: str, expected: bool | None) -> None:
    assert kernel_has_nr_negative(release) is expected


@pytest.mark.parametrize("text", ["", "1 2 3 4 5\n", "1 2 3 4 5 6 7\n", "1 2 45 0 x 0\n", "garbage\n"])
def test_malformed_dentry_state_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_dentry_state(text)


@pytest.mark.live
def test_live_dentry_state_parses() -> None:
    import os

    d = parse_dentry_state(
        Path("/proc/sys/fs/dentry-state").read_text(),
        has_nr_negative=kernel_has_nr_negative(os.uname().release),
    )
    assert d.nr_dentry > 0 and d.age_limit_seconds == 45
