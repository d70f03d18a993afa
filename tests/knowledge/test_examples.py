"""Every rule's worked example: detector + matcher put the rule on top, with its key facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.analysis.series import History
from memsleuth.collect.rules import builtin_rules
from memsleuth.host import Host
from memsleuth.knowledge.examples import history_from_example
from memsleuth.knowledge.match import match
from memsleuth.knowledge.schema import Rule
from memsleuth.views.diagnosis import diagnosis_lines
from tests.knowledge.conftest import REPO, context, detect, founding_roots, history_from_dirs

RULES = [r for r in builtin_rules() if r.example is not None]


def _load(rule: Rule, tmp_path: Path) -> tuple[History, Host | None]:
    assert rule.example is not None
    path = REPO / rule.example.path
    if (path / "series.json").is_file():
        return history_from_example((path / "series.json").read_text(), str(path)), None
    roots = founding_roots(tmp_path) if path.name == "founding-series" else sorted(
        str(p) for p in path.iterdir() if p.is_dir())
    return history_from_dirs(roots), Host.open(roots[-1])


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_worked_example(rule: Rule, tmp_path: Path) -> None:
    assert rule.example is not None
    history, host = _load(rule, tmp_path)
    diagnoses = match(detect(history), history, context(host))
    ids = [d.rule_id for d in diagnoses]
    assert rule.id in ids, f"{rule.id} did not match; got {ids}"
    d = diagnoses[ids.index(rule.id)]
    if rule.example.expect_top:
        assert ids[0] == rule.id, f"expected {rule.id} on top, got {ids}"
    text = "\n".join(diagnosis_lines(d))
    for name, want in rule.example.facts.items():
        if isinstance(want, str):
            assert want in text, name
        else:
            got = d.evidence.get(name)
            assert isinstance(got, float | int), f"{name}: {got!r}"
            assert got == pytest.approx(want, rel=0.1), name


def test_every_rule_has_a_worked_example() -> None:
    assert len(RULES) == len(builtin_rules()) >= 25
