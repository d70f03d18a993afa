"""Snapshots for store tests: the live host, and synthetic ones with chosen times."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from memsleuth import Host
from memsleuth.snapshot.capture import capture
from memsleuth.snapshot.model import Snapshot
from memsleuth.store import Store
from tests.conftest import HOSTS


@pytest.fixture(scope="session")
def fixture_snapshot() -> Snapshot:
    """The founding-case host tree: fixed bytes, no live reads."""
    return capture(Host.open(HOSTS / "centos6-founding"))


@pytest.fixture
def at_time(fixture_snapshot: Snapshot) -> Callable[[float], Snapshot]:
    def _at(t: float) -> Snapshot:
        return dataclasses.replace(fixture_snapshot, started_at=t, ended_at=t + 0.01)

    return _at


def runs_covering_nothing(store: Store) -> tuple[int, int]:
    """Point runs that cover no sample, process runs that cover no sample with raw files."""
    conn = store._conn
    points = conn.execute(
        "SELECT count(*) FROM point_runs r WHERE NOT EXISTS (SELECT 1 FROM samples s "
        "WHERE s.id >= r.first_sample_id AND (r.until_sample_id IS NULL OR s.id < r.until_sample_id))"
    ).fetchone()[0]
    procs = conn.execute(
        "SELECT count(*) FROM process_runs r WHERE NOT EXISTS (SELECT 1 FROM samples s "
        "WHERE s.id >= r.first_sample_id AND (r.until_sample_id IS NULL OR s.id < r.until_sample_id) "
        "AND length(s.system) > 0)"
    ).fetchone()[0]
    return points, procs
