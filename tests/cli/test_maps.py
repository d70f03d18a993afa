"""``memsleuth maps``: a compiled program with known globals, heap, mmap and stacks.

The C program below puts a known amount of memory in each class; the test
checks that ``maps --json`` finds each amount in the right class, within
page and alignment tolerances.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEXT, CliResult

KIB = 1024
MIB = 1024 * KIB
PAGE = 4096

PROGRAM = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char initialised[3 * 1024 * 1024] = {1};   /* data */
char zeroed[5 * 1024 * 1024];               /* bss */

static void *thread_main(void *arg) {
    volatile char local[64 * 1024];
    memset((char *)local, 3, sizeof local);
    (void)arg;
    for (;;) pause();
    return NULL;
}

static void deep(void) {
    volatile char buf[1 << 20];                 /* 1 MiB on the main stack */
    memset((char *)buf, 4, sizeof buf);
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}

int main(void) {
    memset(initialised, 2, sizeof initialised);
    memset(zeroed, 5, sizeof zeroed);
    char *small = malloc(64 * 1024);            /* below the mmap threshold: heap */
    memset(small, 6, 64 * 1024);
    char *big = malloc(32 * 1024 * 1024);       /* above it: its own anonymous mmap */
    memset(big, 7, 32 * 1024 * 1024);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 2 * 1024 * 1024);
    pthread_t t;
    pthread_create(&t, &attr, thread_main, NULL);
    deep();
    return 0;
}
"""


@pytest.fixture(scope="module")
def layout_child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    work = tmp_path_factory.mktemp("maps")
    src = work / "layout.c"
    src.write_text(PROGRAM)
    exe = work / "layout"
    subprocess.run(["gcc", "-O0", "-pthread", "-o", str(exe), str(src)], check=True)
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc.pid, exe
    finally:
        proc.kill()
        proc.wait()


def _classes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in doc["classes"]}


@pytest.mark.live
def test_maps_classes_of_a_known_program(run_cli: Callable[..., CliResult],
                                         layout_child: tuple[int, Path]) -> None:
    pid, exe = layout_child
    res = run_cli("maps", str(pid), "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["schema"] == "memsleuth.maps/1"
    assert doc["exe_path"] == str(exe)
    assert doc["exe_source"] == "exe"
    c = _classes(doc)

    assert c["text"]["mappings"] == 1
    assert 0 < c["text"]["virt_bytes"] < 64 * KIB
    # 3 MiB array plus .got/.data of the program, all written
    assert 3 * MIB <= c["data"]["virt_bytes"] <= 3 * MIB + 2 * PAGE
    assert c["data"]["rss_bytes"] >= 3 * MIB
    # 5 MiB of zeroed globals; up to a page of it may share the last data page
    assert c["bss"]["mappings"] == 1
    assert 5 * MIB - PAGE <= c["bss"]["virt_bytes"] <= 5 * MIB + PAGE
    assert c["bss"]["rss_bytes"] >= 5 * MIB - PAGE
    assert c["heap"]["mappings"] == 1
    assert 64 * KIB <= c["heap"]["rss_bytes"] <= 64 * KIB + 256 * KIB
    big = [m for m in doc["mappings"] if m["class"] == "anon_mmap" and m["size_bytes"] >= 32 * MIB]
    assert len(big) == 1
    # malloc's header and page rounding; the kernel may merge a neighbouring anonymous area
    assert big[0]["size_bytes"] <= 32 * MIB + 64 * KIB
    assert big[0]["rss_bytes"] >= 32 * MIB
    assert 1 * MIB <= c["stack"]["rss_bytes"] <= 1 * MIB + 256 * KIB
    # one thread with a 2 MiB stack (its guard page is a separate ---p mapping)
    assert c["thread_stack"]["mappings"] == 1
    assert 2 * MIB - 64 * KIB <= c["thread_stack"]["virt_bytes"] <= 2 * MIB
    assert 64 * KIB <= c["thread_stack"]["rss_bytes"] <= 256 * KIB
    assert c["guard"]["mappings"] >= 1
    libs = {lib["key"]: lib for lib in doc["libraries"]}
    assert "libc.so.6" in libs
    assert libs["libc.so.6"]["mappings"] >= 4  # r--, r-x, r--, rw- segments (+ its bss)
    assert libs["libc.so.6"]["pss_bytes"] <= libs["libc.so.6"]["rss_bytes"]
    # the classes partition the address space
    total = doc["total"]
    assert sum(x["virt_bytes"] for x in doc["classes"]) == total["virt_bytes"]
    assert sum(x["rss_bytes"] for x in doc["classes"]) == total["rss_bytes"]
    assert sum(x["mappings"] for x in doc["classes"]) == len(doc["mappings"])


@pytest.mark.live
def test_maps_explain_uses_this_process_numbers(run_cli: Callable[..., CliResult],
                                                layout_child: tuple[int, Path]) -> None:
    pid, _ = layout_child
    res = run_cli("maps", str(pid), "--explain")
    assert res.code == 0, res.err
    text = " ".join(res.out.split())
    assert "are bss: 5.0Mi of address space, 5.0Mi in RAM" in text
    assert "are data: 3.0Mi of address space, 3.0Mi in RAM" in text
    assert "1 thread stacks" in text
    assert "libc.so.6" in res.out


def test_maps_of_a_missing_process_is_a_clear_error(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("maps", "999999999")
    assert res.code == 2
    assert "999999999" in res.err
    assert "Traceback" not in res.err


def test_maps_from_a_directory_root(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """The captured python3.11 smaps (PROVENANCE-process.md), with no exe link."""
    proc = tmp_path / "proc" / "7109"
    proc.mkdir(parents=True)
    for name in ("stat", "smaps"):
        shutil.copy(TEXT / "linux-6.18" / f"pid_{name}", proc / name)
    (proc / "cmdline").write_bytes(b"python3\0fixture.py\0")  # not captured; any text will do
    (tmp_path / "proc" / "meminfo").write_text((TEXT / "linux-6.18" / "proc_meminfo").read_text())
    res = run_cli("--root", str(tmp_path), "maps", "7109", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["exe_source"] == "first_file"
    assert doc["exe_path"] == "/root/.pyenv/versions/3.11.7/bin/python3.11"
    c = _classes(doc)
    assert c["text"]["mappings"] == 1
    assert c["heap"]["mappings"] == 1
    assert c["stack"]["mappings"] == 1
    assert c["thread_stack"]["mappings"] == 1  # the second thread the fixture started
    libs = {lib["key"]: lib for lib in doc["libraries"]}
    assert "libc.so.6" in libs
    # the 3 MiB anonymous mapping right after libz's data is not libz's bss
    assert libs["libz.so.1.2.13"]["mappings"] == 5
    assert libs["libz.so.1.2.13"]["virt_bytes"] == 0x7F69B541D000 - 0x7F69B53FE000
    assert c["file_mmap"]["mappings"] >= 2  # "mapped file.bin", "gone.bin (deleted)", memfd
