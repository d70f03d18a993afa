"""Reports rendered once per session: from the founding series roots, and the hostile-input history."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.cli import main as cli_main
from tests.knowledge.conftest import founding_roots


@pytest.fixture(scope="session")
def founding(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """The founding series roots and the report ``memsleuth report --root ...`` wrote from them."""
    base = tmp_path_factory.mktemp("founding-report")
    roots = founding_roots(base)
    out = base / "founding.html"
    assert cli_main.main(["report", "--root", *roots, "-o", str(out)]) == 0
    return roots, out
