"""``memsleuth report``: a diagnosis (and its history) as one self-contained HTML page.

:func:`~memsleuth.report.html.render_html` renders a
:class:`~memsleuth.knowledge.report.DiagnosisReport`; the charts are inline
SVG drawn by :mod:`memsleuth.report.svg`, so the page opens with no network.
"""

from memsleuth.report.html import (
    SCHEMA,
    HtmlOptions,
    Rendered,
    Section,
    render_html,
    render_page,
    report_json,
)

__all__ = ["SCHEMA", "HtmlOptions", "Rendered", "Section", "render_html", "render_page", "report_json"]
