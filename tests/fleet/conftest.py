"""A real Prometheus loaded with the synthetic fleet (tests/fleet/gen_fleet.py), once per session.

Generate (2 processes) -> backfill each 54 h window file with promtool as soon as it is written
(2 at a time) -> delete the text -> serve on 127.0.0.1.  The manifest is the ground truth the
tests check against.

The backfilled blocks (~50 MB) and the manifest are kept under ``$MEMSLEUTH_FLEET_CACHE``
(default ``/var/tmp/memsleuth-ci/fleet``), keyed by a hash of the generator's source, its
parameters and the promtool binary: a later session copies them instead of generating again
(``MEMSLEUTH_FLEET_CACHE=`` empty turns the cache off).  The server always runs on a copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fleet import gen_fleet
from tests.fleet.gen_fleet import END, generate
from tests.prom import PromServer, backfill, require_binaries

HOSTS = 200
DAYS = 7
STEP_S = 60
SEED = 7
CACHE_ENV = "MEMSLEUTH_FLEET_CACHE"


@dataclass(frozen=True)
class Fleet:
    url: str
    manifest: dict[str, Any]
    end: int
    setup_seconds: float
    #: the blocks came from the cache (no generation, no backfill)
    cached: bool
    #: the backfilled blocks as promtool wrote them (copy them to serve them again)
    blocks: Path


def _backfill_one(f: Path, data: Path) -> None:
    backfill([f], data, jobs=1, max_block="54h")
    f.unlink()  # 0.3-0.8 GB each


def build(root: Path) -> tuple[Path, dict[str, Any]]:
    """Generate and backfill into ``root/data``; the manifest."""
    text, data = root / "text", root / "data"
    pending: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=2) as pool:

        def on_file(f: Path) -> None:
            pending.append(pool.submit(_backfill_one, f, data))

        manifest = generate(text, HOSTS, DAYS, STEP_S, SEED, END, jobs=2, on_file=on_file)
        for p in pending:
            p.result()
    shutil.rmtree(text)
    return data, manifest


def _cache_dir(promtool: Path) -> Path | None:
    base = os.environ.get(CACHE_ENV, "/var/tmp/memsleuth-ci/fleet")
    if not base:
        return None
    h = hashlib.sha256(Path(gen_fleet.__file__).read_bytes())
    st = promtool.stat()
    h.update(f"{HOSTS} {DAYS} {STEP_S} {SEED} {END} {promtool} {st.st_size} {st.st_mtime_ns}".encode())
    return Path(base) / h.hexdigest()[:16]


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    binaries = require_binaries()
    t0 = time.monotonic()
    root = tmp_path_factory.mktemp("fleet")
    cache = _cache_dir(binaries / "promtool")
    cached = cache is not None and (cache / "manifest.json").is_file()
    if cache is not None and cached:
        shutil.copytree(cache / "data", root / "data")
        manifest = json.loads((cache / "manifest.json").read_text())
    else:
        data, manifest = build(root)
        if cache is not None:
            tmp = cache.with_name(cache.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(data, tmp / "data")
            (tmp / "manifest.json").write_text(json.dumps(manifest))
            try:
                tmp.rename(cache)  # atomic: a concurrent session sees all of it or none
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
            for old in cache.parent.iterdir():  # fleets of an older generator or promtool
                if old.name != cache.name and ".tmp" not in old.name:
                    shutil.rmtree(old, ignore_errors=True)
    blocks = cache / "data" if cache is not None and (cache / "data").is_dir() else root / "blocks"
    if blocks == root / "blocks":
        shutil.copytree(root / "data", blocks)
    with PromServer(root / "data") as prom:
        yield Fleet(url=prom.url, manifest=manifest, end=END, setup_seconds=time.monotonic() - t0,
                    cached=cached, blocks=blocks)
    shutil.rmtree(root, ignore_errors=True)
