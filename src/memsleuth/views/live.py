"""Views that refresh in place (``status --interval``, ``top -d``, ``slab --interval``), as top and
slabtop do, and the progress line of commands that wait.

On a terminal a frame is redrawn in place with rich's ``Live``; a key read from stdin (only when
stdin is a terminal too, in cbreak mode) can change the sort order, ``q`` quits, and Ctrl-C ends the
view as cleanly as ``q``.  The terminal's settings are restored on every way out (``q``, Ctrl-C,
the last iteration, an exception).  When stdout is not a terminal, one frame is printed per interval,
as plain text with no escape codes: what a pipe or a log wants.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import IO, Any

from rich.console import Console, RenderableType

#: keys that leave a live view
QUIT_KEYS = frozenset({"q", "Q"})

#: a frame to show: called once per interval (and after a key that changed the view)
Frame = Callable[[], RenderableType]
#: what a key does: True when the view changed (it is redrawn at once)
OnKey = Callable[[str], bool]


class KeyReader:
    """Single keys from a terminal on stdin, in cbreak mode (no echo, no line buffering; Ctrl-C
    still sends SIGINT).  A stdin that is not a terminal is never touched: ``read`` just waits."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self.fd: int | None = None
        self._saved: list[Any] | None = None

    def __enter__(self) -> KeyReader:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self
        if not os.isatty(fd):
            return self
        import termios
        import tty

        try:
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        except termios.error:
            self._saved = None
            return self
        self.fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.restore()

    def restore(self) -> None:
        if self.fd is not None and self._saved is not None:
            import termios

            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        self.fd = None
        self._saved = None

    @property
    def active(self) -> bool:
        return self.fd is not None

    def read(self, timeout: float) -> str | None:
        """The next key within ``timeout`` seconds, or ``None``."""
        if self.fd is None:
            time.sleep(max(timeout, 0.0))
            return None
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return None
        data = os.read(self.fd, 32)
        if not data:  # the terminal went away: no more keys, wait out the interval
            self.restore()
            return None
        return data.decode("utf-8", "replace")[:1]


def run_live(frame: Frame, *, console: Console, interval: float, count: int | None = None,
             on_key: OnKey | None = None, stdin: IO[str] | None = None,
             clock: Callable[[], float] = time.monotonic) -> int:
    """Show ``frame()`` every ``interval`` seconds, ``count`` times (``None``: until ``q`` or
    Ctrl-C); return how many frames were shown.

    On a terminal the frame is redrawn in place and keys are read; otherwise each frame is
    printed in full, one after the other (Ctrl-C then raises, as in any command).
    """
    if not console.is_terminal:
        n = 0
        for _ in ticks(interval, count):
            if n:
                console.print()
            console.print(frame(), crop=False)
            n += 1
        return n
    from rich.live import Live

    shown = 0
    with KeyReader(stdin) as keys:
        try:
            with Live(frame(), console=console, auto_refresh=False, transient=False,
                      vertical_overflow="crop", redirect_stdout=False, redirect_stderr=False) as live:
                shown = 1
                while count is None or shown < count:
                    deadline = clock() + interval
                    while (left := deadline - clock()) > 0:
                        key = keys.read(left)
                        if key is None:
                            continue
                        if key in QUIT_KEYS:
                            return shown
                        if on_key is not None and on_key(key):
                            live.update(frame(), refresh=True)
                    live.update(frame(), refresh=True)
                    shown += 1
        except KeyboardInterrupt:
            pass  # Ctrl-C leaves a live view as q does (Live and KeyReader restore the terminal)
    return shown


def ticks(interval: float, count: int | None,
          sleep: Callable[[float], object] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> Iterator[int]:
    """Yield 0, 1, ... ``count - 1`` (forever when ``None``), ``interval`` seconds apart on the
    monotonic clock (a slow frame does not shift the ones after it)."""
    start = clock()
    n = 0
    while count is None or n < count:
        if n:
            wait = start + n * interval - clock()
            if wait > 0:
                sleep(wait)
        yield n
        n += 1


class Progress:
    """One status line on stderr for a command that waits: what it does, samples taken, time left.

    Shown only when stderr is a terminal (redrawn in place with ``\\r``); silent otherwise.
    """

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            try:
                enabled = self.stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self._width = 0

    def update(self, message: str) -> None:
        if not self.enabled:
            return
        line = f"memsleuth: {message}"
        pad = max(self._width - len(line), 0)
        self._width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def done(self) -> None:
        """Clear the line (the next output starts at column 0)."""
        if not self.enabled or not self._width:
            return
        self.stream.write("\r" + " " * self._width + "\r")
        self.stream.flush()
        self._width = 0

    @contextlib.contextmanager
    def countdown(self, what: str, seconds: float, *, every: float = 0.5,
                  clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
        """While the body runs (a call that blocks for ``seconds``), redraw
        ``"WHAT: 4s of 10s, 6s left"`` every ``every`` seconds from a thread; cleared after."""
        if not self.enabled:
            yield
            return
        import threading

        done = threading.Event()
        start = clock()

        def tick() -> None:
            while not done.is_set():
                spent = clock() - start
                self.update(f"{what}: {seconds_left(spent)} of {seconds_left(seconds)}, "
                            f"{seconds_left(seconds - spent)} left")
                done.wait(every)

        t = threading.Thread(target=tick, daemon=True)
        t.start()
        try:
            yield
        finally:
            done.set()
            t.join(timeout=2.0)
            self.done()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.done()


def seconds_left(seconds: float) -> str:
    """``95`` -> ``1m35s`` (a progress line's time left)."""
    s = max(round(seconds), 0)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


__all__ = ["QUIT_KEYS", "Frame", "KeyReader", "OnKey", "Progress", "run_live", "seconds_left", "ticks"]
