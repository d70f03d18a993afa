"""Views that refresh in place, run on a pseudo-terminal as a person would run them.

``top -d``, ``slab --interval`` and ``status --interval`` get a pty as stdin,
stdout and controlling terminal: frames must be redrawn in place, ``q`` and
Ctrl-C (a real ^C typed on the terminal, so the kernel sends SIGINT) must
end the view with exit 0, and the terminal's modes (echo, canonical input)
must be as they were.  The same commands piped print one plain frame per
interval with no escape codes.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from memsleuth.views.live import KeyReader, Progress, seconds_left, ticks
from tests.conftest import HOSTS, IS_ROOT

SRC = Path(__file__).resolve().parents[2] / "src"
#: the first line of a status frame: "HOST: 62.9Gi RAM"
HEAD = re.compile(r"^\S+: \S+ RAM$", re.M)


@dataclass
class Pty:
    proc: subprocess.Popen[bytes]
    master: int
    slave: int
    out: bytearray

    def read_until(self, predicate: object, timeout: float = 20.0) -> bytes:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if callable(predicate) and predicate(bytes(self.out)):
                return bytes(self.out)
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.out += chunk
        return bytes(self.out)

    def drain(self, timeout: float = 5.0) -> None:
        """Read what the process writes until it exits (a full pty buffer would block it)."""
        end = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < end:
            self.read_until(lambda b: False, timeout=0.2)
        self.read_until(lambda b: False, timeout=0.2)


def _controlling_tty() -> None:
    # after setsid (start_new_session): fd 0, the pty, becomes the controlling terminal, so ^C
    # typed on it is SIGINT to the process group.  SIGINT is set back to its default: a harness
    # that starts the tests in the background (``nohup ... &``) hands them SIGINT ignored, which
    # exec keeps and which no terminal would do
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def spawn() -> Iterator[object]:
    started: list[Pty] = []

    def _spawn(*args: str, rows: int = 40, cols: int = 120) -> Pty:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TTY_COMPATIBLE",
                                                                   "NO_COLOR", "FORCE_COLOR")}
        env.update(PYTHONPATH=str(SRC), TERM="xterm-256color")
        proc = subprocess.Popen([sys.executable, "-m", "memsleuth", *args], stdin=slave, stdout=slave,
                                stderr=slave, env=env, start_new_session=True,
                                preexec_fn=_controlling_tty)
        p = Pty(proc=proc, master=master, slave=slave, out=bytearray())
        started.append(p)
        return p

    yield _spawn
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
        p.proc.wait()
        os.close(p.master)
        os.close(p.slave)


def _modes(fd: int) -> tuple[int, int]:
    attrs = termios.tcgetattr(fd)
    return attrs[3] & (termios.ECHO | termios.ICANON), attrs[0]


CURSOR_UP = b"\x1b[1A"  # how rich's Live moves back over the last frame


def _frames(out: bytes, marker: bytes) -> int:
    return out.count(marker)


LIVE_CASES = [
    ("top", ("top", "-d", "0.3", "--limit", "5"), b"memsleuth top - "),
    ("status", ("status", "--interval", "0.3", "--db", "/nonexistent/memsleuth.db"), b"RAM"),
]
if IS_ROOT:
    LIVE_CASES.append(("slab", ("slab", "--interval", "0.3", "--limit", "5"), b"OBJ SIZE"))


@pytest.mark.live
@pytest.mark.parametrize("how", ["q", "ctrl-c"])
@pytest.mark.parametrize(("name", "args", "marker"), LIVE_CASES, ids=[c[0] for c in LIVE_CASES])
def test_refreshes_in_place_and_quits_cleanly(spawn: object, name: str, args: tuple[str, ...],
                                              marker: bytes, how: str) -> None:
    p = spawn(*args)  # type: ignore[operator]
    before = _modes(p.slave)
    out = p.read_until(lambda b: _frames(b, marker) >= 3, timeout=30)
    assert _frames(out, marker) >= 3, out[-2000:]
    # redrawn in place: the cursor goes back up over the frame, the screen is not scrolled
    assert CURSOR_UP in out
    # while it runs the terminal is in cbreak mode: no echo, no line editing
    assert _modes(p.slave)[0] == 0
    os.write(p.master, b"q" if how == "q" else b"\x03")
    p.drain()
    assert p.proc.wait(timeout=10) == 0, bytes(p.out)[-2000:]
    assert b"Traceback" not in p.out
    assert _modes(p.slave) == before  # echo and canonical mode are back
    assert bytes(p.out).rstrip().endswith(b"\x1b[?25h") or b"\x1b[?25h" in bytes(p.out)[-200:]


@pytest.mark.live
def test_sort_key_on_the_terminal_changes_the_order(spawn: object) -> None:
    p = spawn("top", "-d", "5", "--limit", "5")  # type: ignore[operator]
    p.read_until(lambda b: b"sorted by pss" in b)
    os.write(p.master, b"N")  # top's N: by PID, redrawn at once, not after the 5 s
    out = p.read_until(lambda b: b"sorted by pid" in b, timeout=3)
    assert b"sorted by pid" in out
    os.write(p.master, b"q")
    p.drain()
    assert p.proc.wait(timeout=10) == 0


@pytest.mark.live
def test_a_count_ends_the_view_and_restores_the_terminal(spawn: object) -> None:
    p = spawn("top", "-d", "0.2", "-n", "3", "--limit", "3")  # type: ignore[operator]
    before = _modes(p.slave)
    p.drain(timeout=20)
    assert p.proc.wait(timeout=10) == 0
    assert _frames(bytes(p.out), b"memsleuth top - ") >= 3
    assert _modes(p.slave) == before


def _piped(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "100"}
    env.pop("TTY_COMPATIBLE", None)
    return subprocess.run([sys.executable, "-m", "memsleuth", *args], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=60, check=False)


@pytest.mark.live
def test_piped_prints_one_plain_frame_per_interval() -> None:
    res = _piped("top", "-d", "0.2", "-n", "3", "--limit", "2")
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "\x1b" not in res.stderr
    assert res.stdout.count("memsleuth top - ") == 3
    res = _piped("status", "--interval", "0.2", "--count", "2", "--db", "/nonexistent/x.db")
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout
    assert len(HEAD.findall(res.stdout)) == 2


def test_status_interval_on_a_root_is_one_frame() -> None:
    res = _piped("--root", str(HOSTS / "centos6-founding"), "status", "--interval", "0.2")
    assert res.returncode == 0, res.stderr
    assert len(HEAD.findall(res.stdout)) == 1


# -- the pieces -----------------------------------------------------------------------------


def test_key_reader_leaves_a_non_terminal_alone(tmp_path: Path) -> None:
    with (tmp_path / "f").open("w+") as f, KeyReader(f) as keys:  # type: ignore[arg-type]
        assert not keys.active
        t0 = time.monotonic()
        assert keys.read(0.05) is None
        assert time.monotonic() - t0 >= 0.04


def test_key_reader_restores_the_terminal_after_an_exception() -> None:
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        with os.fdopen(os.dup(slave), "r") as stream:
            with pytest.raises(RuntimeError), KeyReader(stream) as keys:
                assert keys.active
                assert termios.tcgetattr(slave)[3] & termios.ICANON == 0
                os.write(master, b"q")
                assert keys.read(1.0) == "q"
                raise RuntimeError("boom")
            assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_ticks_keep_the_cadence() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 6))
        now[0] += s

    def clock() -> float:
        return now[0]

    seen = []
    for n in ticks(2.0, 3, sleep=sleep, clock=clock):
        seen.append(n)
        now[0] += 0.5  # each frame takes half a second
    assert seen == [0, 1, 2]
    assert slept == [1.5, 1.5]


def test_progress_is_silent_when_not_a_terminal(tmp_path: Path) -> None:
    import io

    buf = io.StringIO()
    with Progress(buf) as p:
        p.update("sampling")
    assert buf.getvalue() == ""
    buf = io.StringIO()
    with Progress(buf, enabled=True) as p:
        p.update("sampling, 1 of 3, 10s left")
        p.update("sampling, 2 of 3")
    text = buf.getvalue()
    assert text.startswith("\rmemsleuth: sampling, 1 of 3, 10s left")
    assert text.endswith("\r")
    assert seconds_left(95) == "1m35s" and seconds_left(4.4) == "4s"


def test_countdown_redraws_from_a_thread_and_clears() -> None:
    import io

    buf = io.StringIO()
    p = Progress(buf, enabled=True)
    with p.countdown("tracing failed path lookups", 0.3, every=0.05):
        time.sleep(0.25)
    text = buf.getvalue()
    assert text.count("\rmemsleuth: tracing failed path lookups: ") >= 3
    assert "of 0s" in text and text.endswith("\r")
    silent = io.StringIO()
    with Progress(silent).countdown("x", 0.1):
        time.sleep(0.05)
    assert silent.getvalue() == ""


def _stderr_on_a_pty(*args: str, timeout: float = 60) -> tuple[int, bytes, str]:
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "100"}
    proc = subprocess.Popen([sys.executable, "-m", "memsleuth", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    err = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=timeout)
    os.close(master)
    return proc.returncode, err, out.decode()


@pytest.mark.live
@pytest.mark.skipif(not IS_ROOT, reason="slabinfo and tracefs need root")
def test_waiting_commands_show_progress_on_a_terminal_stderr() -> None:
    code, err, out = _stderr_on_a_pty("slab", "0.5", "2", "--limit", "3")
    assert code == 0 and "GROWTH" in out
    assert b"\rmemsleuth: sampling /proc/slabinfo every 0.5 s, reading 1 of 3 taken" in err, err
    assert b"reading 2 of 3 taken" in err
    code, err, out = _stderr_on_a_pty("trace", "lookups", "--seconds", "1.5", "--limit", "2")
    assert code == 0, err
    assert b"\rmemsleuth: tracing failed path lookups (Ctrl-C ends it early): " in err
    assert b"left" in err and "\x1b" not in out


@pytest.mark.live
@pytest.mark.skipif(not IS_ROOT, reason="slabinfo and tracefs need root")
def test_waiting_commands_are_silent_when_stderr_is_piped() -> None:
    for args in (("slab", "0.3", "1", "--limit", "2"), ("trace", "lookups", "--seconds", "1", "--limit", "2"),
                 ("reclaim",)):
        res = _piped(*args)
        assert res.returncode == 0, res.stderr
        assert "\r" not in res.stderr and "memsleuth: sampling" not in res.stderr, (args, res.stderr)
