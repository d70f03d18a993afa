"""``memsleuth top``: per-process and grouped memory tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.table import Table

from memsleuth.analysis.processes import GroupRow, ProcessRow, row_dict
from memsleuth.views.common import Column, fmt_bytes, fmt_int, table

SCHEMA = "memsleuth.top/1"


def _short(value: str) -> str:
    return value if len(value) <= 60 else value[:59] + "…"


def process_columns(user_of: Callable[[int | None], str]) -> tuple[Column, ...]:
    return (
        Column("pid", "PID", str, meaning="process id"),
        Column("uid", "USER", user_of, justify="left", meaning="real user"),
        Column("virt_bytes", "VIRT", fmt_bytes, meaning="virtual size (VmSize), as top"),
        Column("res_bytes", "RES", fmt_bytes, meaning="resident set (VmRSS), as top"),
        Column("shr_bytes", "SHR", fmt_bytes, meaning="resident file + shmem, as top"),
        Column("pss_bytes", "PSS", fmt_bytes,
               meaning="proportional set: shared pages split among sharers"),
        Column("uss_bytes", "USS", fmt_bytes, meaning="unique set: private pages only"),
        Column("swap_bytes", "SWAP", fmt_bytes, meaning="swapped out (VmSwap)"),
        Column("threads", "THR", fmt_int, meaning="threads"),
        Column("majflt", "MAJFLT", fmt_int, meaning="major page faults since start"),
        Column("command", "COMMAND", _short, justify="left", meaning="command line"),
    )


GROUP_COLUMNS: tuple[Column, ...] = (
    Column("key", "GROUP", _short, justify="left"),
    Column("processes", "PROCS", fmt_int),
    Column("threads", "THR", fmt_int),
    Column("res_bytes", "RES", fmt_bytes),
    Column("pss_bytes", "PSS", fmt_bytes),
    Column("uss_bytes", "USS", fmt_bytes),
    Column("swap_bytes", "SWAP", fmt_bytes),
)


def render_processes(rows: Sequence[ProcessRow], user_of: Callable[[int | None], str],
                     caption: str | None = None) -> Table:
    cols = process_columns(user_of)
    dict_rows = []
    for r in rows:
        d = row_dict(r)
        d["command"] = r.command
        dict_rows.append(d)
    return table(cols, dict_rows, caption=caption)


def render_groups(rows: Sequence[GroupRow], title: str, caption: str | None = None) -> Table:
    cols = (Column("key", title.upper(), _short, justify="left"), *GROUP_COLUMNS[1:])
    return table(cols, [row_dict(r) for r in rows], caption=caption)


def process_json(r: ProcessRow) -> dict[str, Any]:
    d = row_dict(r)
    d["command"] = r.command
    return d
