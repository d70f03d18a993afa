"""``/var/lib/dpkg/status``: what dpkg has installed, one stanza per package.

Not a kernel file: attribution reads it (through
:class:`~memsleuth.host.Host`, so a bundle or a root directory works the
same) to say which version of a library a suspect maps.

The format is deb822 (dpkg(1), deb-control(5)): stanzas separated by blank
lines, each a set of ``Field: value`` lines; a line that starts with a space
or tab continues the field above (``Description``, ``Conffiles``).

Traps:

* A multi-arch package (``Multi-Arch: same``) has one stanza per
  architecture, all with the same ``Package``: the first one in the file is
  kept, as ``dpkg-query`` lists them in that order.
* A removed package whose configuration files remain (``Status: deinstall ok
  config-files``) keeps its stanza and ``Version``; it is kept here too (the
  ``.list`` files under ``/var/lib/dpkg/info`` say what is installed).
* A continuation line may itself read ``Version: ...``: only fields at the
  start of a line count.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

SOURCE = "var/lib/dpkg/status"


def parse_dpkg_status(text: str) -> Mapping[str, str]:
    """Package name -> ``Version`` (epoch and revision included, as printed).

    A stanza without ``Package`` or ``Version`` is skipped: the file is
    read for versions only, so nothing in it is an error.
    """
    out: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        package = version = None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t"):
                continue  # a continuation line
            key, sep, value = line.partition(": ")
            if not sep:
                continue
            if key == "Package":
                package = value
            elif key == "Version":
                version = value
        if package and version is not None and package not in out:
            out[package] = version
    return MappingProxyType(out)

