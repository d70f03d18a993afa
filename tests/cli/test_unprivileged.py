"""Run as ``nobody``: every command gives partial output and a clear note, no traceback.

The test interpreter usually lives under /root (mode 0700), so the test
stages memsleuth and its pure-Python dependencies in a world-readable
directory and runs them with the system's /usr/bin/python3 as nobody.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "memsleuth"
PYTHON = Path("/usr/bin/python3")
DEPS = ("rich", "markdown_it", "mdurl", "pygments")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to nobody"),
    pytest.mark.skipif(not PYTHON.exists(), reason="no system python3 nobody can run"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) missing"),
]


@pytest.fixture(scope="module")
def staged() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="memsleuth-nobody-"))
    try:
        site = top / "site"
        site.mkdir()
        shutil.copytree(SRC, site / "memsleuth",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for dep in DEPS:
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


def _as_nobody(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         str(PYTHON), "-m", "memsleuth", *args],
        capture_output=True, text=True, env=env, timeout=60, cwd="/",
    )


@pytest.mark.parametrize(
    "args",
    [["status"], ["free", "-w"], ["meminfo"], ["vmstat"], ["slab"], ["top"],
     ["status", "--json"], ["slab", "--json"], ["top", "--json"]],
)
def test_commands_work_as_nobody(staged: Path, args: list[str]) -> None:
    res = _as_nobody(staged, *args)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip()


def test_root_only_files_are_named_as_nobody(staged: Path) -> None:
    res = _as_nobody(staged, "slab")
    assert res.returncode == 0
    assert "root" in (res.stdout + res.stderr)
    assert "slabinfo" in (res.stdout + res.stderr)
    top = _as_nobody(staged, "top")
    assert "permission" in (top.stdout + top.stderr) or "root" in (top.stdout + top.stderr)


def test_smaps_of_another_users_process_is_a_clear_error(staged: Path) -> None:
    res = _as_nobody(staged, "smaps", "1")
    assert "Traceback" not in res.stderr
    assert res.returncode == 2
    assert "permission denied" in res.stderr
