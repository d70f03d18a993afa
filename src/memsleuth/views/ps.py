"""``memsleuth ps``: a procps ``ps -o`` listing over the same rows and columns as ``top``.

The fields carry procps's names (``ps -o pid,rss,pss,comm``) and print as
procps prints them (sizes in KiB, ``%mem`` to one decimal); each is top's
Column declaration (its JSON key and meaning) with procps's title and unit,
so the terminal table, piped text and JSON rows come from one declaration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from memsleuth.analysis.processes import ProcessRow, row_dict
from memsleuth.errors import UsageError
from memsleuth.views.common import MISSING, Column, ColumnTable, table
from memsleuth.views.top import process_columns
from memsleuth.views.topics import Field, column_fields, explain_text

SCHEMA = "memsleuth.ps/1"
#: what ``memsleuth ps`` shows without -o
DEFAULT_FIELDS = ("pid", "user", "vsz", "rss", "pss", "uss", "comm")


def _kib(v: int | None) -> str:
    return MISSING if v is None else str(v // 1024)


def _int(v: int | None) -> str:
    return MISSING if v is None else str(v)


def _printable(v: str) -> str:
    """A command name with control characters as ``?``."""
    return "".join("?" if ord(ch) < 32 or ord(ch) == 127 else ch for ch in str(v))


def _args(v: str) -> str:
    """A command line with control characters (a newline in ``python -c``) as spaces, as procps
    shows them; one row stays one line."""
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in str(v))


def _pmem(v: int | None) -> str:
    """procps's %mem: tenths of a percent, truncated (``rss * 1000 / MemTotal``)."""
    return MISSING if v is None else f"{v // 10}.{v % 10}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PsField:
    """One ``-o`` field: procps's name, the Column it prints, and how rows sort by it."""

    name: str
    column: Column
    #: the value sorted on (None sorts first, as an unknown value)
    sort: Callable[[dict[str, Any]], Any]


def fields(user_of: Callable[[int | None], str]) -> dict[str, PsField]:
    """procps field name -> field; aliases (rsz, cmd, command, thcount ...) share one."""
    top = {c.key: c for c in process_columns(user_of, wide=True)}

    def from_top(key: str, title: str, fmt: Callable[[Any], str], unit: str = "") -> Column:
        col = top[key]
        return dataclasses.replace(col, title=title, fmt=fmt, cut=None,
                                   meaning=col.meaning + (f", {unit}" if unit else ""))

    def by(key: str) -> Callable[[dict[str, Any]], Any]:
        return lambda row: row.get(key)

    # (procps name, its title) for each alias, the column, the sort value
    table_: list[tuple[tuple[tuple[str, str], ...], Column, Callable[[dict[str, Any]], Any]]] = [
        ((("pid", "PID"),), from_top("pid", "PID", _int), by("pid")),
        ((("ppid", "PPID"),), Column("ppid", "PPID", _int, meaning="parent process id"), by("ppid")),
        ((("uid", "UID"), ("euid", "EUID")), Column("uid", "UID", _int, meaning="real user id"),
         by("uid")),
        ((("user", "USER"), ("euser", "EUSER"), ("uname", "USER")),
         dataclasses.replace(top["uid"], title="USER", max_width=None),
         lambda row: user_of(row.get("uid"))),
        ((("rss", "RSS"), ("rsz", "RSZ")), from_top("res_bytes", "RSS", _kib, "KiB"),
         by("res_bytes")),
        ((("vsz", "VSZ"), ("vsize", "VSZ")), from_top("virt_bytes", "VSZ", _kib, "KiB"),
         by("virt_bytes")),
        ((("pss", "PSS"),), from_top("pss_bytes", "PSS", _kib, "KiB"), by("pss_bytes")),
        ((("uss", "USS"),), from_top("uss_bytes", "USS", _kib, "KiB"), by("uss_bytes")),
        ((("shr", "SHR"),), from_top("shr_bytes", "SHR", _kib, "KiB"), by("shr_bytes")),
        ((("swap", "SWAP"),), from_top("swap_bytes", "SWAP", _kib, "KiB"), by("swap_bytes")),
        ((("nlwp", "NLWP"), ("thcount", "THCNT")), from_top("threads", "NLWP", _int), by("threads")),
        ((("min_flt", "MINFL"), ("minflt", "MINFLT")), from_top("minflt", "MINFL", _int),
         by("minflt")),
        ((("maj_flt", "MAJFL"), ("majflt", "MAJFLT")), from_top("majflt", "MAJFL", _int),
         by("majflt")),
        ((("%mem", "%MEM"), ("pmem", "%MEM")),
         Column("mem_permille", "%MEM", _pmem, meaning="RSS as a share of MemTotal, in percent "
                "to one decimal (truncated, as procps)"), by("mem_permille")),
        ((("s", "S"), ("state", "S")),
         Column("state", "S", str, justify="left", meaning="state: R running, S sleeping, D "
                "waiting for I/O, Z zombie, T stopped, I idle kernel thread"), by("state")),
        ((("comm", "COMMAND"), ("ucomm", "COMMAND"), ("ucmd", "CMD")),
         Column("comm", "COMMAND", _printable, justify="left", no_wrap=True,
                meaning="command name (comm, at most 15 characters)"), by("comm")),
        ((("args", "COMMAND"), ("cmd", "CMD"), ("command", "COMMAND")),
         dataclasses.replace(top["command"], title="COMMAND", fmt=_args), by("command")),
    ]
    out: dict[str, PsField] = {}
    for names, col, key in table_:
        for name, title in names:
            out[name] = PsField(name=name, column=dataclasses.replace(col, title=title), sort=key)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Chosen:
    """An ``-o`` item: the field, and the header it was given (``pid=ID``; '' hides it)."""

    field: PsField
    header: str | None = None

    @property
    def column(self) -> Column:
        col = self.field.column
        return col if self.header is None else dataclasses.replace(col, title=self.header)


def parse_format(specs: Iterable[str], known: dict[str, PsField]) -> list[Chosen]:
    """``-o pid,rss -o comm=NAME`` -> fields, as procps-ng 4 reads them: comma lists, each item a
    name with an optional ``=HEADER`` (empty: no header)."""
    out: list[Chosen] = []
    for spec in specs:
        for item in spec.split(","):
            name, eq, header = item.partition("=")
            key = name.strip().lower()
            if key not in known:
                raise UsageError(f"unknown ps field {name!r} (known: {', '.join(sorted(known))})")
            out.append(Chosen(field=known[key], header=header if eq else None))
    return out


def parse_sort(specs: Iterable[str], known: dict[str, PsField]) -> list[tuple[PsField, bool]]:
    """``--sort=-rss,pid`` -> [(field, descending)]: procps's names, ``-`` for descending,
    ``+`` (or nothing) for ascending."""
    out = []
    for spec in specs:
        for item in filter(None, spec.split(",")):
            descending = item.startswith("-")
            key = item.lstrip("+-").lower()
            if key not in known:
                raise UsageError(f"unknown sort key {item!r} (known: {', '.join(sorted(known))})")
            out.append((known[key], descending))
    return out


def sort_rows(rows: list[dict[str, Any]], keys: Sequence[tuple[PsField, bool]]) -> list[dict[str, Any]]:
    """Stable sorts, last key first, as procps applies a multi-key --sort; unknown values first
    when ascending."""
    for f, descending in reversed(keys):
        rows = sorted(rows, key=_order(f), reverse=descending)
    return rows


def _order(f: PsField) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(row: dict[str, Any]) -> tuple[int, Any]:
        value = f.sort(row)
        return (0, 0) if value is None else (1, value)

    return key


def ps_row(r: ProcessRow, mem_total_bytes: int | None) -> dict[str, Any]:
    d = row_dict(r)
    d["command"] = r.command
    d["mem_permille"] = (None if r.res_bytes is None or not mem_total_bytes
                         else (r.res_bytes // 1024) * 1000 // (mem_total_bytes // 1024))
    return d


def render_ps(chosen: Sequence[Chosen], rows: Sequence[dict[str, Any]], *,
              headers: bool = True) -> ColumnTable:
    cols = [c.column for c in chosen]
    show = headers and any(c.title for c in cols)
    return table(cols, rows, show_header=show, pipe="full")


def ps_json(chosen: Sequence[Chosen], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The JSON rows: each chosen column's key and raw value (bytes, not KiB), in -o order."""
    seen: dict[str, Column] = {}
    for c in chosen:
        seen.setdefault(c.field.column.key, c.field.column)
    return [{key: row.get(key) for key, col in seen.items() if col.json} for row in rows]


#: the concepts ps's columns lean on (memsleuth help TOPIC prints the same text)
TOPICS: tuple[str, ...] = ("rss", "pss", "uss")


def explain_ps(chosen: Sequence[Chosen]) -> str:
    fs = column_fields(c.column for c in chosen)
    fs.append(Field(name="sizes", text="in KiB, as procps prints them; --json has bytes"))
    return explain_text(fs, TOPICS)
