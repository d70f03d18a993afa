"""Concurrent scrapes share one capture, a slow source cannot hang a scrape, and the diagnosis is
recomputed at most once per interval."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from memsleuth import metrics
from memsleuth.exporter.app import ExporterOptions, build, sources
from memsleuth.exporter.collector import MemsleuthCollector, registry_for
from memsleuth.exporter.findings import DiagnosisCache
from memsleuth.exporter.readings import Sample, sample
from memsleuth.exporter.scrape import Read, Scraper
from memsleuth.exporter.web import ExporterServer
from memsleuth.host import Host
from tests.exporter.conftest import Roots
from tests.exporter.test_golden import parse


class Counted:
    """A source that counts its reads (and can be made slow, or to hang until released)."""

    def __init__(self, read: Read, delay: float = 0.0, hang: threading.Event | None = None) -> None:
        self.read = read
        self.delay = delay
        self.hang = hang
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> Sequence[Sample]:
        with self._lock:
            self.calls += 1
        if self.hang is not None:
            self.hang.wait(30)
        time.sleep(self.delay)
        return self.read()


def _total() -> list[Sample]:
    return [sample(metrics.MEMORY_TOTAL, 1 << 30)]


def test_parallel_scrapes_share_one_capture() -> None:
    read = Counted(_total, delay=0.2)
    scraper = Scraper({"meminfo": read}, min_interval=5.0, timeout=5.0)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: scraper.capture(), range(8)))
    assert scraper.captures == 1 and read.calls == 1
    assert all(c is got[0] for c in got)


def test_a_scrape_after_min_interval_captures_again() -> None:
    now = [100.0]
    read = Counted(_total)
    scraper = Scraper({"meminfo": read}, min_interval=1.0, timeout=5.0, clock=lambda: now[0])
    scraper.capture()
    now[0] += 0.5
    scraper.capture()
    assert read.calls == 1
    now[0] += 1.0
    scraper.capture()
    assert read.calls == 2


def test_n_http_scrapes_cost_one_capture(exporter_roots: Roots) -> None:
    """Eight scrapes at once over HTTP: one capture of each source, the same body for all."""
    counted: dict[str, Counted] = {}

    def counting(host: Host, options: ExporterOptions) -> dict[str, Read]:
        for name, read in sources(host, options).items():
            counted[name] = Counted(read, delay=0.1)
        return dict(counted)

    collector = build(Host.open(str(exporter_roots.top / "centos6")), ExporterOptions(slab=True,
                      min_interval=5.0), read=counting)
    server = ExporterServer(registry_for(collector), listen="127.0.0.1:0")
    server.start()
    try:
        def get(_: int) -> bytes:
            with urllib.request.urlopen(server.url, timeout=10) as r:
                assert r.status == 200
                return bytes(r.read())

        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(get, range(8)))
        elapsed = time.monotonic() - t0
    finally:
        server.stop()
    assert collector.scraper.captures == 1
    assert {name: c.calls for name, c in counted.items()} == {"meminfo": 1, "dentry": 1, "slab": 1}
    assert len(set(bodies)) == 1 and metrics.MEMORY_TOTAL.name.encode() in bodies[0]
    assert elapsed < 3.0  # one 0.1 s capture (sources in parallel), not eight in a row


def test_a_hung_source_times_out_and_the_rest_is_returned() -> None:
    release = threading.Event()
    hung = Counted(_total, hang=release)
    fast = Counted(lambda: [sample(metrics.DENTRIES, 5, state="total", inferred="false")])
    scraper = Scraper({"meminfo": hung, "dentry": fast}, min_interval=0.0, timeout=0.5)
    collector = MemsleuthCollector(scraper, DiagnosisCache(None, interval=300))
    try:
        t0 = time.monotonic()
        samples = parse(_exposition(collector))
        assert time.monotonic() - t0 < 2.0
        success = {lab["source"]: v for lab, v in samples[metrics.SCRAPE_SUCCESS.name]}
        assert success == {"meminfo": 0, "dentry": 1, "diagnosis": 0}
        durations = {lab["source"] for lab, _ in samples[metrics.SCRAPE_DURATION.name]}
        assert durations == {"dentry"}  # a failed source has no duration, not a made-up one
        assert metrics.MEMORY_TOTAL.name not in samples and metrics.DENTRIES.name in samples
        # the next scrape waits for the same hung read instead of starting another
        parse(_exposition(collector))
        assert hung.calls == 1 and fast.calls == 2
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        samples = parse(_exposition(collector))
        if {lab["source"]: v for lab, v in samples[metrics.SCRAPE_SUCCESS.name]}["meminfo"] == 1:
            break
        time.sleep(0.05)
    assert samples[metrics.MEMORY_TOTAL.name] == [({}, float(1 << 30))]


def test_a_failing_source_is_a_zero_in_scrape_success() -> None:
    def broken() -> list[Sample]:
        raise OSError("EIO")

    logged: list[str] = []
    scraper = Scraper({"meminfo": broken, "dentry": _total}, min_interval=0.0, on_error=logged.append)
    collector = MemsleuthCollector(scraper, DiagnosisCache(None, interval=300))
    for _ in range(3):
        samples = parse(_exposition(collector))
    success = {lab["source"]: v for lab, v in samples[metrics.SCRAPE_SUCCESS.name]}
    assert success["meminfo"] == 0 and success["dentry"] == 1
    assert logged == ["source meminfo: OSError: EIO"]  # once when it starts failing, not per scrape


def test_the_diagnosis_runs_at_most_once_per_interval() -> None:
    from memsleuth.knowledge.report import DiagnosisReport

    now = [0.0]
    runs: list[float] = []
    gate = threading.Event()

    def compute() -> DiagnosisReport:
        runs.append(now[0])
        gate.wait(10)
        raise RuntimeError("no store in this test")

    cache = DiagnosisCache(compute, interval=300, clock=lambda: now[0])
    first = cache.latest()
    assert not first.ok and "still running" in (first.error or "")
    for _ in range(5):
        cache.latest()  # one runs: no second starts
    gate.set()
    assert cache.latest(wait=5).error == "diagnosis failed: no store in this test"
    now[0] += 299
    cache.latest()
    assert len(runs) == 1
    now[0] += 2
    cache.latest()
    deadline = time.monotonic() + 5
    while len(runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runs == [0.0, 301.0]


def _exposition(collector: MemsleuthCollector) -> str:
    from memsleuth.exporter.collector import exposition

    return exposition(registry_for(collector))[0].decode()
