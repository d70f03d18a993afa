"""Snapshots for store tests: the live host, and synthetic ones with chosen times."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from memsleuth import Host
from memsleuth.snapshot.capture import capture
from memsleuth.snapshot.model import Snapshot
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
