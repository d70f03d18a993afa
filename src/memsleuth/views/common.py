"""Column specs and small helpers shared by every view."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from memsleuth.host import HostMeta
from memsleuth.units import human_bytes

MISSING = "-"


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its JSON key, its title, and how a value is shown."""

    key: str
    title: str
    fmt: Callable[[Any], str] = str
    justify: str = "right"
    #: what the column means, for --explain and the JSON schema doc
    meaning: str = ""
    #: keep on one line and cut with an ellipsis (command lines, names)
    no_wrap: bool = False
    max_width: int | None = None


def fmt_bytes(value: int | None) -> str:
    return human_bytes(value, missing=MISSING)


def fmt_int(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def fmt_pct(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}%"


def fmt_rate(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.1f}"


def table(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> Table:
    """A rich table from column specs and row dicts keyed by ``Column.key``."""
    t = Table(title=title, caption=caption, box=None, header_style="bold", pad_edge=False)
    for col in columns:
        # rich's justify is a Literal; our specs use the same words
        t.add_column(col.title, justify=col.justify,  # type: ignore[arg-type]
                     no_wrap=col.no_wrap, overflow="ellipsis" if col.no_wrap else "fold",
                     max_width=col.max_width)
    for row in rows:
        t.add_row(*(_cell(col, row.get(col.key)) for col in columns))
    return t


def _cell(col: Column, value: Any) -> str:
    if value is None:
        return MISSING
    return col.fmt(value)


def host_json(meta: HostMeta, source: str) -> dict[str, Any]:
    """The ``host`` object every JSON document starts with."""
    return {
        "hostname": meta.hostname,
        "kernel_release": meta.kernel_release,
        "captured_at": meta.captured_at,
        "source": source,
    }


def missing_json(missing: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"path": "/" + p, "reason": r} for p, r in sorted(missing.items())]
