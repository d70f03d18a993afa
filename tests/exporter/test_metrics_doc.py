"""docs/metrics.md lists exactly the families of memsleuth.metrics.METRICS, in order, with the
table's type, unit, labels and opt-in."""

from __future__ import annotations

import re
from pathlib import Path

from memsleuth import metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(memsleuth_[a-z0-9_]+)` \|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|")


def _rows() -> list[tuple[str, str, str, tuple[str, ...], str]]:
    out = []
    for line in DOC.read_text().splitlines():
        m = ROW.match(line)
        if m:
            name, typ, unit, labels, opt_in = (g.strip() for g in m.groups())
            out.append((name, typ, unit, tuple(re.findall(r"`([^`]+)`", labels)), opt_in))
    return out


def test_doc_lists_exactly_the_table() -> None:
    rows = _rows()
    assert [r[0] for r in rows] == [m.name for m in metrics.METRICS]


def test_doc_rows_agree_with_the_table() -> None:
    for (name, typ, unit, labels, opt_in), spec in zip(_rows(), metrics.METRICS, strict=True):
        assert (typ, unit) == (spec.type, spec.unit or "count"), name
        assert labels == spec.labels, name
        assert (opt_in != "-") == (spec.opt_in is not None), name
