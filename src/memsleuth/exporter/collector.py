"""The custom collector, on its own registry (never prometheus_client's global ``REGISTRY``).

Each scrape takes the shared capture (:class:`~.scrape.Scraper`) and the
cached diagnosis (:class:`~.findings.DiagnosisCache`) and emits the families
of :data:`memsleuth.metrics.METRICS` that have samples, in the table's order,
with the table's help text and type: a family with no sample is absent, not
a HELP line over nothing.  ``memsleuth_scrape_success{source}`` and
``memsleuth_scrape_duration_seconds{source}`` say which sources were read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from memsleuth import metrics
from memsleuth.exporter.findings import DiagnosisCache
from memsleuth.exporter.readings import Sample, sample
from memsleuth.exporter.scrape import Scraper
from memsleuth.metrics import MetricSpec

#: the name ``scrape_success`` and ``scrape_duration_seconds`` give the diagnosis
DIAGNOSIS_SOURCE = "diagnosis"


def family(spec: MetricSpec, samples: Iterable[Sample]) -> Metric:
    """One family from the table's entry: its name, help, type (and unit where the name ends in it,
    as OpenMetrics wants); a second sample with the same labels is dropped."""
    base = spec.name
    if spec.type == "counter":
        base = base.removesuffix("_total")
    elif spec.type == "info":
        base = base.removesuffix("_info")
    unit = spec.unit if spec.unit and base.endswith(f"_{spec.unit}") else ""
    m = Metric(base, spec.help, spec.type, unit)
    seen: set[tuple[str, ...]] = set()
    for s in samples:
        if s.labels in seen:
            continue
        seen.add(s.labels)
        m.add_sample(spec.name, dict(zip(spec.labels, s.labels, strict=True)), s.value)
    return m


def families(samples: Sequence[Sample]) -> list[Metric]:
    """The families that have samples, in the order of the table."""
    by_spec: dict[str, list[Sample]] = {}
    for s in samples:
        if metrics.BY_NAME.get(s.spec.name) is not s.spec:
            raise ValueError(f"{s.spec.name} is not a family of memsleuth.metrics.METRICS")
        by_spec.setdefault(s.spec.name, []).append(s)
    return [family(spec, by_spec[spec.name]) for spec in metrics.METRICS if spec.name in by_spec]


class MemsleuthCollector(Collector):
    """The latest snapshot and the latest findings, as the table's families."""

    def __init__(self, scraper: Scraper, diagnosis: DiagnosisCache, *, diagnosis_wait: float = 0.0) -> None:
        self.scraper = scraper
        self.diagnosis = diagnosis
        #: how long a scrape (capture included) waits for the first diagnosis; the rest are cached
        self.diagnosis_wait = diagnosis_wait

    def describe(self) -> Iterable[Metric]:
        # registering must not capture: the families depend on what each scrape reads
        return ()

    def samples(self) -> list[Sample]:
        start = time.monotonic()
        captured = self.scraper.capture()
        out: list[Sample] = []
        status: list[Sample] = []
        for r in captured.results:
            out.extend(r.samples)
            status.append(sample(metrics.SCRAPE_SUCCESS, 1 if r.ok else 0, source=r.name))
            if r.ok:
                status.append(sample(metrics.SCRAPE_DURATION, r.seconds, source=r.name))
        diag = self.diagnosis.latest(wait=max(0.0, self.diagnosis_wait - (time.monotonic() - start)))
        out.extend(diag.samples)
        status.append(sample(metrics.SCRAPE_SUCCESS, 1 if diag.ok else 0, source=DIAGNOSIS_SOURCE))
        if diag.ok:
            status.append(sample(metrics.SCRAPE_DURATION, diag.seconds, source=DIAGNOSIS_SOURCE))
        return out + status

    def collect(self) -> Iterator[Metric]:
        yield from families(self.samples())


def registry_for(collector: MemsleuthCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry, accept: str | None = None) -> tuple[bytes, str]:
    """The scrape's body and content type (OpenMetrics when the scraper asks for it)."""
    if accept is None:
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        return generate_latest(registry), CONTENT_TYPE_LATEST
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


__all__ = ["DIAGNOSIS_SOURCE", "MemsleuthCollector", "exposition", "families", "family", "registry_for"]
