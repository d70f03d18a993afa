"""One error hierarchy for memsleuth.

Every error a user can meet is a :class:`MemsleuthError`; the CLI maps the
class to an exit status in one place (``cli/main.py``).  Anything else that
escapes is a bug and is reported as such.
"""

from __future__ import annotations

import os


class MemsleuthError(Exception):
    """Base of every error memsleuth raises on purpose."""


class SourceError(MemsleuthError):
    """A kernel file could not be turned into a record."""


class ParseError(SourceError):
    """The text of a kernel file is not in any format we know.

    ``source`` names the file (``proc/meminfo``); ``detail`` says what was wrong
    with it, e.g. the offending line.
    """

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"cannot parse {source}: {detail}")
        self.source = source
        self.detail = detail


class SourceMissing(SourceError):
    """The file does not exist on this kernel or in this bundle."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: not present on this host or in this bundle")
        self.path = path


def _denied_hint() -> str:
    """What to do about EACCES/EPERM: run as root, or, for root, what is actually in the way."""
    if os.geteuid() != 0:
        return "run as root to read it"
    return "root too: ptrace access to it is restricted here, by a container, Yama ptrace_scope or lockdown"


class AccessDenied(SourceError):
    """The file exists but we may not read it (EACCES/EPERM)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: permission denied ({_denied_hint()})")
        self.path = path


class ProcessGone(SourceError):
    """The process exited (or its PID was reused) while we were reading it."""

    def __init__(self, pid: int, message: str | None = None) -> None:
        super().__init__(message or f"process {pid} exited while it was being read")
        self.pid = pid


class NoSuchProcess(ProcessGone):
    """There is no process with this PID (on the host, or in the bundle)."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid, f"no process {pid}")


class BundleError(MemsleuthError):
    """A bundle is truncated, corrupt, or not a memsleuth bundle at all."""


class UsageError(MemsleuthError):
    """The command line asks for something that cannot be done."""


class StoreError(MemsleuthError):
    """The embedded store cannot be read or written."""


class SchemaMismatch(StoreError):
    """The store was written by a schema version this build cannot read."""


class FleetError(MemsleuthError):
    """The Prometheus-compatible API failed or answered something unusable."""


class PrometheusUnreachable(FleetError):
    """No answer at all: connection refused, DNS, TLS."""


class PrometheusTimeout(FleetError):
    """The client's --timeout passed before the server answered."""


class PrometheusBadQuery(FleetError):
    """400: the server refused the query (bad PromQL or parameters)."""


class PrometheusTooManySamples(FleetError):
    """422: the query would load more samples than the server's --query.max-samples."""


class PrometheusUnavailable(FleetError):
    """503: the server timed out evaluating the query (--query.timeout) or is not ready."""


class PrometheusTooManyPoints(FleetError):
    """400: a range query asked for more than 11,000 points per series."""


class PrometheusAuth(FleetError):
    """401/403: the credentials were refused (or none were given)."""
