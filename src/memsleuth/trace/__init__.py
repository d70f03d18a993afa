"""tracefs sessions with guaranteed cleanup: who allocates a slab cache, who fails lookups.

* :mod:`memsleuth.trace.tracefs` - the session: mount, private instance,
  journal of every control-file write, restore on exit and on SIGINT/SIGTERM,
  repair after ``kill -9``;
* :mod:`memsleuth.trace.aggregate` - pure: trace_pipe lines -> counts per
  process, command and parent;
* :mod:`memsleuth.trace.run` - the two traces (``slab CACHE``, ``lookups``).

Tracing is live-only and root-only; nothing here runs unless ``memsleuth
trace`` is asked for.
"""

from __future__ import annotations
