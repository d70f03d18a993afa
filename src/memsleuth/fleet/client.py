"""The Prometheus HTTP API client: instant and range queries, series, with timeouts and one-line errors.

Every answer that is not a success becomes a :class:`~memsleuth.errors.FleetError` subclass
whose message is one line: 400 (bad query; the 11,000-points-per-series limit has its own
class), 401/403, 422 (``--query.max-samples``), 503 (``--query.timeout`` or not ready), a client
timeout, no answer at all.  Queries are POSTed (form-encoded), so a long instance regex never
meets a URL length limit.  Credentials come from files (``user:password``, or a bearer token),
never from the command line; the URL shown in any message has its user and password removed.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from memsleuth.errors import (
    FleetError,
    PrometheusAuth,
    PrometheusBadQuery,
    PrometheusTimeout,
    PrometheusTooManyPoints,
    PrometheusTooManySamples,
    PrometheusUnavailable,
    PrometheusUnreachable,
)

#: Prometheus refuses a range query with more points than this per series (a constant in its code)
MAX_POINTS_PER_SERIES = 11_000
_MAX_DETAIL = 240


def redact(url: str) -> str:
    """``url`` without its ``user:password@`` (what every message and the JSON show)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Basic auth or a bearer token, read from a file by the command."""

    basic: tuple[str, str] | None = None
    bearer: str | None = None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Credentials(basic={'set' if self.basic else None}, bearer={'set' if self.bearer else None})"


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1] + "…"


class PromClient:
    """A Prometheus-compatible query API at ``url`` (``http://host:9090``, with or without a path
    prefix).  ``timeout`` (seconds) bounds each request; the server's own evaluation timeout is
    asked for too (``timeout`` parameter), so a slow query ends as a 503 rather than a hang."""

    def __init__(self, url: str, *, timeout: float = 60.0, credentials: Credentials | None = None,
                 session: requests.Session | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise FleetError(f"--prometheus {redact(url)!r}: not an http:// or https:// URL")
        self.url = url.rstrip("/")
        self.shown = redact(self.url)
        self.timeout = timeout
        self.requests = 0
        self._count = threading.Lock()
        self._session = session or requests.Session()
        self._session.trust_env = False  # no proxy or .netrc credentials picked up behind our back
        if credentials is not None and credentials.basic is not None:
            self._session.auth = credentials.basic
        if credentials is not None and credentials.bearer is not None:
            self._session.headers["Authorization"] = f"Bearer {credentials.bearer}"

    def close(self) -> None:
        self._session.close()

    # -- the API -----------------------------------------------------------------------
    def query(self, promql: str, *, time: float) -> list[dict[str, Any]]:
        """``/api/v1/query`` at ``time``: the ``result`` list (vector or matrix)."""
        data = self._post("query", {"query": promql, "time": _ts(time), "timeout": self._server_timeout},
                          what=promql)
        result = data.get("result")
        if not isinstance(result, list):
            raise FleetError(f"{self.shown}: query {_one_line(promql)!r}: no result list in the answer")
        return result

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """``/api/v1/query_range``: the matrix.  More than :data:`MAX_POINTS_PER_SERIES` points per
        series is refused here, before the server is asked."""
        points = int((end - start) // step) + 1
        if points > MAX_POINTS_PER_SERIES:
            raise PrometheusTooManyPoints(
                f"{self.shown}: a range query of {end - start:.0f} s at step {step:g} s would be {points:,} "
                f"points per series; Prometheus allows {MAX_POINTS_PER_SERIES:,} (use a step of at least "
                f"{(end - start) / (MAX_POINTS_PER_SERIES - 1):.0f} s)")
        data = self._post("query_range", {"query": promql, "start": _ts(start), "end": _ts(end),
                                          "step": f"{step:g}", "timeout": self._server_timeout}, what=promql)
        result = data.get("result")
        if not isinstance(result, list):
            raise FleetError(f"{self.shown}: range query {_one_line(promql)!r}: no result list")
        return result

    def series(self, matchers: Sequence[str], *, start: float, end: float) -> list[dict[str, str]]:
        """``/api/v1/series``: the label sets of every series matching one of ``matchers`` in the
        window (the index only: no samples are loaded)."""
        fields: list[tuple[str, str]] = [("match[]", m) for m in matchers]
        fields += [("start", _ts(start)), ("end", _ts(end))]
        data = self._post("series", fields, what=" or ".join(matchers))
        if not isinstance(data, list):
            raise FleetError(f"{self.shown}: series {matchers!r}: not a list in the answer")
        return data

    @property
    def _server_timeout(self) -> str:
        """The evaluation timeout asked of the server (capped by its --query.timeout): a little under
        ours, so that a slow query ends as its 503 rather than our timeout."""
        return f"{max(1.0, self.timeout * 0.9):.0f}s"

    # -- HTTP ----------------------------------------------------------------------------
    def _post(self, endpoint: str, fields: Mapping[str, str] | Sequence[tuple[str, str]], *,
              what: str) -> Any:
        url = f"{self.url}/api/v1/{endpoint}"
        with self._count:
            self.requests += 1
        try:
            r = self._session.post(url, data=fields, timeout=self.timeout)
        except requests.Timeout:
            raise PrometheusTimeout(f"{self.shown}: no answer within --timeout {self.timeout:g} s to "
                                    f"{_one_line(what)!r}") from None
        except requests.RequestException as exc:
            reason = _one_line(str(exc)).replace(self.url, self.shown)
            raise PrometheusUnreachable(f"{self.shown}: cannot connect ({type(exc).__name__}): "
                                        f"{redact_text(reason)}") from None
        return self._answer(r, what)

    def _answer(self, r: requests.Response, what: str) -> Any:
        doc: Any = None
        try:
            doc = r.json()
        except ValueError:
            doc = None
        detail = ""
        if isinstance(doc, dict):
            detail = _one_line(str(doc.get("error") or ""))
        if not detail:
            detail = _one_line(r.text or r.reason or "")
        q = _one_line(what)
        if r.status_code == 200 and isinstance(doc, dict) and doc.get("status") == "success":
            return doc.get("data")
        code = r.status_code
        if code == 400 and ("11,000 points" in detail or "11000 points" in detail):
            raise PrometheusTooManyPoints(f"{self.shown}: 400: more than {MAX_POINTS_PER_SERIES:,} points "
                                          f"per series asked for {q!r}: {detail}")
        if code == 400:
            raise PrometheusBadQuery(f"{self.shown}: 400 bad query {q!r}: {detail}")
        if code in (401, 403):
            raise PrometheusAuth(f"{self.shown}: {code}: credentials refused (--basic-auth-file, "
                                 f"--bearer-token-file): {detail}")
        kind = doc.get("errorType") if isinstance(doc, dict) else None
        if code in (422, 503) and (kind == "timeout" or "deadline exceeded" in detail
                                   or "timed out" in detail):
            # the server's --query.timeout: 503 "query timed out", or 422 "context deadline exceeded"
            # when it runs out while still selecting the series
            raise PrometheusUnavailable(f"{self.shown}: {code}: {q!r} timed out on the server (its "
                                        f"--query.timeout; try a shorter --range or --group-by): {detail}")
        if code == 422:
            raise PrometheusTooManySamples(
                f"{self.shown}: 422: {q!r} would load too many samples (the server's --query.max-samples; "
                f"try a shorter --range, --group-by, or a smaller --max-samples): {detail}")
        if code == 503:
            raise PrometheusUnavailable(f"{self.shown}: 503: {q!r}: the server is unavailable or not ready "
                                        f"(or timed out: its --query.timeout): {detail}")
        if code == 404:
            raise FleetError(f"{self.shown}: 404: no Prometheus query API at this URL ({detail})")
        raise FleetError(f"{self.shown}: HTTP {code} for {q!r}: {detail}")


def redact_text(text: str) -> str:
    """Remove ``user:password@`` from any URL inside ``text`` (a requests error repeats the URL)."""
    out = []
    for word in text.split(" "):
        if "://" in word and "@" in word:
            scheme, _, rest = word.partition("://")
            word = scheme + "://" + rest.split("@", 1)[1]
        out.append(word)
    return " ".join(out)


def _ts(t: float) -> str:
    return f"{t:.3f}"


__all__ = ["MAX_POINTS_PER_SERIES", "Credentials", "PromClient", "redact", "redact_text"]
