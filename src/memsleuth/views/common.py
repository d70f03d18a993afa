"""Column specs and small helpers shared by every view.

A table is declared once, as a tuple of :class:`Column`, and rows are dicts
keyed by ``Column.key``.  The same declaration gives the terminal table
(:meth:`ColumnTable.rich_table`), the plain text printed when stdout is not a
terminal (:meth:`ColumnTable.plain_lines`: every value in full, one line per
row, for grep and awk) and the JSON rows (:func:`rows_json`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from memsleuth.host import HostMeta
from memsleuth.units import human_bytes

MISSING = "-"
#: between two columns, as rich's default cell padding puts it
GAP = "  "


class _Blank:
    """A cell left empty (a row that has no value for the column, as Swap has no 'shared')."""

    def __repr__(self) -> str:
        return "BLANK"


BLANK: Final = _Blank()


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its JSON key, its title, and how a value is shown."""

    key: str
    title: str
    fmt: Callable[[Any], str] = str
    justify: str = "right"
    #: what the column means, for --explain and the JSON schema doc
    meaning: str = ""
    #: on a terminal, keep on one line and cut with an ellipsis (command lines, names);
    #: piped output is never cut
    no_wrap: bool = False
    #: on a terminal only: the widest the column gets
    max_width: int | None = None
    #: on a terminal only: a longer value is cut to this many cells, ending in "…" (or
    #: just cut, with ``ellipsis=False``), before rich lays the table out
    cut: int | None = None
    ellipsis: bool = True
    min_width: int | None = None
    #: rich style of the whole column on a terminal
    style: str | None = None
    #: the key is in the JSON rows (False: a column derived for display, like a percentage)
    json: bool = True
    #: the column is in the table (False: a JSON-only key)
    show: bool = True


def fmt_bytes(value: int | None) -> str:
    return human_bytes(value, missing=MISSING)


def fmt_int(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def fmt_pct(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}%"


def fmt_rate(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.1f}"


def _cell(col: Column, row: Mapping[str, Any]) -> str | Text:
    value = row.get(col.key)
    if value is BLANK:
        return ""
    if value is None:
        return MISSING
    if isinstance(value, Text):  # already formatted, with a style
        return value
    return col.fmt(value)


def _justify(text: str, width: int, how: str) -> str:
    pad = max(width - cell_len(text), 0)
    if how == "right":
        return " " * pad + text
    if how == "center":
        return " " * (pad // 2) + text + " " * (pad - pad // 2)
    return text + " " * pad


class ColumnTable:
    """A table from column specs and row dicts keyed by ``Column.key``: rich on a terminal, plain
    full-width text when piped.

    A value of ``None`` shows as ``-``, :data:`BLANK` as nothing, a
    :class:`~rich.text.Text` as it is; anything else goes through ``Column.fmt``.
    With ``pipe="full"`` the table is plain text, every value in full, when stdout is not a
    terminal; the command then prints it with ``crop=env.console.is_terminal``.
    """

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Iterable[Mapping[str, Any]],
        *,
        title: str | Text | None = None,
        caption: str | None = None,
        title_justify: str = "center",
        show_header: bool = True,
        row_styles: Sequence[str | None] | None = None,
        overflow: str = "fold",
        pipe: str = "fit",
    ) -> None:
        self.columns = tuple(c for c in columns if c.show)
        self.rows = list(rows)
        self.title = title
        self.caption = caption
        self.title_justify = title_justify
        self.show_header = show_header
        self.row_styles = list(row_styles) if row_styles is not None else [None] * len(self.rows)
        #: on a terminal, what a word wider than its wrapping column does ("fold" or "ellipsis")
        self.overflow = overflow
        #: not on a terminal: "full" prints plain lines with every value (the command must
        #: print with ``crop=False``); "fit" the rich table, fitted to the width as on a terminal
        self.pipe = pipe

    def rich_table(self) -> Table:
        t = Table(title=self.title, caption=self.caption, box=None, header_style="bold",
                  pad_edge=False, show_header=self.show_header,
                  title_justify=self.title_justify)  # type: ignore[arg-type]
        for col in self.columns:
            # rich's justify is a Literal; our specs use the same words
            t.add_column(col.title, justify=col.justify,  # type: ignore[arg-type]
                         no_wrap=col.no_wrap,
                         overflow="ellipsis" if col.no_wrap else self.overflow,  # type: ignore[arg-type]
                         max_width=col.max_width, min_width=col.min_width, style=col.style)
        for row, style in zip(self.rows, self.row_styles, strict=True):
            t.add_row(*(_terminal_cell(col, row) for col in self.columns), style=style)
        return t

    def plain_lines(self) -> list[str]:
        """The table as text: no value cut or wrapped, whatever the width."""
        cells = [[_plain(_cell(col, row)) for col in self.columns] for row in self.rows]
        widths = [max([col.min_width or 0, cell_len(col.title) if self.show_header else 0,
                       *(cell_len(r[i]) for r in cells)])
                  for i, col in enumerate(self.columns)]
        body = []
        if self.show_header:
            body.append([col.title for col in self.columns])
        body += cells
        lines = [GAP.join(_justify(v, w, col.justify)
                          for v, w, col in zip(r, widths, self.columns, strict=True)).rstrip()
                 for r in body]
        width = sum(widths) + len(GAP) * max(len(widths) - 1, 0)
        if self.title is not None:
            lines.insert(0, _justify(_plain(self.title), width, self.title_justify).rstrip())
        if self.caption is not None:
            lines.append(_justify(self.caption, width, "center").rstrip())
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if console.is_terminal or self.pipe != "full":
            yield self.rich_table()
            return
        for line in self.plain_lines():
            yield Segment(line)
            yield Segment.line()


def _terminal_cell(col: Column, row: Mapping[str, Any]) -> Text:
    value = _cell(col, row)
    # Text, not str: a value such as "[heap]" is data, not rich markup
    text = value.copy() if isinstance(value, Text) else Text(value)
    if col.cut is not None:
        text.truncate(col.cut, overflow="ellipsis" if col.ellipsis else "crop")
    return text


def _plain(value: str | Text) -> str:
    return value.plain if isinstance(value, Text) else value


#: a table from column specs and row dicts keyed by ``Column.key`` (what every view calls)
table = ColumnTable


def rows_json(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The JSON rows of a table: the raw value of each JSON column, in declaration order."""
    return [{c.key: row[c.key] for c in columns if c.json} for row in rows]


def row_of(columns: Sequence[Column], obj: object) -> dict[str, Any]:
    """A row dict from a record whose attributes are named like the column keys."""
    return {c.key: getattr(obj, c.key) for c in columns if hasattr(obj, c.key)}


def host_json(meta: HostMeta, source: str) -> dict[str, Any]:
    """The ``host`` object every JSON document starts with."""
    return {
        "hostname": meta.hostname,
        "kernel_release": meta.kernel_release,
        "captured_at": meta.captured_at,
        "source": source,
    }


def document(schema: str, meta: HostMeta, source: str, /, **body: Any) -> dict[str, Any]:
    """A JSON document: ``schema``, ``host``, then ``body`` in the order given."""
    return {"schema": schema, "host": host_json(meta, source), **body}


def missing_json(missing: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"path": "/" + p, "reason": r} for p, r in sorted(missing.items())]
