"""``/proc/net/sockstat`` and ``/proc/net/sockstat6``: socket counts and memory.

Each line is ``PROTO: key value [key value ...]`` (net/ipv4/proc.c
``sockstat_seq_show``, net/ipv6/proc.c ``sockstat6_seq_show``)::

    sockets: used 13
    TCP: inuse 1 orphan 0 tw 2 alloc 1 mem 10
    UDP: inuse 0 mem 0
    UDPLITE: inuse 0
    RAW: inuse 0
    FRAG: inuse 0 memory 0

``sockstat6`` has ``TCP6``, ``UDP6``, ``UDPLITE6``, ``RAW6`` (``inuse``
only) and ``FRAG6`` (``inuse``, ``memory``).

Units: counts, except ``TCP mem`` and ``UDP mem``, which are *pages*
(``tcp_memory_allocated``, compared against the ``net.ipv4.tcp_mem``
thresholds, also in pages), and ``FRAG memory``, which is *bytes*.  We keep
pages as ``_pages`` (the page size is the host's) and bytes as ``_bytes``.

Traps:

* ``TCP mem`` is socket buffer memory, not slab.  Past ``tcp_mem[2]`` TCP
  allocations fail and the kernel logs "TCP: out of memory -- consider
  tuning tcp_mem".
* Scope differs by field: ``inuse`` (and ``sockets: used``) count the
  reader's network namespace, while TCP ``orphan``, ``alloc`` and the
  ``mem`` fields are global counters.  Inside a container the ``inuse``
  figures are the container's and ``mem`` is the host's.
* ``alloc`` counts TCP sockets allocated (any state); ``tw`` TIME-WAIT
  minisockets, which are not in ``alloc``; ``orphan`` sockets no longer
  attached to a file, capped by ``net.ipv4.tcp_max_orphans``.
* ``FRAG`` is the IP reassembly queue; its ``memory`` is capped by
  ``net.ipv4.ipfrag_high_thresh``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/net/sockstat"
SOURCE6 = "proc/net/sockstat6"

#: (protocol, key) -> record field, for /proc/net/sockstat.
FIELDS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("sockets", "used"): "sockets_used",
        ("TCP", "inuse"): "tcp_inuse",
        ("TCP", "orphan"): "tcp_orphan",
        ("TCP", "tw"): "tcp_tw",
        ("TCP", "alloc"): "tcp_alloc",
        ("TCP", "mem"): "tcp_mem_pages",
        ("UDP", "inuse"): "udp_inuse",
        ("UDP", "mem"): "udp_mem_pages",
        ("UDPLITE", "inuse"): "udplite_inuse",
        ("RAW", "inuse"): "raw_inuse",
        ("FRAG", "inuse"): "frag_inuse",
        ("FRAG", "memory"): "frag_memory_bytes",
    }
)

#: The same for /proc/net/sockstat6, whose protocols end in ``6``.
FIELDS6: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("TCP6", "inuse"): "tcp_inuse",
        ("UDP6", "inuse"): "udp_inuse",
        ("UDPLITE6", "inuse"): "udplite_inuse",
        ("RAW6", "inuse"): "raw_inuse",
        ("FRAG6", "inuse"): "frag_inuse",
        ("FRAG6", "memory"): "frag_memory_bytes",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sockstat:
    """One reading of /proc/net/sockstat or sockstat6.

    For sockstat6 the typed fields hold the IPv6 protocols' values
    (``tcp_inuse`` is ``TCP6 inuse``); fields the file does not print are
    ``None``.
    """

    sockets_used: int | None = None
    tcp_inuse: int | None = None
    tcp_orphan: int | None = None
    tcp_tw: int | None = None
    tcp_alloc: int | None = None
    tcp_mem_pages: int | None = None
    udp_inuse: int | None = None
    udp_mem_pages: int | None = None
    udplite_inuse: int | None = None
    raw_inuse: int | None = None
    frag_inuse: int | None = None
    frag_memory_bytes: int | None = None
    #: protocol as printed (``TCP``, ``FRAG6``, ``sockets``) -> {key: value},
    #: every line, so a protocol or key we do not type is never lost.
    protocols: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


def _parse(text: str, source: str, table: Mapping[tuple[str, str], str]) -> Sockstat:
    protocols: dict[str, Mapping[str, int]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        proto, sep, rest = line.partition(":")
        proto = proto.strip()
        parts = rest.split()
        if not sep or not proto or not parts or len(parts) % 2 or proto in protocols:
            raise ParseError(source, f"expected 'PROTO: key value ...': {line!r}")
        values: dict[str, int] = {}
        for key, value in zip(parts[::2], parts[1::2], strict=True):
            try:
                values[key] = int(value)
            except ValueError:
                raise ParseError(source, f"value of {key} is not an integer: {line!r}") from None
        protocols[proto] = MappingProxyType(values)
    if not protocols:
        raise ParseError(source, "empty file")
    kwargs = {
        name: protocols[proto][key]
        for (proto, key), name in table.items()
        if proto in protocols and key in protocols[proto]
    }
    return Sockstat(protocols=MappingProxyType(protocols), **kwargs)


def parse_sockstat(text: str, *, source: str = SOURCE) -> Sockstat:
    """Parse the text of /proc/net/sockstat."""
    return _parse(text, source, FIELDS)


def parse_sockstat6(text: str, *, source: str = SOURCE6) -> Sockstat:
    """Parse the text of /proc/net/sockstat6."""
    return _parse(text, source, FIELDS6)
