"""``memsleuth help [TOPIC]``: the concepts from views/topics.py, the same text as --explain, and
the man page made from them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth.views.topics import TOPIC_NAMES, TOPICS, topic
from tests.conftest import HOSTS, CliResult

MAN = Path(__file__).resolve().parents[2] / "docs" / "memsleuth.1"
#: the topics issue 11 asks for
REQUIRED = ("buckets", "reclaimable-slab", "negative-dentries", "pss", "uss", "memavailable",
            "unaccounted", "page-cache")


def _words(text: str) -> str:
    return " ".join(text.split())


def test_help_lists_every_topic_within_80_columns(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("help")
    assert res.code == 0
    for name in REQUIRED:
        assert name in TOPIC_NAMES
        assert f"  {name} " in res.out
    assert all(len(line) <= 80 for line in res.out.splitlines())


@pytest.mark.parametrize("name", TOPIC_NAMES)
def test_each_topic_prints_its_paragraphs(name: str, run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("help", name)
    assert res.code == 0, res.err
    t = topic(name)
    assert t is not None
    for p in t.paragraphs:
        assert _words(p) in _words(res.out)
    assert all(len(line) <= 80 for line in res.out.splitlines())
    for other in t.see_also:
        assert topic(other) is not None, f"{name} sees also {other!r}, which is no topic"


def test_unknown_topic_exits_2_with_the_list(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("help", "no-such-topic")
    assert res.code == 2
    assert res.err.splitlines()[-1].startswith("memsleuth: error: unknown topic 'no-such-topic'")
    for name in TOPIC_NAMES:
        assert name in res.err
    assert res.out == ""


def test_help_json(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("help", "--json").json()
    assert doc["schema"] == "memsleuth.help/1"
    assert [t["name"] for t in doc["topics"]] == list(TOPIC_NAMES)
    one = run_cli("help", "pss", "--json").json()
    assert [t["name"] for t in one["topics"]] == ["pss"]


@pytest.mark.parametrize(("args", "topics"), [
    (("free", "--explain"), ("memavailable", "page-cache", "reclaimable-slab")),
    (("vmstat", "--explain"), ("page-cache", "reclaimable-slab", "negative-dentries")),
    (("smaps", "7109", "--explain"), ("rss", "pss", "uss")),
    (("ps", "--explain"), ("rss", "pss", "uss")),
])
def test_explain_uses_the_topic_text(args: tuple[str, ...], topics: tuple[str, ...],
                                     run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """One source: what --explain says about a concept is the help topic's text, word for word."""
    from tests.cli.test_golden_views import _linux618

    root = tmp_path / "root"
    _linux618(root)
    res = run_cli("--root", str(root), *args)
    assert res.code == 0, res.err
    assert "What the columns mean:" in res.out
    for name in topics:
        t = topic(name)
        assert t is not None
        for p in t.paragraphs:
            assert _words(p) in _words(res.out), (name, args)


def test_explain_is_not_in_json(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("--root", str(HOSTS / "centos6-founding"), "free", "--explain", "--json").json()
    assert doc["schema"] == "memsleuth.free/1"


def test_man_page_is_generated_from_the_command_table_and_topics(
        run_cli: Callable[..., CliResult]) -> None:
    from memsleuth.cli.main import COMMANDS

    page = run_cli("help", "--man").out
    assert MAN.read_text() == page, "docs/memsleuth.1 is stale: memsleuth help --man > docs/memsleuth.1"
    assert page.startswith('.\\" Generated') and "\n.TH MEMSLEUTH 1 " in page
    for name in COMMANDS:
        assert f".TP\n\\fB{name}\\fR\n" in page
    for t in TOPICS:
        assert f".SS {t.name}\n" in page
    assert not any(line.startswith(("'", ".")) and not line.startswith(
        (".\\\"", ".TH", ".SH", ".SS", ".TP", ".PP", ".B ", ".br")) for line in page.splitlines())


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_man_page_renders_without_warnings() -> None:
    res = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(MAN)], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    if shutil.which("man") is not None:
        out = subprocess.run(["man", "-l", str(MAN)], capture_output=True, text=True, check=True,
                             env={"MANWIDTH": "80", "MANPAGER": "cat", "PATH": "/usr/bin:/bin"}).stdout
        assert "CONCEPTS" in out and "negative-dentries" in out
