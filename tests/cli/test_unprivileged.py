"""Run as ``nobody``: every command gives partial output and a clear note, no traceback.

The test interpreter usually lives under /root (mode 0700), so the
``nobody_site`` fixture (tests/conftest.py) stages memsleuth and its
pure-Python dependencies in a world-readable directory, and the tests run
them with the system's /usr/bin/python3 as nobody.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SYSTEM_PYTHON

PYTHON = SYSTEM_PYTHON

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to nobody"),
    pytest.mark.skipif(not PYTHON.exists(), reason="no system python3 nobody can run"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) missing"),
]


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
def test_commands_work_as_nobody(nobody_site: Path, args: list[str]) -> None:
    res = _as_nobody(nobody_site, *args)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip()


def test_root_only_files_are_named_as_nobody(nobody_site: Path) -> None:
    res = _as_nobody(nobody_site, "slab")
    assert res.returncode == 0
    assert "root" in (res.stdout + res.stderr)
    assert "slabinfo" in (res.stdout + res.stderr)
    top = _as_nobody(nobody_site, "top")
    assert "permission" in (top.stdout + top.stderr) or "root" in (top.stdout + top.stderr)


def test_smaps_of_another_users_process_is_a_clear_error(nobody_site: Path) -> None:
    res = _as_nobody(nobody_site, "smaps", "1")
    assert "Traceback" not in res.stderr
    assert res.returncode == 2
    assert "permission denied" in res.stderr
