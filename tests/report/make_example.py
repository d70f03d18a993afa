"""Write docs/report-example.html (the founding series) and its screenshot docs/report-example.png.

    python3 -m tests.report.make_example        # from the repository root, with chromium installed
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from memsleuth.collect.diagnosis import SourceRequest, open_source
from memsleuth.collect.rules import load_rules
from memsleuth.knowledge.report import DiagnosisOptions, run_diagnosis
from memsleuth.report import HtmlOptions, render_html
from memsleuth.version import __version__
from tests.knowledge.conftest import REPO, founding_roots
from tests.report import browser

DOCS = REPO / "docs"
COMMAND = "memsleuth report --root tests/fixtures/hosts/founding-series/t* -o docs/report-example.html"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        roots = founding_roots(work)
        source = open_source(SourceRequest(roots=roots))
        report = run_diagnosis(source, DiagnosisOptions(rules=load_rules([])))
        page = render_html(report, HtmlOptions(command=COMMAND, version=__version__))
        html = DOCS / "report-example.html"
        html.write_text(page.html)
        print(f"wrote {html} ({len(page.html.encode()):,} bytes, {page.charts} charts, {page.points} points)")
        if not browser.available():
            print(f"no {browser.CHROMIUM}: no screenshot", file=sys.stderr)
            return 1
        png = DOCS / "report-example.png"
        browser.screenshot(html, png, work)
        print(f"wrote {png} ({png.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
