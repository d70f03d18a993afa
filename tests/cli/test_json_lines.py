"""Repeating commands with --json print JSON Lines: one document per sample, as it is taken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}

pytestmark = pytest.mark.live


def test_endless_vmstat_json_is_one_document_per_line_as_it_goes() -> None:
    p = subprocess.Popen([sys.executable, "-m", "memsleuth", "vmstat", "0.2", "--json"],
                         stdout=subprocess.PIPE,
                         text=True, env=ENV)
    try:
        assert p.stdout is not None
        docs = [json.loads(p.stdout.readline()) for _ in range(3)]  # read while it still runs
        assert p.poll() is None
    finally:
        p.kill()
        p.wait(timeout=10)
    assert all(d["schema"] == "memsleuth.vmstat/1" and len(d["rows"]) == 1 for d in docs)
    times = [d["host"]["captured_at"] for d in docs]
    assert times == sorted(times) and len(set(times)) == 3


def test_repeated_free_json_is_json_lines_and_a_single_one_is_one_document() -> None:
    out = subprocess.run([sys.executable, "-m", "memsleuth", "free", "-s", "0.2", "-c", "3", "--json"],
                         capture_output=True, text=True, env=ENV, timeout=60, check=True).stdout
    lines = out.splitlines()
    assert len(lines) == 3
    docs = [json.loads(line) for line in lines]
    assert {d["schema"] for d in docs} == {"memsleuth.free/1"}
    assert len({d["host"]["captured_at"] for d in docs}) == 3
    one = subprocess.run([sys.executable, "-m", "memsleuth", "free", "--json"], capture_output=True,
                         text=True, env=ENV, timeout=60, check=True).stdout
    assert json.loads(one)["schema"] == "memsleuth.free/1"
