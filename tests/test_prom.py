"""The test Prometheus itself: binaries found, loopback only, backfilled data answers, stopped."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.prom import PromServer, backfill, promtool, require_binaries


def test_backfilled_series_are_served_on_loopback_and_the_server_stops(tmp_path: Path) -> None:
    require_binaries()
    om = tmp_path / "in.om"
    t0 = 1_700_000_000
    line = 'node_memory_MemTotal_bytes{{instance="h1",job="node"}} {v} {t}\n'
    om.write_text("# TYPE node_memory_MemTotal_bytes gauge\n"
                  + "".join(line.format(v=1e9 + i, t=t0 + 60 * i) for i in range(120)) + "# EOF\n")
    backfill([om], tmp_path / "data", jobs=1)
    with PromServer(tmp_path / "data") as prom:
        conns = [c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == prom.port
                 and c.status == psutil.CONN_LISTEN]
        assert conns and all(c.laddr.ip == "127.0.0.1" for c in conns)
        data = prom.query("node_memory_MemTotal_bytes", time=str(t0 + 60 * 119))
        (r,) = data["result"]
        assert r["metric"]["instance"] == "h1" and float(r["value"][1]) == 1e9 + 119
        pid = prom._proc.pid if prom._proc else None
    assert pid is not None and not psutil.pid_exists(pid)  # stopped and reaped


def test_promtool_runs() -> None:
    r = promtool("--version")
    if r.returncode != 0:
        pytest.fail(r.stderr)
    assert "promtool" in (r.stdout + r.stderr)
