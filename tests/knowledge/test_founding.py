"""The founding case end to end: CentOS 6 roots -> history -> detector -> rules -> attribution."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.host import Host
from memsleuth.knowledge.match import Diagnosis, match
from tests.knowledge.conftest import context, detect, founding_roots, history_from_dirs


@pytest.fixture(scope="module")
def top(tmp_path_factory: pytest.TempPathFactory) -> tuple[Diagnosis, list[Diagnosis]]:
    roots = founding_roots(tmp_path_factory.mktemp("founding"))
    history = history_from_dirs(roots)
    diagnoses = match(detect(history), history, context(Host.open(roots[-1])))
    return diagnoses[0], diagnoses


def test_nss_negative_dentries_is_the_top_diagnosis(top: tuple[Diagnosis, list[Diagnosis]]) -> None:
    first, all_ = top
    assert first.rule_id == "nss-negative-dentries"
    assert first.rule.rule_class == "unbounded_cache"
    # old kernel: no nr_negative, so negative dentries are inferred from dentries per inode
    assert first.evidence["dentries_per_inode"] == pytest.approx(191599990 / (96015 + 11370 + 2630), rel=1e-3)
    # the generic lookup-storm rule matches too, but ranks below the one that names the library
    assert [d.rule_id for d in all_][:2] == ["nss-negative-dentries", "negative-dentries-lookups"]
    assert "slab.dentry.size_bytes" in first.growing


def test_curl_probe_named_with_pid_command_line_parent_and_versions(
        top: tuple[Diagnosis, list[Diagnosis]]) -> None:
    first, _ = top
    (s,) = first.attribution.suspects
    assert (s.process.pid, s.process.comm) == (28714, "curl")
    assert s.process.cmdline == "curl -s -o /dev/null https://vip.example/health"
    assert s.parent is not None and s.parent.cmdline == "/bin/bash /opt/probe/check.sh"
    versions = {lib.package: lib.version for lib in s.libraries}
    assert versions["nss-softokn"] == "3.14.3"
    assert versions["nss"] == "3.15.3"
    assert s.executable is not None and (s.executable.package, s.executable.version) == ("curl", "7.19.7")
    assert not s.environ_checked
    assert s.environ_note == ("environment not checked (bundle): set NSS_SDB_USE_CACHE=yes in the "
                              "probe's environment")
    (slab,) = first.attribution.slab
    assert slab.cache == "dentry" and not slab.sysfs_known


def test_fix_stopgap_and_what_it_frees(top: tuple[Diagnosis, list[Diagnosis]]) -> None:
    first, _ = top
    fixes = [r for r in first.remediation if r.kind == "fix"]
    assert any("NSS_SDB_USE_CACHE=yes" in c for c in fixes[0].commands)
    assert any("nss-softokn" in c for r in fixes for c in r.commands)
    (stop,) = [r for r in first.remediation if r.kind == "stopgap"]
    assert stop.commands == ("sync; echo 2 > /proc/sys/vm/drop_caches",)
    assert first.evidence["reclaimable_slab_bytes"] == 38506072 * 1024
    assert stop.frees.startswith("up to 36.7Gi")


def test_time_to_90_and_why_free_disagrees(top: tuple[Diagnosis, list[Diagnosis]]) -> None:
    first, _ = top
    ev = first.evidence
    assert ev["legacy_used_percent"] == pytest.approx(86.3, abs=0.05)
    # 200 MiB/h of dentries; 90% of 65922868 kB is 2409165 kB away: about 11.8 h
    assert ev["hours_to_90_legacy"] == pytest.approx(11.8, abs=0.3)
    assert ev["available_used_percent"] == pytest.approx(24.3, abs=0.1)  # MemAvailable estimated 49887276 kB
    assert "estimated" in str(ev["available_source"])
    assert "CentOS 6 free calls it used, MemAvailable calls it free" in str(ev["usage_explanation"])


def test_fixture_matches_the_post_mortem(tmp_path: Path) -> None:
    roots = founding_roots(tmp_path)
    h = Host.open(roots[-1])
    meminfo = h.read_text("proc/meminfo")
    for line in ("Slab:           39242216 kB", "SReclaimable:   38506072 kB", "MemFree:         9001452 kB"):
        assert line in meminfo
    assert "MemAvailable" not in meminfo
    times = [Host.open(r).meta.captured_at for r in roots]
    assert times == sorted(times) and times[-1] - times[0] == 11 * 12 * 3600  # type: ignore[operator]
