"""A real Prometheus loaded with the synthetic fleet (tests/fleet/gen_fleet.py), once per session.

Generate (2 processes) -> backfill each 54 h window file with promtool (2 at a time) -> delete the
text -> serve on 127.0.0.1.  The manifest is the ground truth the tests check against.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


def _backfill_one(f: Path, data: Path) -> None:
    backfill([f], data, jobs=1, max_block="54h")
    f.unlink()  # 0.3-0.8 GB each


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    require_binaries()
    t0 = time.monotonic()
    root = tmp_path_factory.mktemp("fleet")
    text = root / "text"
    # each window file is backfilled as soon as it is written, while the others are generated
    pending: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=2) as pool:

        def on_file(f: Path) -> None:
            pending.append(pool.submit(_backfill_one, f, root / "data"))

        manifest = generate(text, HOSTS, DAYS, STEP_S, SEED, END, jobs=2, on_file=on_file)
        for p in pending:
            p.result()
    shutil.rmtree(text)
    with PromServer(root / "data") as prom:
        yield Fleet(url=prom.url, manifest=manifest, end=END, setup_seconds=time.monotonic() - t0)
    shutil.rmtree(root, ignore_errors=True)
