"""The Prometheus client's failure paths against a tiny HTTP stub on 127.0.0.1 (400, 401, 422, 503,
a client timeout, nothing listening, the 11,000-point limit), the step choice and the batching,
and the command's one-line errors with exit status 2."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from memsleuth.cli.main import main
from memsleuth.errors import (
    FleetError,
    PrometheusAuth,
    PrometheusBadQuery,
    PrometheusTimeout,
    PrometheusTooManyPoints,
    PrometheusTooManySamples,
    PrometheusUnavailable,
    PrometheusUnreachable,
    UsageError,
)
from memsleuth.fleet.client import MAX_POINTS_PER_SERIES, Credentials, PromClient, redact
from memsleuth.fleet.plan import (
    choose_step,
    fetch_selector,
    hosts_per_batch,
    match_inner,
    plan_batches,
    sample_estimate,
)
from tests.prom import free_port

#: what Prometheus 2.42 answers (bodies as its API writes them)
ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    "bad": (400, {"status": "error", "errorType": "bad_data",
                  "error": "1:6: parse error: unexpected \"}\" in label matching"}),
    "points": (400, {"status": "error", "errorType": "bad_data",
                     "error": "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
                              "the query resolution (?step=XX)"}),
    "samples": (422, {"status": "error", "errorType": "execution",
                      "error": "query processing would load too many samples into memory in query "
                               "execution"}),
    "timeout": (503, {"status": "error", "errorType": "timeout",
                      "error": "query timed out in expression evaluation"}),
    "auth": (401, {}),
    "ok": (200, {"status": "success", "data": {"resultType": "vector", "result": []}}),
}


class Stub:
    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.seen: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                stub.seen.append({"path": self.path, "body": self.rfile.read(length).decode(),
                                  "authorization": self.headers.get("Authorization", "")})
                time.sleep(stub.delay)
                code, body = ANSWERS[stub.mode]
                raw = json.dumps(body).encode() if body else b"Unauthorized\n"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    t = threading.Thread(target=s.server.serve_forever, daemon=True)
    t.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.mark.parametrize(("mode", "error", "words"), [
    ("bad", PrometheusBadQuery, "400 bad query"),
    ("points", PrometheusTooManyPoints, "11,000 points"),
    ("samples", PrometheusTooManySamples, "--query.max-samples"),
    ("timeout", PrometheusUnavailable, "--query.timeout"),
    ("auth", PrometheusAuth, "credentials refused"),
])
def test_each_error_answer_is_its_own_one_line_error(stub: Stub, mode: str, error: type[FleetError],
                                                     words: str) -> None:
    stub.mode = mode
    with pytest.raises(error) as exc:
        PromClient(stub.url, timeout=5).query("up", time=1e9)
    msg = str(exc.value)
    assert words in msg and "\n" not in msg and stub.url in msg


def test_a_slow_server_is_a_client_timeout(stub: Stub) -> None:
    stub.delay = 1.5
    with pytest.raises(PrometheusTimeout, match=r"--timeout 0\.3 s"):
        PromClient(stub.url, timeout=0.3).query("up", time=1e9)


def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(PrometheusUnreachable) as exc:
        PromClient(f"http://u:secret@127.0.0.1:{free_port()}", timeout=2).query("up", time=1e9)
    assert "secret" not in str(exc.value) and "\n" not in str(exc.value)


def test_credentials_are_sent_and_never_shown(stub: Stub) -> None:
    PromClient(stub.url, credentials=Credentials(bearer="t0ken")).query("up", time=1e9)
    assert stub.seen[-1]["authorization"] == "Bearer t0ken"
    PromClient(stub.url, credentials=Credentials(basic=("ann", "pw"))).query("up", time=1e9)
    assert stub.seen[-1]["authorization"].startswith("Basic ")
    assert "pw" not in repr(Credentials(basic=("ann", "pw")))
    assert redact("https://ann:pw@prom.example:9090/p") == "https://prom.example:9090/p"


def test_the_step_keeps_every_series_under_11000_points_and_at_least_60_s() -> None:
    for days in (0.5, 1, 7, 7.64, 8, 30, 90, 365):
        r = days * 86400
        step = choose_step(r)
        assert step >= 60
        assert int(r // step) + 1 <= MAX_POINTS_PER_SERIES
    assert choose_step(7 * 86400) == 152  # 3,980 points: what the detector uses, not 10,081
    assert choose_step(30 * 86400) == 648
    assert choose_step(3 * 3600) == 60  # short ranges stay at a minute
    assert choose_step(86400, interval_s=300) == 300  # never finer than the scrapes


def test_a_range_query_over_11000_points_is_refused_before_asking(stub: Stub) -> None:
    client = PromClient(stub.url)
    with pytest.raises(PrometheusTooManyPoints, match="at least 55 s"):
        client.query_range("up", start=0, end=7 * 86400, step=30)
    assert stub.seen == []


def test_batches_fit_the_sample_budget() -> None:
    hosts = {f"web{i:04d}.x:9100": {"cluster": f"c{i % 2}"} for i in range(5000)}
    per = hosts_per_batch(7 * 86400, 60, 50_000_000)
    assert sample_estimate(per, 7 * 86400, 60) <= 25_000_000 < sample_estimate(per + 1, 7 * 86400, 60)
    batches = plan_batches(hosts, inner='job="node"', group_by="cluster", per_batch=per)
    assert sum(b.hosts for b in batches) == 5000 and all(b.hosts <= per for b in batches)
    assert {b.group for b in batches} == {"c0", "c1"}
    assert all('cluster="c' in b.inner and 'job="node"' in b.inner for b in batches)
    split = [b for b in batches if "instance=~" in b.inner]
    # the dot escaped for the regex, the backslash for the PromQL string
    assert split and r"web0000\\.x:9100|" in split[0].inner
    whole = plan_batches(dict(list(hosts.items())[:100]), inner="", group_by=None, per_batch=per)
    assert [b.inner for b in whole] == [""]


def test_match_and_fetch_selector() -> None:
    assert match_inner('{job="node",cluster="lb-bj"}') == 'job="node",cluster="lb-bj"'
    assert match_inner(None) == "" and match_inner("{}") == ""
    with pytest.raises(UsageError):
        match_inner('job="node"')
    sel = fetch_selector('job="node"', "lb1:9100")
    assert sel.startswith('{__name__=~"node_memory_(') and sel.endswith('job="node",instance="lb1:9100"}')


def test_the_command_prints_one_line_and_exits_2(stub: Stub, capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    stub.mode = "samples"
    secret = tmp_path / "auth"
    secret.write_text("ann:hunter2\n")
    assert main(["fleet", "--prometheus", stub.url, "--basic-auth-file", str(secret), "--end", "1e9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("memsleuth: error: ") and "\n" not in err and "422" in err
    assert "hunter2" not in err
    assert main(["fleet", "--prometheus", stub.url, "--match", "job=node"]) == 2
    assert "--match" in capsys.readouterr().err
