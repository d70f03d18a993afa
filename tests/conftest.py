"""Shared fixtures: paths to fixture trees, and helpers to run the CLI."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TEXT = FIXTURES / "text"
HOSTS = FIXTURES / "hosts"

IS_ROOT = os.geteuid() == 0
requires_root = pytest.mark.skipif(not IS_ROOT, reason="needs root")


def text_fixture(*parts: str) -> str:
    return TEXT.joinpath(*parts).read_text()


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``memsleuth ARGS`` in-process and return code, stdout, stderr."""
    from memsleuth.cli import main as cli_main

    def _run(*args: str) -> CliResult:
        code = cli_main.main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run


@pytest.fixture
def host_tree(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a fixture host tree to a temp dir (so tests may alter it)."""

    def _copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(HOSTS / name, dest, symlinks=True)
        return dest

    return _copy


__all__ = ["IS_ROOT", "CliResult", "io", "requires_root", "text_fixture"]
