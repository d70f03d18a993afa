"""Roots for the exporter tests (the golden views' fixture roots, capture times pinned) and the
exporter as a child process, stopped by its pid."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.test_golden_views import ROOTS
from tests.knowledge.conftest import founding_roots

LISTENING = re.compile(r"exporter listening on (\S+)")


@dataclass(frozen=True)
class Roots:
    top: Path
    #: the founding series t00..t11, relative to ``top``
    founding: tuple[str, ...]


@pytest.fixture(scope="session")
def exporter_roots(tmp_path_factory: pytest.TempPathFactory) -> Roots:
    """centos6 and linux-6.18 as in tests/cli/test_golden_views.py, and the founding series."""
    top = tmp_path_factory.mktemp("exporter-roots")
    for name in ("centos6", "linux-6.18"):
        build, at = ROOTS[name]
        build(top / name)
        assert at is not None
        os.utime(top / name / "proc" / "meminfo", (at, at))
    founding = tuple(str(Path(r).relative_to(top)) for r in founding_roots(top))
    return Roots(top=top, founding=founding)


@dataclass
class Exporter:
    proc: subprocess.Popen[str]
    url: str
    #: stderr lines after the "listening" one (a thread keeps reading them)
    lines: queue.Queue[str]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        return self.proc.wait(timeout=timeout)


@contextmanager
def exporter_process(*args: str, cwd: Path | None = None, timeout: float = 20) -> Iterator[Exporter]:
    """``python -m memsleuth exporter ARGS`` until it says where it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "memsleuth", "exporter", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        url = None
        while url is None:
            left = deadline - time.monotonic()
            if left <= 0 or (proc.poll() is not None and lines.empty()):
                raise AssertionError(f"the exporter did not start: {''.join(seen)}")
            try:
                line = lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            seen.append(line)
            m = LISTENING.search(line)
            if m:
                url = m.group(1)
        yield Exporter(proc=proc, url=url, lines=lines)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
