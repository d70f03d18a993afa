"""A real Prometheus for the tests: the Debian package's binaries, on loopback, stopped by pid.

The binaries come from ``$MEMSLEUTH_PROMETHEUS_BIN`` (set by ``.ci/run``),
else ``prometheus``/``promtool`` on ``PATH``, else a cache directory filled
with ``apt-get download prometheus`` + ``dpkg-deb -x`` (no maintainer
scripts: nothing is installed, started or left listening).  Tests that need
them call :func:`require_binaries`, which skips with the reason when they
cannot be had.

A server listens on ``127.0.0.1`` only, on a free port, with an empty scrape
config unless one is given; :class:`PromServer` is a context manager that
kills it and removes nothing it did not create.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CACHE = Path(os.environ.get("MEMSLEUTH_PROMETHEUS_DIR", "/var/tmp/memsleuth-ci/prometheus"))


def _usable(d: Path) -> bool:
    return (d / "prometheus").is_file() and (d / "promtool").is_file() and os.access(d / "promtool", os.X_OK)


def find_binaries() -> Path | None:
    """The directory holding ``prometheus`` and ``promtool``, fetching them once if need be."""
    env = os.environ.get("MEMSLEUTH_PROMETHEUS_BIN")
    if env and _usable(Path(env)):
        return Path(env)
    on_path = shutil.which("promtool")
    if on_path and _usable(Path(on_path).parent):
        return Path(on_path).parent
    cached = CACHE / "usr" / "bin"
    if _usable(cached):
        return cached
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    got = subprocess.run(["apt-get", "download", "prometheus"], cwd=CACHE, capture_output=True, timeout=120)
    debs = sorted(CACHE.glob("prometheus_*.deb"))
    if got.returncode != 0 or not debs:
        return None
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(CACHE)], check=True, timeout=120)
    for d in debs:
        d.unlink()
    return cached if _usable(cached) else None


def require_binaries() -> Path:
    found = find_binaries()
    if found is None:
        pytest.skip("no prometheus/promtool: set MEMSLEUTH_PROMETHEUS_BIN or allow 'apt-get download "
                    "prometheus' (.ci/run does)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def promtool(*args: str, input_text: str | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS``; the completed process (check ``returncode``, ``stdout``, ``stderr``)."""
    return subprocess.run([str(require_binaries() / "promtool"), *args], input=input_text,
                          capture_output=True, text=True, timeout=timeout, check=False)


def backfill(files: Sequence[Path], data_dir: Path, *, jobs: int = 2, max_block: str = "54h") -> None:
    """``promtool tsdb create-blocks-from openmetrics`` once per input file (one file per block
    window: promtool re-parses its whole input for every block it writes), ``jobs`` at a time."""
    data_dir.mkdir(parents=True, exist_ok=True)

    def one(f: Path) -> None:
        r = promtool("tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={max_block}",
                     str(f), str(data_dir))
        if r.returncode != 0:
            raise RuntimeError(f"promtool backfill of {f.name} failed: {r.stderr.strip()[-2000:]}")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, files))


#: no scrape jobs: the server serves what was backfilled
EMPTY_CONFIG = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"


class PromServer:
    """``prometheus`` on 127.0.0.1:PORT over ``data_dir``; ``url`` is its base URL."""

    def __init__(self, data_dir: Path, *, config: str = EMPTY_CONFIG, extra_args: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="memsleuth-prom-"))
        self.config_file = self._dir / "prometheus.yml"
        self.config_file.write_text(config)
        self.log = self._dir / "prometheus.log"
        self._extra = tuple(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PromServer:
        binary = require_binaries() / "prometheus"
        with open(self.log, "wb") as log:
            self._proc = subprocess.Popen(
                [str(binary), f"--config.file={self.config_file}", f"--storage.tsdb.path={self.data_dir}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=3650d",
                 "--log.level=warn", *self._extra],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("prometheus did not become ready in 60 s")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=20)
        shutil.rmtree(self._dir, ignore_errors=True)

    def query(self, promql: str, **params: str) -> Any:
        """``/api/v1/query`` (instant) -> the ``data`` object; raises on an error status."""
        q = urllib.parse.urlencode({"query": promql, **params})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=60) as r:
            doc = json.load(r)
        if doc.get("status") != "success":
            raise RuntimeError(f"query {promql!r}: {doc}")
        return doc["data"]


@contextmanager
def prometheus(data_dir: Path, **kw: Any) -> Iterator[PromServer]:
    with PromServer(data_dir, **kw) as server:
        yield server


__all__ = ["EMPTY_CONFIG", "PromServer", "backfill", "find_binaries", "free_port", "prometheus", "promtool",
           "require_binaries"]
