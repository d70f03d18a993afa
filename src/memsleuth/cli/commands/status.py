"""``memsleuth status`` (also plain ``memsleuth``)."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env

HELP = """\
One screen: memory used by the legacy definition (CentOS 6 free: total -
free), by today's (total - MemAvailable), and by what the pages hold
(buckets), with a note on why the numbers disagree."""

EXAMPLES = """\
  memsleuth
  memsleuth status --json
  memsleuth --root bundle.tar.gz status"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options beyond the global ones


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.analysis.system import FILES, system_memory
    from memsleuth.analysis.usage import usage_views
    from memsleuth.views.common import document, missing_json
    from memsleuth.views.meminfo import accounting_json
    from memsleuth.views.status import SCHEMA, render_status, status_json

    snap = env.snapshot(processes=False, cgroups=False, slab_sysfs=False, numa=False,
                        system_files=FILES)
    mem = system_memory(snap)
    u = usage_views(mem)
    if env.json:
        env.emit_json(document(SCHEMA, snap.meta, env.host().label, **status_json(u),
                               accounting=accounting_json(mem.accounting),
                               missing=missing_json(snap.missing)))
        return 0
    env.console.print(render_status(snap.meta.hostname, u, mem.accounting), crop=env.console.is_terminal)
    return 0
