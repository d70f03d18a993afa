"""Pure parsers: kernel text in, frozen typed records out.

Every module here is named after the kernel file it reads and exposes
``parse_<file>(text) -> Record``.  Parsers never open files (that is
:class:`memsleuth.host.Host`'s job), never import outside the standard
library and :mod:`memsleuth.errors`/:mod:`memsleuth.units`, and turn every
quantity into bytes, pages-as-counts, or seconds at the boundary, so a field
name always carries its unit.  A field the kernel did not print is ``None``.
"""
