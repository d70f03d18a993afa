"""Every command, given bad arguments, exits 2 with a one-line error and never a traceback.

A fixed list of bad inputs (unknown options, negative and non-numeric
numbers, a PID that does not exist, a root that is not a root, ...) plus
seeded random junk is run through each command in the command table, as a
user would type it: ``python -m memsleuth COMMAND ARGS``.  The tokens never
form a valid long-running or writing call (no ``--yes``, no ``--db``).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from memsleuth.cli.main import COMMANDS

SRC = Path(__file__).resolve().parents[2] / "src"

BAD: tuple[tuple[str, ...], ...] = (
    ("--no-such-option",),
    ("-1",),
    ("abc",),
    ("999999999", "0x1000"),
    ("--limit", "-3"),
    ("--limit", "many"),
    ("--interval", "0"),
    ("--interval", "-2"),
    ("--root", "/nonexistent/memsleuth-root"),
    ("--root", "/etc/hostname"),
    ("--json", "--root", "/dev/null"),
    ("--sort", "no-such-key"),
)
#: what random junk is made of: numbers of every sign and size, words, odd characters
POOL = ("-1", "0", "-0.5", "1e309", "99999999999999999999", "0x", "0xzz", "nan", "é", "--", "-",
        "''", "%s", "../..", "/proc/self", "1,2,x", "--limit=-1", "--interval=nan")


def _cases() -> list[tuple[str, tuple[str, ...]]]:
    rng = random.Random(20261204)
    out: list[tuple[str, tuple[str, ...]]] = []
    for name in COMMANDS:
        out += [(name, args) for args in BAD]
        out += [(name, tuple(rng.choice(POOL) for _ in range(rng.randint(1, 3)))) for _ in range(3)]
    return out


def _run(case: tuple[str, tuple[str, ...]]) -> tuple[str, tuple[str, ...], int | None, str]:
    name, args = case
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "80"}
    try:
        p = subprocess.run([sys.executable, "-m", "memsleuth", name, *args], capture_output=True, text=True,
                           timeout=30, env=env, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return name, args, None, "timed out: a bad argument was taken for a long-running call"
    return name, args, p.returncode, p.stderr


@pytest.fixture(scope="module")
def results() -> list[tuple[str, tuple[str, ...], int | None, str]]:
    from memsleuth.cli.commands.record import DEFAULT_DB

    existed = os.path.exists(DEFAULT_DB)
    with ThreadPoolExecutor(max_workers=4) as pool:
        out = list(pool.map(_run, _cases()))
    # a refused call writes nothing: no default store appears
    assert existed or not os.path.exists(DEFAULT_DB), f"a bad call created {DEFAULT_DB}"
    return out


def test_bad_arguments_give_one_clear_line_and_exit_2(
        results: list[tuple[str, tuple[str, ...], int | None, str]]) -> None:
    bad = []
    for name, args, code, err in results:
        lines = [line for line in err.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        if "Traceback" in err or code is None or code == 70:
            bad.append(f"memsleuth {name} {' '.join(args)}: exit {code}: {last or err[:200]}")
        elif code == 2 and "error:" not in last:
            bad.append(f"memsleuth {name} {' '.join(args)}: exit 2 without an error line: {err[-200:]!r}")
        elif code not in (0, 1, 2):
            bad.append(f"memsleuth {name} {' '.join(args)}: exit {code}")
    assert not bad, f"{len(bad)} of {len(results)} calls:\n" + "\n".join(bad[:40])


def test_the_known_cases_say_what_is_wrong(
        results: list[tuple[str, tuple[str, ...], int | None, str]]) -> None:
    """The cases issue 11 names, each with the sentence a user needs."""
    by = {(n, a): (c, e) for n, a, c, e in results}
    code, err = by[("smaps", ("999999999", "0x1000"))]
    assert code == 2 and "no process 999999999" in err
    for command in ("capture", "record"):
        assert by[(command, ("--interval", "0"))][0] == 2
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for args, expect in ((("capture", "-o", "/nonexistent/dir/x.tar.gz"), "no directory /nonexistent/dir"),
                         (("capture", "-o", "/tmp"), "is a directory"),
                         (("translate", str(os.getpid()), "-1"), "not a hexadecimal address"),
                         (("record", "--interval", "0", "--count", "1", "--db", "/nonexistent/x.db"),
                          "must be a positive number of seconds")):
        p = subprocess.run([sys.executable, "-m", "memsleuth", *args], capture_output=True, text=True,
                           timeout=60, env=env, check=False)
        assert p.returncode == 2 and expect in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)
