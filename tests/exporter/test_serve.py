"""The exporter as a process: a real Prometheus scrapes it on loopback; it listens on 127.0.0.1
only by default; SIGTERM and SIGINT stop it with exit status 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from memsleuth import metrics
from tests.exporter.conftest import Roots, exporter_process
from tests.prom import PromServer, require_binaries

#: MemTotal of tests/fixtures/hosts/centos6-founding (65922868 kB)
CENTOS6_MEM_TOTAL = 65922868 * 1024


def _listening(pid: int) -> list[tuple[str, int]]:
    return sorted((c.laddr.ip, c.laddr.port) for c in psutil.Process(pid).net_connections(kind="inet")
                  if c.status == psutil.CONN_LISTEN)


def test_prometheus_scrapes_the_exporter(exporter_roots: Roots, tmp_path: Path) -> None:
    require_binaries()
    with exporter_process("--root", "centos6", "--listen", "127.0.0.1:0", cwd=exporter_roots.top) as ex:
        target = urllib.parse.urlsplit(ex.url).netloc
        config = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                  f"  - job_name: memsleuth\n    static_configs:\n      - targets: ['{target}']\n")
        with PromServer(tmp_path / "prom", config=config) as prom:
            deadline = time.monotonic() + 30
            result: list[dict[str, object]] = []
            while time.monotonic() < deadline and not result:
                result = prom.query(metrics.MEMORY_TOTAL.name)["result"]
                if not result:
                    time.sleep(0.25)
            assert result, "Prometheus stored no memsleuth sample in 30 s"
            assert float(result[0]["value"][1]) == CENTOS6_MEM_TOTAL  # type: ignore[index]
            assert result[0]["metric"]["job"] == "memsleuth"  # type: ignore[index]
            ok = prom.query(f'{metrics.SCRAPE_SUCCESS.name}{{source="meminfo"}}')["result"]
            assert ok and float(ok[0]["value"][1]) == 1.0
            assert float(prom.query('up{job="memsleuth"}')["result"][0]["value"][1]) == 1.0
        assert ex.stop(signal.SIGTERM) == 0


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_default_listen_is_loopback_only_and_sigint_exits_0(exporter_roots: Roots) -> None:
    if not _port_free(9847):
        pytest.skip("port 9847 (the default) is in use on this machine")
    with exporter_process("--root", "centos6", cwd=exporter_roots.top) as ex:
        assert ex.url == "http://127.0.0.1:9847/metrics"
        assert _listening(ex.proc.pid) == [("127.0.0.1", 9847)]
        assert ex.stop(signal.SIGINT) == 0


def test_sigterm_exits_0_and_stops_listening(exporter_roots: Roots) -> None:
    with exporter_process("--root", "centos6", "--listen", "127.0.0.1:0", cwd=exporter_roots.top) as ex:
        port = urllib.parse.urlsplit(ex.url).port
        listening = _listening(ex.proc.pid)
        assert listening == [("127.0.0.1", port)]
        with urllib.request.urlopen(ex.url, timeout=10) as r:
            assert r.status == 200
        assert ex.stop(signal.SIGTERM) == 0
        assert port is not None
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def test_textfile_every_interval_until_sigterm(exporter_roots: Roots, tmp_path: Path) -> None:
    """``--textfile PATH --interval``: rewritten in place while it runs, exit 0 on SIGTERM."""
    out = tmp_path / "memsleuth.prom"
    proc = subprocess.Popen([sys.executable, "-m", "memsleuth", "--root", "centos6", "exporter", "--textfile",
                             str(out), "--interval", "0.2", "--min-interval", "0"], cwd=exporter_roots.top,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        inodes: set[int] = set()
        deadline = time.monotonic() + 20
        while len(inodes) < 3 and time.monotonic() < deadline:
            if out.exists():
                inodes.add(out.stat().st_ino)  # each write is a new file renamed over the old
                assert out.read_text().endswith("\n")
            time.sleep(0.05)
        assert len(inodes) >= 3, "the textfile was not rewritten"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert proc.stderr is not None and "writing" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert [p.name for p in tmp_path.iterdir()] == ["memsleuth.prom"]


def test_a_textfile_in_a_missing_directory_is_a_usage_error(exporter_roots: Roots, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "memsleuth", "exporter", "--once", "--textfile",
                        str(tmp_path / "no" / "x.prom")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no such directory" in r.stderr


def test_cli_web_config_file(exporter_roots: Roots, tmp_path: Path) -> None:
    """--web.config.file through the command: https, 200 with the password, 401 without."""
    import base64
    import ssl
    import urllib.error

    from tests.exporter.test_web import PASSWORD, USER, _hash, self_signed

    cert, key = self_signed(tmp_path)
    conf = tmp_path / "web.yml"
    conf.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
                    f"basic_auth_users:\n  {USER}: '{_hash(PASSWORD)}'\n")
    with exporter_process("--root", "centos6", "--listen", "127.0.0.1:0", "--web.config.file", str(conf),
                          cwd=exporter_roots.top) as ex:
        assert ex.url.startswith("https://127.0.0.1:")
        ctx = ssl.create_default_context(cafile=str(cert))
        req = urllib.request.Request(ex.url, headers={
            "Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            assert r.status == 200 and metrics.MEMORY_TOTAL.name.encode() in r.read()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(ex.url, timeout=10, context=ctx)
        assert err.value.code == 401
        assert ex.stop() == 0
