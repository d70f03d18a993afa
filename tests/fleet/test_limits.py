"""The real server's limits on the real fleet: a second Prometheus over a copy of the blocks, with a
small --query.max-samples (batches and a per-family fetch keep under it; a raw answer over it is a
422) and a 1 ms --query.timeout, and the server's own words for the 11,000-point limit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from memsleuth.collect.rules import load_rules
from memsleuth.errors import PrometheusTooManyPoints, PrometheusTooManySamples, PrometheusUnavailable
from memsleuth.fleet.client import PromClient
from memsleuth.fleet.run import FleetRequest, run_fleet
from tests.fleet.conftest import Fleet
from tests.prom import PromServer

RANGE = 7 * 86400.0
#: under one host's whole fetch (~14 series x 10,081 points), over one series
LIMIT = 100_000


def _served(fleet: Fleet, tmp: Path, *flags: str) -> PromServer:
    shutil.copytree(fleet.blocks, tmp / "data")
    return PromServer(tmp / "data", extra_args=flags)


def test_a_small_max_samples_batches_and_fetches_per_family(fleet: Fleet, tmp_path: Path) -> None:
    db = {x["instance"] for x in fleet.manifest["leakers"] if x["cluster"] == "db-gz"}
    with _served(fleet, tmp_path, f"--query.max-samples={LIMIT}") as prom:
        client = PromClient(prom.url)
        with pytest.raises(PrometheusTooManySamples, match=r"422.*--query\.max-samples"):
            client.query('node_memory_MemTotal_bytes{cluster="db-gz"}[7d]', time=fleet.end)
        req = FleetRequest(inner='cluster="db-gz"', match='{cluster="db-gz"}', range_s=RANGE,
                           end=float(fleet.end), top=5, max_samples=LIMIT)
        report = run_fleet(client, req, load_rules([]))
        assert report.batches > 1
        assert {d.instance for d in report.diagnosed} == db


def test_a_server_timeout_is_said_so(fleet: Fleet, tmp_path: Path) -> None:
    with _served(fleet, tmp_path, "--query.timeout=1ms") as prom:
        req = FleetRequest(inner="", match="", range_s=RANGE, end=float(fleet.end))
        with pytest.raises(PrometheusUnavailable, match="timed out on the server"):
            run_fleet(PromClient(prom.url), req, load_rules([]))


def test_the_servers_own_11000_point_refusal(fleet: Fleet) -> None:
    # past the client's own check (which refuses before asking), to pin the server's words
    client = PromClient(fleet.url)
    with pytest.raises(PrometheusTooManyPoints, match="11,000"):
        client._post("query_range", {"query": "node_memory_MemTotal_bytes", "start": str(fleet.end - RANGE),
                                     "end": str(fleet.end), "step": "30"}, what="raw 30 s")
