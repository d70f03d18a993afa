"""A trace's per-command counts reach the matcher as TracedCommand and name exited probes."""

from __future__ import annotations

import pytest

from memsleuth.analysis.findings import GrowthClass
from memsleuth.analysis.series import History
from memsleuth.host import Host
from memsleuth.knowledge.attribute import TracedCommand
from memsleuth.knowledge.match import Diagnosis, match, trace_plan
from tests.knowledge.conftest import context, detect, founding_roots, history_from_dirs

CURL = TracedCommand(kind="lookups", caches=("dentry",), comm="curl", ppid=2211, parent_comm="check.sh",
                     pid=31337, processes=118, events=118_000, events_per_second=23_600.0, share=0.97,
                     seconds=5.0)
OTHER = TracedCommand(kind="lookups", caches=("dentry",), comm="sshd", ppid=1, parent_comm="systemd",
                      pid=700, processes=1, events=40, events_per_second=8.0, share=0.0003, seconds=5.0)
UNRELATED = TracedCommand(kind="slab", caches=("kmalloc-64",), comm="java", ppid=1, parent_comm="systemd",
                          pid=900, processes=1, events=9_000, events_per_second=1800.0, share=1.0,
                          seconds=5.0)


@pytest.fixture(scope="module")
def founding(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], History]:
    roots = founding_roots(tmp_path_factory.mktemp("traced"))
    return roots, history_from_dirs(roots)


def _by_rule(ds: list[Diagnosis]) -> dict[str, Diagnosis]:
    return {d.rule_id: d for d in ds}


def test_trace_plan_for_a_growing_dentry_cache(founding: tuple[list[str], History]) -> None:
    _, history = founding
    findings = detect(history)
    plan = trace_plan(findings)
    assert plan.caches == ("dentry",) and plan.lookups
    assert not trace_plan([f for f in findings if f.growth_class is GrowthClass.BOUNDED])


def test_traced_curl_is_a_suspect_without_proc(founding: tuple[list[str], History]) -> None:
    """No host (nothing in /proc), no curl in the history: the trace alone names the probe."""
    _, history = founding
    ds = _by_rule(match(detect(history), history,
                        context(None, traced=(CURL, OTHER, UNRELATED))))
    (s,) = ds["nss-negative-dentries"].attribution.suspects
    assert (s.process.pid, s.process.comm, s.process.ppid, s.process.alive) == (31337, "curl", 2211, False)
    assert s.reason.startswith("traced: 118,000 failed path lookups (ENOENT) in 5 s")
    assert s.traced == (CURL,)
    assert "environment not checked (bundle)" in s.environ_note
    # the generic lookup rule has no process condition: the main traced actors, not the 0.03% one
    generic = ds["negative-dentries-lookups"].attribution.suspects
    assert [x.process.comm for x in generic] == ["curl"]


def test_traced_counts_join_a_suspect_found_in_proc(founding: tuple[list[str], History]) -> None:
    roots, history = founding
    traced = TracedCommand(kind="lookups", caches=("dentry",), comm="curl", ppid=2211, parent_comm="check.sh",
                           pid=28714, processes=1, events=5_000, events_per_second=1000.0, share=0.9,
                           seconds=5.0)
    ds = _by_rule(match(detect(history), history,
                        context(Host.open(roots[-1]), traced=(traced,))))
    (s,) = ds["nss-negative-dentries"].attribution.suspects
    assert s.process.pid == 28714 and s.reason == "maps libnss3.so, libsoftokn3.so"
    assert s.traced == (traced,)


def test_no_trace_no_change(founding: tuple[list[str], History]) -> None:
    roots, history = founding
    ds = _by_rule(match(detect(history), history,
                        context(Host.open(roots[-1]))))
    assert all(not s.traced for d in ds.values() for s in d.attribution.suspects)
    assert not ds["negative-dentries-lookups"].attribution.suspects
