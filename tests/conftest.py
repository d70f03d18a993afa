"""Shared fixtures: paths to fixture trees, and helpers to run the CLI."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TEXT = FIXTURES / "text"
HOSTS = FIXTURES / "hosts"

IS_ROOT = os.geteuid() == 0
SRC = Path(__file__).resolve().parents[1] / "src" / "memsleuth"
#: the interpreter tests run as ``nobody`` (the test's own usually lives under /root, mode 0700)
SYSTEM_PYTHON = Path("/usr/bin/python3")
#: memsleuth's pure-Python dependencies that nobody's interpreter must find
NOBODY_DEPS = ("rich", "markdown_it", "mdurl", "pygments")
requires_root = pytest.mark.skipif(not IS_ROOT, reason="needs root")

# child processes (python -m memsleuth) import this checkout's src too, not whatever checkout the
# editable install points at
os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC.parent), *filter(None, [os.environ.get("PYTHONPATH")])])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* from the current output instead of comparing")


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


@pytest.fixture(scope="session")
def nobody_site() -> Iterator[Path]:
    """memsleuth and its dependencies staged in a world-readable directory, for ``nobody``.

    Put it on ``PYTHONPATH`` and run :data:`SYSTEM_PYTHON` under ``setpriv
    --reuid=nobody``.  Skips without root, setpriv or a system python3.
    """
    if not IS_ROOT or shutil.which("setpriv") is None or not SYSTEM_PYTHON.exists():
        pytest.skip("needs root, setpriv and /usr/bin/python3 to run as nobody")
    top = Path(tempfile.mkdtemp(prefix="memsleuth-nobody-"))
    try:
        site = top / "site"
        site.mkdir()
        shutil.copytree(SRC, site / "memsleuth", ignore=shutil.ignore_patterns("__pycache__"))
        for dep in NOBODY_DEPS:
            spec = importlib.util.find_spec(dep)
            assert spec is not None and spec.submodule_search_locations, dep
            shutil.copytree(next(iter(spec.submodule_search_locations)), site / dep,
                            ignore=shutil.ignore_patterns("__pycache__"))
        for dirpath, _dirs, filenames in os.walk(top):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)
        yield site
    finally:
        shutil.rmtree(top, ignore_errors=True)


__all__ = ["IS_ROOT", "SYSTEM_PYTHON", "CliResult", "io", "requires_root", "text_fixture"]
