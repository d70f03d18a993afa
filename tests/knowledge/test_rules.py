"""The rule files: schema, coverage of detection.md B.3, and user rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.collect.rules import ENV_RULES, builtin_rules, load_rules
from memsleuth.knowledge.loader import parse_rule_text
from memsleuth.knowledge.schema import RuleError

GOOD = """
id = "my-rule"
title = "Mine"
class = "leak"
description = "x"
confirm = ["look"]
references = ["me"]
[evidence]
grows = ["meminfo.Shmem"]
[[remediation]]
kind = "fix"
text = "fix it"
"""


def test_builtins_cover_every_b3_row() -> None:
    rules = builtin_rules()
    assert len(rules) >= 25
    covered = {c for r in rules for c in r.covers}
    assert covered == set(range(1, 33))
    assert len({r.id for r in rules}) == len(rules)
    for r in rules:
        assert r.example is not None, r.id
        assert r.confirm and r.remediation and r.references, r.id


def test_nss_rule_reads_as_written() -> None:
    nss = {r.id: r for r in builtin_rules()}["nss-negative-dentries"]
    assert nss.rule_class == "unbounded_cache"
    assert nss.evidence.grows[0].pattern == "slab.dentry.size_bytes"
    assert nss.evidence.kernel_cache_reclaimable is True
    alt = nss.evidence.any_of[1]
    assert alt.absent == ("dentry.nr_negative",)
    assert alt.ratios[0].gt == 5 and "slab.xfs_inode.active_objs" in (alt.ratios[0].den or ())
    assert nss.attribution.environ_key == "NSS_SDB_USE_CACHE"
    assert any("echo 2 > /proc/sys/vm/drop_caches" in c for m in nss.remediation for c in m.commands)


@pytest.mark.parametrize(
    ("text", "where", "detail"),
    [
        (GOOD.replace('class = "leak"', 'class = "catastrophe"'), "class", "expected one of"),
        (GOOD.replace('grows = ["meminfo.Shmem"]', 'ratio = {num = "a", den = "b"}'),
         "evidence.ratio[0]", "needs at least one bound"),
        (GOOD.replace('grows = ["meminfo.Shmem"]', 'ratio = {num = "a", den = "b", gt = "big"}'),
         "evidence.ratio[0].gt", "expected a number"),
        (GOOD.replace('grows = ["meminfo.Shmem"]', 'grows = ["x"]\nexec = "rm -rf /"'),
         "evidence.exec", "unknown field"),
        (GOOD.replace('confirm = ["look"]\n', ""), "confirm", "required field is missing"),
        (GOOD.replace('kind = "fix"', 'kind = "pray"'), "remediation[0].kind", "expected one of"),
        (GOOD + "\n[oops\n", "", "not valid TOML"),
    ],
)
def test_malformed_rule_names_file_and_field(text: str, where: str, detail: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rule_text(text, "/etc/memsleuth/rules/bad.toml")
    assert err.value.where == where
    assert detail in err.value.detail
    assert str(err.value).startswith("/etc/memsleuth/rules/bad.toml: ")


def test_malformed_user_file_is_reported_and_builtins_still_load(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "bad.toml").write_text(GOOD.replace('id = "my-rule"', 'id = "bad"').replace(
        'text = "fix it"', 'text = 42'))
    rs = load_rules([], env={ENV_RULES: str(tmp_path)})
    assert len(rs.rules) == len(builtin_rules()) + 1
    mine = rs.get("my-rule")
    assert mine is not None and mine.source.endswith("good.toml")
    assert rs.get("nss-negative-dentries") is not None
    bad = tmp_path / "bad.toml"
    assert rs.errors == (f"{bad}: remediation[0].text: expected a non-empty string, got 42",)


def test_user_rule_overrides_builtin_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(GOOD.replace('id = "my-rule"', 'id = "page-cache"'))
    rs = load_rules([str(tmp_path)], env={})
    assert rs.get("page-cache").title == "Mine"  # type: ignore[union-attr]
    assert rs.overrides and "replaces the rule 'page-cache'" in rs.overrides[0]


def test_missing_rules_dir_is_an_error_not_a_crash(tmp_path: Path) -> None:
    rs = load_rules([str(tmp_path / "nope")], env={})
    assert len(rs.rules) == len(builtin_rules())
    assert "not a directory of rule files" in rs.errors[0]
