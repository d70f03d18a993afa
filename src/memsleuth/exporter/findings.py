"""The latest diagnosis as samples: findings, projections and matched rules, cached.

A diagnosis reads hours of history (``run_diagnosis`` over the store), far
more than a scrape may take, so it runs in a background thread at most once
per interval and a scrape reads the samples it left.  Only the samples are
kept: the :class:`~memsleuth.knowledge.report.DiagnosisReport` (with its
whole History) is dropped once converted, so the exporter does not hold
hours of series between diagnoses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from memsleuth import metrics
from memsleuth.exporter.readings import Sample, sample
from memsleuth.knowledge.report import DiagnosisReport

#: the projection the hours-to-90% family carries
THRESHOLD = "90%"


def report_samples(report: DiagnosisReport) -> list[Sample]:
    """The families of one diagnosis: a finding per subject (rate, hours to 90%, confidence), each
    matched rule (1 and its confidence), how many findings and samples."""
    out = [sample(metrics.DIAGNOSIS_SAMPLES, report.coverage.samples)]
    if report.insufficient is None:
        out.append(sample(metrics.DIAGNOSIS_FINDINGS, len(report.findings)))
    for f in report.findings:
        labels = {"series": f.series_key, "subject": f.subject, "class": f.growth_class.value}
        out.append(sample(metrics.FINDING_RATE, f.rate_per_hour, **labels))
        for p in f.projections:
            if p.threshold == THRESHOLD and p.hours is not None:
                out.append(sample(metrics.FINDING_SECONDS_TO_90, p.hours * 3600.0, basis=p.basis, **labels))
        out.append(sample(metrics.FINDING_CONFIDENCE, f.confidence, **labels))
    for d in report.diagnoses:
        labels = {"rule": d.rule.id, "class": d.rule.rule_class}
        out.append(sample(metrics.SIGNATURE_MATCH, 1, **labels))
        out.append(sample(metrics.SIGNATURE_CONFIDENCE, d.confidence, **labels))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisState:
    """What the last diagnosis left for the scrapes."""

    ok: bool
    samples: tuple[Sample, ...] = ()
    #: how long it took (seconds)
    seconds: float = 0.0
    #: why there are no findings (no store, the store could not be read ...)
    error: str | None = None
    #: monotonic time it finished
    finished_at: float = 0.0


class DiagnosisCache:
    """Runs ``compute`` in a background thread when the cached result is older than ``interval``
    (and a scrape asks), never two at once.  ``compute`` is ``None`` when there is nothing to
    diagnose (no store): every scrape then gets ``absent``'s reason."""

    def __init__(self, compute: Callable[[], DiagnosisReport] | None, *, interval: float,
                 absent: str = "no history to diagnose",
                 on_error: Callable[[str], object] = lambda msg: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._compute = compute
        self._interval = interval
        self._absent = DiagnosisState(ok=False, error=absent)
        self._on_error = on_error
        self._clock = clock
        self._lock = threading.Lock()
        self._state: DiagnosisState | None = None
        self._running: threading.Thread | None = None
        self._first = threading.Event()
        #: how many diagnoses ran (tests count them)
        self.runs = 0

    @property
    def enabled(self) -> bool:
        return self._compute is not None

    def run_now(self) -> DiagnosisState:
        """Diagnose in the caller's thread (textfile ``--once``) and cache the result."""
        if self._compute is None:
            return self._absent
        state = self._run(self._compute)
        with self._lock:
            self._state = state
        self._first.set()
        return state

    def latest(self, wait: float = 0.0) -> DiagnosisState:
        """The cached result (starting a refresh if it is stale); before the first one is ready,
        wait up to ``wait`` seconds for it."""
        if self._compute is None:
            return self._absent
        self.refresh()
        if not self._first.is_set() and wait > 0:
            self._first.wait(wait)
        with self._lock:
            state = self._state
        if state is None:
            return DiagnosisState(ok=False, error="the first diagnosis is still running")
        return state

    def refresh(self) -> None:
        """Start a diagnosis in the background if none runs and the cached one is stale."""
        compute = self._compute
        if compute is None:
            return
        with self._lock:
            if self._running is not None and self._running.is_alive():
                return
            if self._state is not None and self._clock() - self._state.finished_at < self._interval:
                return
            self._running = threading.Thread(target=self._background, args=(compute,),
                                             name="memsleuth-diagnosis", daemon=True)
            self._running.start()

    def _background(self, compute: Callable[[], DiagnosisReport]) -> None:
        state = self._run(compute)
        with self._lock:
            self._state = state
        self._first.set()

    def _run(self, compute: Callable[[], DiagnosisReport]) -> DiagnosisState:
        self.runs += 1
        start = self._clock()
        try:
            samples = tuple(report_samples(compute()))
        except Exception as exc:  # a failed diagnosis is a 0 in scrape_success, never a dead exporter
            msg = f"diagnosis failed: {exc}"
            self._on_error(msg)
            return DiagnosisState(ok=False, error=msg, seconds=self._clock() - start,
                                  finished_at=self._clock())
        end = self._clock()
        return DiagnosisState(ok=True, samples=samples, seconds=end - start, finished_at=end)


__all__ = ["THRESHOLD", "DiagnosisCache", "DiagnosisState", "report_samples"]
