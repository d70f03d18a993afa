"""The embedded store: raw snapshots over time plus extracted numeric series.

:class:`~memsleuth.store.writer.Store` writes (``memsleuth record``);
:class:`~memsleuth.store.reader.StoreReader` reads.  The file format and its
version live in :mod:`memsleuth.store.format`; :mod:`memsleuth.store.compat`
is the only module that knows older versions.
"""

from __future__ import annotations

from memsleuth.store.format import SCHEMA_VERSION
from memsleuth.store.reader import SampleInfo, StoreReader
from memsleuth.store.writer import Retention, Store

__all__ = ["SCHEMA_VERSION", "Retention", "SampleInfo", "Store", "StoreReader"]
