"""--textfile: the exposition written atomically, for node_exporter's textfile collector."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth import metrics
from memsleuth.exporter.textfile import MODE, write_atomic
from tests.conftest import CliResult
from tests.exporter.conftest import Roots


def test_a_reader_sees_the_old_file_or_the_new_one_whole(tmp_path: Path) -> None:
    """A reader racing 200 rewrites never sees a torn file, and no temporary file is left where
    node_exporter would read it (``*.prom``)."""
    path = tmp_path / "memsleuth.prom"
    versions = [(f"# version {i}\n" + f"memsleuth_x{{i=\"{i}\"}} {i}\n" * 20000 + "# end\n").encode()
                for i in range(4)]
    write_atomic(str(path), versions[0])
    done = threading.Event()
    torn: list[int] = []
    reads = [0]

    def reader() -> None:
        while not done.is_set():
            data = path.read_bytes()
            reads[0] += 1
            if data not in versions:
                torn.append(len(data))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(200):
            write_atomic(str(path), versions[i % 4])
    finally:
        done.set()
        t.join()
    assert reads[0] > 0 and torn == []
    assert [p.name for p in tmp_path.iterdir()] == ["memsleuth.prom"]
    assert stat.S_IMODE(path.stat().st_mode) == MODE


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "memsleuth.prom"
    write_atomic(str(path), b"old\n")

    with pytest.raises(TypeError):
        write_atomic(str(path), "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["memsleuth.prom"]


def test_cli_textfile_once(run_cli: Callable[..., CliResult], exporter_roots: Roots, tmp_path: Path) -> None:
    out = tmp_path / "memsleuth.prom"
    res = run_cli("--root", str(exporter_roots.top / "centos6"), "exporter", "--textfile", str(out), "--once")
    assert res.code == 0, res.err
    assert res.out == ""
    text = out.read_text()
    assert text.startswith(f"# HELP {metrics.MEMORY_TOTAL.name} ")
    assert f'{metrics.SCRAPE_SUCCESS.name}{{source="meminfo"}} 1.0' in text
    assert sorted(os.listdir(tmp_path)) == ["memsleuth.prom"]
