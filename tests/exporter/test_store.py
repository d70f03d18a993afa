"""Findings from the record store (--db), the default path when there is no store, and --db checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from memsleuth import metrics
from memsleuth.collect.history import PROCESS_FILES
from memsleuth.host import Host
from memsleuth.snapshot.capture import capture
from memsleuth.store.writer import Store
from tests.conftest import CliResult
from tests.exporter.conftest import Roots
from tests.exporter.test_golden import parse


def test_findings_from_a_store(run_cli: Callable[..., CliResult], exporter_roots: Roots,
                               tmp_path: Path) -> None:
    """The founding series recorded into a store: the exporter diagnoses it through run_diagnosis
    and publishes the dentry finding and a negative-dentry rule (the window reaches back to 2019)."""
    db = tmp_path / "m.db"
    store = Store.open(db, create=True)
    try:
        for root in exporter_roots.founding:
            store.append(capture(Host.open(str(exporter_roots.top / root)), process_files=PROCESS_FILES))
    finally:
        store.close()
    res = run_cli("--root", str(exporter_roots.top / "centos6"), "exporter", "--once", "--db", str(db),
                  "--window", "3650d")
    assert res.code == 0, res.err
    samples = parse(res.out)
    assert [lab["series"] for lab, _ in samples[metrics.FINDING_RATE.name]] == ["slab.dentry.size_bytes"]
    # attribution for a store looks at the live host (the store is this host's history): whether a
    # curl with NSS runs here now decides between the NSS rule and the generic one
    rules = {lab["rule"] for lab, _ in samples[metrics.SIGNATURE_MATCH.name]}
    assert rules & {"nss-negative-dentries", "negative-dentries-lookups"}, rules
    assert samples[metrics.DIAGNOSIS_SAMPLES.name] == [({}, 12.0)]
    success = {lab["source"]: v for lab, v in samples[metrics.SCRAPE_SUCCESS.name]}
    assert success["diagnosis"] == 1


def test_an_empty_window_is_a_failed_diagnosis(run_cli: Callable[..., CliResult], exporter_roots: Roots,
                                               tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    store = Store.open(db, create=True)
    try:
        store.append(capture(Host.open(str(exporter_roots.top / exporter_roots.founding[0]))))
    finally:
        store.close()
    res = run_cli("--root", str(exporter_roots.top / "centos6"), "exporter", "--once", "--db", str(db))
    assert res.code == 0, res.err
    samples = parse(res.out)
    success = {lab["source"]: v for lab, v in samples[metrics.SCRAPE_SUCCESS.name]}
    assert success["diagnosis"] == 0 and metrics.FINDING_RATE.name not in samples
    assert "no samples in the chosen window" in res.err


def test_a_missing_db_is_a_usage_error(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    res = run_cli("exporter", "--once", "--db", str(tmp_path / "nope.db"))
    assert res.code == 2 and "nope.db" in res.err
