"""--explain on every view: each prints what its columns and concepts mean, from the help topics."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memsleuth.views.topics import topic
from tests.conftest import CliResult

#: view -> a topic its --explain must print (the same text "memsleuth help TOPIC" prints); vmstat,
#: smaps and ps have their own tests (the founding host has no /proc/vmstat)
VIEWS = {
    ("status",): "buckets", ("free",): "memavailable", ("meminfo",): "unaccounted",
    ("slab",): "reclaimable-slab", ("top",): "pss", ("ps",): "pss", ("reclaim",): "reclaimable-slab",
}


@pytest.mark.parametrize("args", sorted(VIEWS), ids=[" ".join(a) for a in sorted(VIEWS)])
def test_every_view_explains_itself(args: tuple[str, ...], run_cli: Callable[..., CliResult],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    plain = run_cli("--root", "tests/fixtures/hosts/centos6-founding", *args)
    res = run_cli("--root", "tests/fixtures/hosts/centos6-founding", *args, "--explain")
    assert res.code == plain.code, res.err
    extra = res.out[len(plain.out.rstrip()):] if res.out.startswith(plain.out.rstrip()) else res.out
    assert len(extra.split()) > 40, extra
    name = VIEWS[args]
    if name is not None:
        t = topic(name)
        assert t is not None and t.summary in res.out.replace("\n", " ")
    # --json stays one document: no prose in it
    assert run_cli("--root", "tests/fixtures/hosts/centos6-founding", *args, "--explain", "--json").json()
