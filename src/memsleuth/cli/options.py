"""Option value parsers shared by the commands: durations (``90s``, ``5m``, ``2h``) and points in time."""

from __future__ import annotations

import argparse
import math
import re
from datetime import datetime

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_FACTOR = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``2h``, ``1.5d`` -> seconds."""
    m = _DURATION.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90s, 5m, 2h, 1d)")
    return float(m.group(1)) * _FACTOR[m.group(2)]


def parse_since(text: str) -> tuple[str, float]:
    """``6h`` -> ("ago", 21600.0); ``2025-01-31T12:00`` -> ("at", unix time)."""
    try:
        return ("ago", parse_duration(text))
    except argparse.ArgumentTypeError:
        pass
    try:
        return ("at", datetime.fromisoformat(text).timestamp())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (6h, 2d) nor a date and time (2025-01-31T12:00)"
        ) from None


def positive_seconds(text: str) -> float:
    """An interval in seconds: a finite number above zero (``0``, ``-2``, ``nan``, ``1e309`` refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the interval must be a positive number of seconds")
    return value


def positive_count(text: str) -> int:
    """A count of samples or rows: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the count must be at least 1")
    return value


def add_history_arguments(parser: argparse.ArgumentParser, *, then: str) -> None:
    """What a diagnosis reads, the same for every command that diagnoses (diagnose, report):
    the store, a live watch, the window, the confidence floor and extra rules.  ``--root B1 B2``
    is the global option (the command sets MULTI_ROOT).  ``then``: what follows a watch."""
    from memsleuth.cli.commands.record import DEFAULT_DB

    parser.add_argument("--db", metavar="PATH",
                        help=f"the store written by 'memsleuth record' (default {DEFAULT_DB} if it exists)")
    parser.add_argument("--watch", type=parse_duration, metavar="DURATION",
                        help=f"sample the live host in-process for DURATION (2m, 5m, 1h; at least 2m), "
                        f"then {then}")
    parser.add_argument("--interval", type=parse_duration, default=5.0, metavar="SECONDS",
                        help="seconds between --watch samples (default 5)")
    parser.add_argument("--since", type=parse_since, metavar="WHEN",
                        help="only the last DURATION (6h, 2d; before the last sample for --root) "
                        "or since a date and time (2025-01-31T12:00)")
    parser.add_argument("--min-confidence", type=float, default=0.0, metavar="X",
                        help="report only findings with confidence >= X (0..1; default 0)")
    parser.add_argument("--rules", action="append", default=[], metavar="DIR",
                        help="also load signature rules (*.toml) from DIR; repeatable "
                        "(also $MEMSLEUTH_RULES); a bad file is reported and skipped")


__all__ = ["add_history_arguments", "parse_duration", "parse_since", "positive_count", "positive_seconds"]
