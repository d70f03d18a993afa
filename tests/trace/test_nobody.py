"""``memsleuth trace`` as ``nobody``: a clear refusal (exit 2), no traceback, nothing changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import SYSTEM_PYTHON
from tests.trace.test_trace_live import tracing_state

pytestmark = [pytest.mark.live]


def as_nobody(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         str(SYSTEM_PYTHON), "-m", "memsleuth", *args],
        capture_output=True, text=True, env=env, timeout=60, cwd="/",
    )


@pytest.mark.parametrize("args", [["trace", "lookups", "--seconds", "1"],
                                  ["trace", "slab", "dentry", "--seconds", "1"]])
def test_trace_refuses_without_root(nobody_site: Path, args: list[str]) -> None:
    before = tracing_state()
    res = as_nobody(nobody_site, *args)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 2
    assert "needs root" in res.stderr
    assert tracing_state() == before
