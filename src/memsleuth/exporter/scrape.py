"""One capture shared by concurrent scrapes, each source in a worker with a deadline.

A scrape within ``min_interval`` seconds of the last capture reuses it: the
lock makes N parallel scrapes wait for one capture instead of running N
(Prometheus HA pairs, a dashboard and ``curl`` at once).  Each source runs in
its own daemon thread; what is not done by ``timeout`` is reported as
``scrape_success 0`` and left to finish in the background, and the next
capture waits for that same read instead of starting another, so a hung
``/proc`` file costs one thread, not one per scrape.  Daemon threads do not
hold up the exit on SIGTERM.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from memsleuth.exporter.readings import Sample

Read = Callable[[], Sequence[Sample]]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceResult:
    name: str
    ok: bool
    seconds: float
    samples: tuple[Sample, ...] = ()
    error: str | None = None


class _Job:
    """One run of a source in a daemon thread."""

    def __init__(self, name: str, read: Read, clock: Callable[[], float]) -> None:
        self.name = name
        self.done = threading.Event()
        self.result: SourceResult | None = None
        self._read = read
        self._clock = clock
        self.started = clock()
        threading.Thread(target=self._run, name=f"memsleuth-source-{name}", daemon=True).start()

    def _run(self) -> None:
        try:
            samples = tuple(self._read())
            self.result = SourceResult(name=self.name, ok=True, seconds=self._clock() - self.started,
                                       samples=samples)
        except Exception as exc:  # a source that fails is a 0 in scrape_success, not a failed scrape
            self.result = SourceResult(name=self.name, ok=False, seconds=self._clock() - self.started,
                                       error=f"{exc.__class__.__name__}: {exc}")
        finally:
            self.done.set()


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    """The result of one capture: every source's samples or why it has none."""

    #: monotonic time the capture finished
    at: float
    results: tuple[SourceResult, ...]


class Scraper:
    def __init__(self, sources: Mapping[str, Read], *, min_interval: float = 1.0, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[str], object] = lambda msg: None) -> None:
        self._sources = dict(sources)
        self._min_interval = min_interval
        self._timeout = timeout
        self._clock = clock
        self._on_error = on_error
        self._lock = threading.Lock()
        self._last: Capture | None = None
        self._jobs: dict[str, _Job] = {}
        #: sources whose last read failed (a failure is logged when it starts, not every scrape)
        self._failing: set[str] = set()
        #: how many captures ran (not how many scrapes asked): tests count them
        self.captures = 0

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._sources)

    def capture(self) -> Capture:
        """The last capture if it is fresh, else a new one (one at a time)."""
        with self._lock:
            last = self._last
            if last is not None and self._clock() - last.at < self._min_interval:
                return last
            self.captures += 1
            start = self._clock()
            jobs = []
            for name, read in self._sources.items():
                job = self._jobs.get(name)
                if job is None or job.done.is_set():
                    job = self._jobs[name] = _Job(name, read, self._clock)
                jobs.append(job)
            results = []
            for job in jobs:
                job.done.wait(max(0.0, self._timeout - (self._clock() - start)))
                got = job.result
                if got is None:
                    got = SourceResult(name=job.name, ok=False, seconds=self._clock() - job.started,
                                       error=f"timed out after {self._timeout:g} s (--scrape-timeout)")
                if not got.ok and job.name not in self._failing:
                    self._on_error(f"source {job.name}: {got.error}")
                (self._failing.add if not got.ok else self._failing.discard)(job.name)
                results.append(got)
            self._last = Capture(at=self._clock(), results=tuple(results))
            return self._last


__all__ = ["Capture", "Read", "Scraper", "SourceResult"]
