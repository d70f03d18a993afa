"""``memsleuth top``: per-process and grouped memory tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.processes import GroupRow, ProcessRow, group_rows, row_dict
from memsleuth.views.common import Column, ColumnTable, fmt_bytes, fmt_int, table

SCHEMA = "memsleuth.top/1"
#: on a terminal, the widest a group name gets (cut with an ellipsis; piped output has it all)
GROUP_WIDTH = 60
#: on a terminal the command gets what 80 columns leave; piped output and --json have the full line
COMMAND_WIDTH = 22


def process_columns(user_of: Callable[[int | None], str], *, wide: bool = False) -> tuple[Column, ...]:
    def b(key: str, title: str, meaning: str) -> Column:
        return Column(key, title, fmt_bytes, meaning=meaning, no_wrap=True)

    cols = [
        Column("pid", "PID", str, meaning="process id", no_wrap=True),
        Column("uid", "USER", user_of, justify="left", meaning="real user", no_wrap=True,
               max_width=10),
        b("virt_bytes", "VIRT", "virtual size (VmSize), as top"),
        b("res_bytes", "RES", "resident set (VmRSS), as top"),
        b("shr_bytes", "SHR", "resident file + shmem, as top"),
        b("pss_bytes", "PSS", "proportional set: shared pages split among sharers"),
        b("uss_bytes", "USS", "unique set: private pages only"),
        b("swap_bytes", "SWAP", "swapped out (VmSwap)"),
    ]
    if wide:
        cols += [
            Column("threads", "THR", fmt_int, meaning="threads", no_wrap=True),
            Column("minflt", "MINFLT", fmt_int, meaning="minor page faults since start", no_wrap=True),
            Column("majflt", "MAJFLT", fmt_int, meaning="major page faults since start", no_wrap=True),
        ]
    cols.append(Column("command", "COMMAND", justify="left", meaning="command line", no_wrap=True,
                       cut=COMMAND_WIDTH))
    return tuple(cols)


GROUP_COLUMNS: tuple[Column, ...] = (
    Column("key", "GROUP", justify="left", no_wrap=True, cut=GROUP_WIDTH),
    Column("processes", "PROCS", fmt_int, no_wrap=True),
    Column("threads", "THR", fmt_int, no_wrap=True),
    Column("res_bytes", "RES", fmt_bytes, no_wrap=True),
    Column("pss_bytes", "PSS", fmt_bytes, no_wrap=True),
    Column("uss_bytes", "USS", fmt_bytes, no_wrap=True),
    Column("swap_bytes", "SWAP", fmt_bytes, no_wrap=True),
)


def render_processes(rows: Sequence[ProcessRow], user_of: Callable[[int | None], str],
                     caption: str | None = None, *, wide: bool = False) -> ColumnTable:
    cols = process_columns(user_of, wide=wide)
    dict_rows = []
    for r in rows:
        d = row_dict(r)
        d["command"] = r.command
        dict_rows.append(d)
    return table(cols, dict_rows, caption=caption, pipe="full")


def render_groups(rows: Sequence[GroupRow], title: str, caption: str | None = None) -> ColumnTable:
    cols = (Column("key", title.upper(), justify="left", no_wrap=True, cut=GROUP_WIDTH),
            *GROUP_COLUMNS[1:])
    return table(cols, [row_dict(r) for r in rows], caption=caption, pipe="full")


def process_json(r: ProcessRow) -> dict[str, Any]:
    d = row_dict(r)
    d["command"] = r.command
    return d


def render_frame(rows: Sequence[ProcessRow], user_of: Callable[[int | None], str], *,
                 group_by: str | None, keyf: Callable[[ProcessRow], str] | None, sort: str,
                 reverse: bool, limit: int | None, wide: bool, caption: str | None, vanished: int,
                 at: float, hints: bool) -> RenderableType:
    """One iteration of ``top -d``: a header line (time, processes, order), the table, notes."""
    import time

    order = "grouped by " + group_by if group_by else (
        f"sorted by {sort}" + (", smallest first" if reverse else ""))
    head = f"memsleuth top - {time.strftime('%H:%M:%S', time.localtime(at))}, {len(rows)} processes, {order}"
    if hints:
        head += "  (q quits; M memory, N pid, < > column, R reverse)"
    parts: list[RenderableType] = [Text(head, style="bold")]
    if group_by and keyf is not None:
        groups = group_rows(rows, keyf)
        parts.append(render_groups(groups[:limit], group_by))
    elif rows:
        parts.append(render_processes(rows[:limit], user_of, None, wide=wide))
        if limit is not None and len(rows) > limit:
            parts.append(Text(f"({len(rows) - limit} more)", style="dim"))
    else:
        parts.append(Text("no processes matched"))
    if caption:
        parts.append(Text(caption, style="dim"))
    if vanished:
        parts.append(Text(f"{vanished} processes exited while they were being read", style="dim"))
    return Group(*parts)
