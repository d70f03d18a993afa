"""Golden ``/metrics`` text from fixture roots, and ``promtool check metrics`` on it.

The roots' capture times are pinned (tests/exporter/conftest.py) and the findings come from the
founding series as roots (dated from their last sample), so the text depends on nothing but the
fixtures; only ``memsleuth_scrape_duration_seconds`` values, which time this machine, are masked.
Rewrite after an intended change with ``--update-golden`` and read the diff.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from memsleuth import metrics
from tests.conftest import CliResult
from tests.exporter.conftest import Roots
from tests.prom import promtool

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
DURATION = re.compile(rf"^({metrics.SCRAPE_DURATION.name}\{{[^}}]*\}}) \S+$", re.M)

#: what promtool's linter says about the table as the lead wrote it, and nothing else may appear:
#: hours are not a base unit (reported to the lead: a rename to seconds changes a published name)
CASES = {
    "centos6": ("--root", "centos6", "exporter", "--once", "--slab"),
    "linux-6.18": ("--root", "linux-6.18", "exporter", "--once", "--top", "3", "--slab",
                   "--slab-include", "*inode*", "--slab-include", "dentry", "--slab-exclude", "proc_*"),
}


def _metrics(run_cli: Callable[..., CliResult], roots: Roots, monkeypatch: pytest.MonkeyPatch,
             case: str) -> str:
    monkeypatch.chdir(roots.top)
    args = CASES[case]
    if case == "centos6":
        args = (*args, "--history-root", *roots.founding)
    res = run_cli(*args)
    assert res.code == 0, res.err
    return res.out


def masked(text: str) -> str:
    return DURATION.sub(r"\1 <seconds>", text)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_metrics(case: str, run_cli: Callable[..., CliResult], exporter_roots: Roots,
                        monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    got = masked(_metrics(run_cli, exporter_roots, monkeypatch, case))
    path = GOLDEN / f"metrics-{case}.prom"
    if request.config.getoption("--update-golden"):
        path.write_text(got)
        return
    assert path.exists(), f"{path} is missing: run pytest with --update-golden"
    assert got == path.read_text(), f"{path.name} differs from its golden file (--update-golden rewrites it)"


def test_founding_case_as_metrics(run_cli: Callable[..., CliResult], exporter_roots: Roots,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The founding alarm in the exposition: the dentry cache is the finding, the NSS rule matched,
    negative dentries are inferred on 2.6.32, and the buckets add up to MemTotal."""
    samples = parse(_metrics(run_cli, exporter_roots, monkeypatch, "centos6"))
    rate = samples[metrics.FINDING_RATE.name]
    assert [lab["series"] for lab, _ in rate] == ["slab.dentry.size_bytes"]
    seconds = dict((lab["basis"], v) for lab, v in samples[metrics.FINDING_SECONDS_TO_90.name])
    assert seconds["legacy_used"] / 3600 == pytest.approx(11.8, abs=0.3)  # the rule's worked example
    rules = {lab["rule"] for lab, v in samples[metrics.SIGNATURE_MATCH.name] if v == 1}
    assert "nss-negative-dentries" in rules
    negative = [(lab, v) for lab, v in samples[metrics.DENTRIES.name] if lab["state"] == "negative"]
    assert negative == [({"state": "negative", "inferred": "true"}, 191599990 - 152341)]
    total = samples[metrics.MEMORY_TOTAL.name][0][1]
    assert sum(v for _, v in samples[metrics.MEMORY_BUCKET.name]) == total
    success = {lab["source"]: v for lab, v in samples[metrics.SCRAPE_SUCCESS.name]}
    assert success == {"meminfo": 1, "dentry": 1, "slab": 1, "diagnosis": 1}


def test_missing_values_are_absent_not_zero(run_cli: Callable[..., CliResult], exporter_roots: Roots,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """centos6 has no slab sysfs, no processes and a 2.6.32 meminfo: no zero stands in for them;
    without a store the finding families are absent and scrape_success says so."""
    monkeypatch.chdir(exporter_roots.top)
    res = run_cli("--root", "centos6", "exporter", "--once", "--top", "5")
    assert res.code == 0, res.err
    samples = parse(res.out)
    assert metrics.PROCESS_PSS.name not in samples  # the root holds no process
    buckets = {lab["bucket"] for lab, _ in samples[metrics.MEMORY_BUCKET.name]}
    assert "percpu" not in buckets and "zswap" not in buckets  # 2.6.32 has neither line
    for spec in (metrics.FINDING_RATE, metrics.FINDING_CONFIDENCE, metrics.SIGNATURE_MATCH,
                 metrics.DIAGNOSIS_FINDINGS, metrics.SLAB_CACHE):
        assert spec.name not in samples
    success = {lab["source"]: v for lab, v in samples[metrics.SCRAPE_SUCCESS.name]}
    assert success == {"meminfo": 1, "dentry": 1, "processes": 1, "diagnosis": 0}
    assert "finding families are absent" in res.err


@pytest.mark.parametrize("case", sorted(CASES))
def test_promtool_check_metrics(case: str, run_cli: Callable[..., CliResult], exporter_roots: Roots,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    r = promtool("check", "metrics", input_text=_metrics(run_cli, exporter_roots, monkeypatch, case),
                 timeout=60)
    problems = {line.strip() for line in (r.stdout + r.stderr).splitlines() if line.strip()}
    assert not problems and r.returncode == 0, (r.returncode, problems)


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The samples of an exposition, through prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out
