"""The exporter put together from its options: sources, the diagnosis, the collector."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from memsleuth.collect.diagnosis import SourceRequest, open_source
from memsleuth.collect.rules import load_rules
from memsleuth.exporter.collector import MemsleuthCollector
from memsleuth.exporter.findings import DiagnosisCache
from memsleuth.exporter.readings import MemoryReader, read_dentry, read_processes, read_slab
from memsleuth.exporter.scrape import Read, Scraper
from memsleuth.host import Host
from memsleuth.knowledge.report import DiagnosisOptions, DiagnosisReport, run_diagnosis


@dataclass(frozen=True, slots=True, kw_only=True)
class ExporterOptions:
    #: publish memsleuth_slab_cache_bytes, for the caches the globs select
    slab: bool = False
    slab_include: Sequence[str] = ()
    slab_exclude: Sequence[str] = ()
    #: publish the top N processes by PSS (0: none)
    top: int = 0
    #: the store to diagnose (``None``: no findings), or a series of roots instead
    db: str | None = None
    history_roots: Sequence[str] = field(default_factory=tuple)
    #: seconds of store history a diagnosis reads
    window: float = 6 * 3600.0
    diagnose_interval: float = 300.0
    min_interval: float = 1.0
    scrape_timeout: float = 10.0


def sources(host: Host, options: ExporterOptions) -> dict[str, Read]:
    """Source name (the ``source`` label of scrape_success) -> its read."""
    out: dict[str, Read] = {"meminfo": MemoryReader(host), "dentry": partial(read_dentry, host)}
    if options.slab:
        out["slab"] = partial(read_slab, host, tuple(options.slab_include), tuple(options.slab_exclude))
    if options.top > 0:
        out["processes"] = partial(read_processes, host, options.top)
    return out


def diagnosis_compute(options: ExporterOptions) -> Callable[[], DiagnosisReport] | None:
    """What one diagnosis runs: ``run_diagnosis`` over the store's last ``window`` seconds (or over
    the roots, whole); ``None`` when there is no history to read."""
    if options.history_roots:
        request = SourceRequest(roots=tuple(options.history_roots))
    elif options.db is not None:
        request = SourceRequest(db=options.db, since=("ago", options.window))
    else:
        return None
    rules = load_rules()

    def compute() -> DiagnosisReport:
        return run_diagnosis(open_source(request), DiagnosisOptions(rules=rules))

    return compute


def why_no_diagnosis(options: ExporterOptions, default_db: str | None) -> str:
    return (f"no store at {default_db} (start 'memsleuth record' or give --db PATH): the finding "
            "families are absent" if options.db is None and default_db else
            "no store given (--db PATH): the finding families are absent")


def build(host: Host, options: ExporterOptions, *, default_db: str | None = None,
          log: Callable[[str], object] = lambda msg: None,
          read: Callable[[Host, ExporterOptions], dict[str, Read]] = sources) -> MemsleuthCollector:
    """The collector over ``host``; ``default_db`` is diagnosed when ``options.db`` is not given
    and it exists."""
    if options.db is None and not options.history_roots and default_db and os.path.exists(default_db):
        options = replace(options, db=default_db)
    compute = diagnosis_compute(options)
    diagnosis = DiagnosisCache(compute, interval=options.diagnose_interval,
                               absent=why_no_diagnosis(options, default_db), on_error=log)
    scraper = Scraper(read(host, options), min_interval=options.min_interval,
                      timeout=options.scrape_timeout, on_error=log)
    return MemsleuthCollector(scraper, diagnosis, diagnosis_wait=options.scrape_timeout)


__all__ = ["ExporterOptions", "build", "diagnosis_compute", "sources", "why_no_diagnosis"]
