"""What a command needs from its surroundings: the host, output streams, flags."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, TYPE_CHECKING, Any

from memsleuth.host import Host

if TYPE_CHECKING:
    from rich.console import Console

    from memsleuth.snapshot.model import Snapshot


class Env:
    """Per-invocation context handed to every ``run(args, env)``."""

    def __init__(self, args: argparse.Namespace, *, stdout: IO[str] | None = None) -> None:
        self.args = args
        self.stdout = stdout or sys.stdout
        self.stderr = sys.stderr
        self._host: Host | None = None
        self._console: Console | None = None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def host(self) -> Host:
        if self._host is None:
            self._host = Host.open(getattr(self.args, "root", None))
        return self._host

    def snapshot(self, **kwargs: Any) -> Snapshot:
        from memsleuth.snapshot.capture import capture

        return capture(self.host(), **kwargs)

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            no_color = bool(getattr(self.args, "no_color", False))
            self._console = Console(
                file=self.stdout,
                no_color=no_color,
                highlight=False,
                width=None if self.stdout.isatty() or "COLUMNS" in os.environ else 80,
            )
        return self._console

    def emit_json(self, payload: object) -> None:
        json.dump(payload, self.stdout, indent=2, sort_keys=False, default=_json_default)
        self.stdout.write("\n")
        self.stdout.flush()

    def emit_json_line(self, payload: object) -> None:
        """One compact JSON document on one line (JSON Lines): what repeating commands print with
        --json, so that each sample can be read as it comes (``jq -c``, ``while read``)."""
        self.stdout.write(json.dumps(payload, separators=(",", ":"), default=_json_default) + "\n")
        self.stdout.flush()

    def note(self, message: str) -> None:
        """A caveat about the output (missing files, estimates) on stderr."""
        print(f"memsleuth: note: {message}", file=self.stderr)

    def error(self, message: str) -> None:
        print(f"memsleuth: error: {message}", file=self.stderr)


def _json_default(value: object) -> object:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
