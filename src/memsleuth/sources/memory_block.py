"""``/sys/devices/system/memory``: hot-pluggable memory blocks, and their NUMA node.

Physical memory is cut into blocks of ``block_size_bytes`` (printed in
*hexadecimal*, without ``0x``: ``8000000`` is 128 MiB on x86-64).  Block
``memoryM`` covers PFNs ``[M * block_pages, (M + 1) * block_pages)`` where
``block_pages = block_size_bytes // page_size``.  Each
``/sys/devices/system/node/nodeN/`` holds a ``memoryM`` link per block that
node owns, which is how a PFN is tied to a node.

Traps: a block may be offline (``memoryM/state``), and holes in physical
memory have no block at all: such a PFN has no node.
"""

from __future__ import annotations

from memsleuth.errors import ParseError

SOURCE = "sys/devices/system/memory/block_size_bytes"


def parse_block_size_bytes(text: str) -> int:
    """``block_size_bytes`` is hexadecimal without a prefix."""
    value = text.strip()
    try:
        size = int(value, 16)
    except ValueError:
        raise ParseError(SOURCE, f"not a hexadecimal size: {value!r}") from None
    if size <= 0:
        raise ParseError(SOURCE, f"non-positive block size: {value!r}")
    return size


def node_index(name: str) -> int | None:
    """``node1`` -> 1; ``online``, ``possible`` ... -> ``None``."""
    if name.startswith("node") and name[4:].isdigit():
        return int(name[4:])
    return None
