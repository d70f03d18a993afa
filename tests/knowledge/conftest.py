"""Helpers: build a History from root directories through the real pipeline."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from memsleuth.analysis.findings import Finding
from memsleuth.analysis.series import History, Series
from memsleuth.collect.diagnosis import usage_now
from memsleuth.collect.inspect import HostInspector
from memsleuth.collect.rules import load_rules
from memsleuth.host import Host
from memsleuth.knowledge.attribute import TracedCommand
from memsleuth.knowledge.match import MatchContext

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPO = FIXTURES.parents[1]


def history_from_dirs(roots: Sequence[str]) -> History:
    """collect.history.history_from_roots when it exists, else iter_points over Host snapshots."""
    try:
        from memsleuth.collect.history import history_from_roots
    except ImportError:  # pragma: no cover - before the diagnose engineer's commit
        from memsleuth.host import Host
        from memsleuth.snapshot.capture import capture
        from memsleuth.store.extract import iter_points

        points: dict[str, list[tuple[float, float]]] = {}
        meta = None
        for root in roots:
            host = Host.open(root)
            meta = host.meta
            snap = capture(host)
            for k, v in iter_points(snap):
                points.setdefault(k, []).append((snap.started_at, float(v)))
        series = {k: Series(key=k, times=tuple(t for t, _ in p), values=tuple(v for _, v in p))
                  for k, p in points.items()}
        total = series.get("meminfo.MemTotal")
        return History(hostname=meta.hostname if meta else None,
                       kernel_release=meta.kernel_release if meta else None, series=series,
                       mem_total_bytes=int(total.values[-1]) if total else None, source="roots")
    return history_from_roots(roots)


def context(host: Host | None, traced: tuple[TracedCommand, ...] = ()) -> MatchContext:
    """What diagnose hands the matcher: every rule, and attribution and usage facts on ``host``."""
    return MatchContext(rules=load_rules(), machine=HostInspector(host) if host is not None else None,
                        usage=usage_now(host) if host is not None else None, traced=traced)


def detect(history: History) -> list[Finding]:
    """The detector's findings; [] before analysis.detect exists (the matcher then tests growth itself)."""
    try:
        from memsleuth.analysis.detect import detect as run_detector
    except ImportError:  # pragma: no cover
        return []
    return run_detector(history)


def founding_roots(tmp_path: Path) -> list[str]:
    """A copy of the founding series with each tree's mtime set by the builder."""
    sys.path.insert(0, str(FIXTURES))
    try:
        import build_founding_series as builder
    finally:
        sys.path.remove(str(FIXTURES))
    dest = tmp_path / "founding-series"
    shutil.copytree(FIXTURES / "hosts" / "founding-series", dest)
    builder.touch(dest)
    return [str(p) for p in sorted(dest.iterdir()) if p.is_dir() and p.name.startswith("t")]
