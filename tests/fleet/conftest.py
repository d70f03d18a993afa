"""A real Prometheus loaded with the synthetic fleet (tests/fleet/gen_fleet.py), once per session.

Generate (2 processes) -> backfill each 54 h window file with promtool (2 at a time) -> delete the
text -> serve on 127.0.0.1.  The manifest is the ground truth the tests check against.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.gen_fleet import END, generate
from tests.prom import PromServer, backfill, require_binaries

HOSTS = 200
DAYS = 7
STEP_S = 60
SEED = 7


@dataclass(frozen=True)
class Fleet:
    url: str
    manifest: dict[str, Any]
    end: int
    setup_seconds: float


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    require_binaries()
    t0 = time.monotonic()
    root = tmp_path_factory.mktemp("fleet")
    text = root / "text"
    manifest = generate(text, HOSTS, DAYS, STEP_S, SEED, END, jobs=2)
    backfill([Path(f) for f in manifest["files"]], root / "data", jobs=2, max_block="54h")
    shutil.rmtree(text)
    with PromServer(root / "data") as prom:
        yield Fleet(url=prom.url, manifest=manifest, end=END, setup_seconds=time.monotonic() - t0)
    shutil.rmtree(root, ignore_errors=True)
