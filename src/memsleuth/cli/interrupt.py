"""Ctrl-C during a watch: the first one stops it (what was taken is used), the second aborts."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def first_interrupt_stops(stop: threading.Event, stderr: IO[str], *, enabled: bool) -> Iterator[None]:
    """During a watch, the first Ctrl-C sets ``stop`` (the samples taken are diagnosed); the
    second raises KeyboardInterrupt (abort).  The previous handler is restored after."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        # set from another thread: the handler may have interrupted this thread inside
        # stop.wait() while it holds the event's lock (set() here would deadlock); the message
        # goes straight to the fd (the interrupted code may be writing to sys.stderr)
        threading.Thread(target=stop.set, daemon=True).start()
        with contextlib.suppress(OSError, ValueError):
            os.write(stderr.fileno(), b"\nmemsleuth: stopping the watch: diagnosing the samples "
                     b"taken (Ctrl-C again aborts)\n")

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


__all__ = ["first_interrupt_stops"]
