"""``memsleuth exporter``: the metric table (:mod:`memsleuth.metrics`) served to Prometheus.

* :mod:`.readings` - what each source reads (meminfo/accounting, dentry,
  slab, processes), as samples of a :class:`~memsleuth.metrics.MetricSpec`;
* :mod:`.findings` - a :class:`~memsleuth.knowledge.report.DiagnosisReport`
  as samples, recomputed in the background and cached;
* :mod:`.scrape` - one capture shared by concurrent scrapes, each source in a
  worker with a deadline;
* :mod:`.collector` - the custom collector on its own registry, and the
  exposition text;
* :mod:`.web` - node_exporter's web config file (TLS, basic auth) and the
  HTTP server; :mod:`.textfile` - the atomic file for node_exporter's
  textfile collector.
"""

from __future__ import annotations
