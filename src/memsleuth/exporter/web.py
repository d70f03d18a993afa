"""The HTTP side: node_exporter's web config file (TLS, basic auth) and the ``/metrics`` server.

The web config file is the one node_exporter and the other Prometheus
exporters read (``--web.config.file``, exporter-toolkit's format), so one
file can serve both::

    tls_server_config:
      cert_file: server.crt      # relative paths are relative to the file
      key_file: server.key
    basic_auth_users:
      prometheus: $2y$10$...     # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':')

No ``tls_server_config``: plain HTTP.  A key memsleuth does not implement
(client certificates, cipher lists) is an error, not silently ignored: a
config that asks for more security than it gets must not start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.server
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.registry import CollectorRegistry

from memsleuth.errors import UsageError
from memsleuth.exporter.collector import exposition

DEFAULT_LISTEN = "127.0.0.1:9847"
REALM = "memsleuth"
#: seconds a connection may sit idle (a slow client must not hold a thread forever)
CONNECTION_TIMEOUT = 30.0

_TOP_KEYS = {"tls_server_config", "basic_auth_users", "http_server_config"}
_TLS_KEYS = {"cert_file", "key_file", "min_version"}
_TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True, slots=True, kw_only=True)
class WebConfig:
    cert_file: str | None = None
    key_file: str | None = None
    min_version: str = "TLS12"
    #: user -> bcrypt hash
    users: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return self.cert_file is not None


def _mapping(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise UsageError(f"{where}: expected a mapping")
    return value


def parse_web_config(text: str, *, base_dir: str = ".", where: str = "web config") -> WebConfig:
    import yaml  # type: ignore[import-untyped,unused-ignore]

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: not YAML: {exc}") from None
    top = _mapping(doc, where)
    unknown = set(top) - _TOP_KEYS
    if unknown:
        raise UsageError(f"{where}: unsupported key(s) {', '.join(sorted(unknown))} "
                         f"(memsleuth reads {', '.join(sorted(_TOP_KEYS))})")
    tls = _mapping(top.get("tls_server_config"), f"{where}: tls_server_config")
    unknown = set(tls) - _TLS_KEYS
    if unknown:
        raise UsageError(f"{where}: tls_server_config: unsupported key(s) {', '.join(sorted(unknown))} "
                         "(memsleuth supports cert_file, key_file and min_version)")
    cert = key = None
    if tls:
        if not isinstance(tls.get("cert_file"), str) or not isinstance(tls.get("key_file"), str):
            raise UsageError(f"{where}: tls_server_config needs cert_file and key_file")
        cert = os.path.join(base_dir, tls["cert_file"])
        key = os.path.join(base_dir, tls["key_file"])
    min_version = str(tls.get("min_version", "TLS12"))
    if min_version not in _TLS_VERSIONS:
        raise UsageError(f"{where}: min_version {min_version!r}: memsleuth supports TLS12 and TLS13")
    users = _mapping(top.get("basic_auth_users"), f"{where}: basic_auth_users")
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith("$2"):
            raise UsageError(f"{where}: basic_auth_users: {user}: expected a bcrypt hash ($2y$...)")
    http = _mapping(top.get("http_server_config"), f"{where}: http_server_config")
    headers = _mapping(http.get("headers"), f"{where}: http_server_config: headers")
    unknown = set(http) - {"headers", "http2"}
    if unknown:
        raise UsageError(f"{where}: http_server_config: unsupported key(s) {', '.join(sorted(unknown))}")
    return WebConfig(cert_file=cert, key_file=key, min_version=min_version,
                     users={u: str(h) for u, h in users.items()},
                     headers={str(k): str(v) for k, v in headers.items()})


def load_web_config(path: str) -> WebConfig:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise UsageError(f"--web.config.file {path}: {exc.strerror}") from None
    return parse_web_config(text, base_dir=os.path.dirname(os.path.abspath(path)), where=path)


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:9847``, ``[::1]:9847``, ``:9847`` (every address) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT (e.g. {DEFAULT_LISTEN})")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class BasicAuth:
    """bcrypt checks, with verified (user, password digest) pairs remembered: bcrypt costs tens of
    milliseconds on purpose, and Prometheus sends the same credentials every scrape."""

    MAX_REMEMBERED = 64

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)
        self._ok: set[tuple[str, bytes]] = set()
        self._lock = threading.Lock()

    def check(self, header: str | None) -> bool:
        import bcrypt

        if not header or not header.startswith("Basic "):
            return False
        try:
            user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        hashed = self._users.get(user)
        if not sep or hashed is None:
            return False
        digest = hashlib.sha256(f"{hashed}\0{password}".encode()).digest()
        with self._lock:
            if (user, digest) in self._ok:
                return True
        try:
            good = bcrypt.checkpw(password.encode(), hashed.encode())
        except ValueError:  # a malformed hash in the file
            return False
        if good:
            with self._lock:
                if len(self._ok) >= self.MAX_REMEMBERED:
                    self._ok.clear()
                self._ok.add((user, digest))
        return good


LANDING = b"""<html><head><title>memsleuth exporter</title></head><body>
<h1>memsleuth exporter</h1><p><a href="/metrics">/metrics</a></p></body></html>
"""


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of scrapers, and each dropped
    # one waits a second for its retransmit
    request_queue_size = 128


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class ExporterServer:
    """``/metrics`` over HTTP or HTTPS, with basic auth when the config has users."""

    def __init__(self, registry: CollectorRegistry, *, listen: str = DEFAULT_LISTEN,
                 config: WebConfig | None = None,
                 log: Callable[[str], object] = lambda msg: None) -> None:
        config = config or WebConfig()
        host, port = parse_listen(listen)
        auth = BasicAuth(config.users) if config.users else None
        headers = dict(config.headers)

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = CONNECTION_TIMEOUT
            server_version = "memsleuth-exporter"
            sys_version = ""

            def do_GET(self) -> None:
                if auth is not None and not auth.check(self.headers.get("Authorization")):
                    self._reply(401, b"Unauthorized\n", "text/plain; charset=utf-8",
                                {"WWW-Authenticate": f'Basic realm="{REALM}"'})
                    return
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, content_type = exposition(registry, self.headers.get("Accept"))
                    self._reply(200, body, content_type)
                elif path == "/":
                    self._reply(200, LANDING, "text/html; charset=utf-8")
                else:
                    self._reply(404, b"Not Found: try /metrics\n", "text/plain; charset=utf-8")

            def _reply(self, code: int, body: bytes, content_type: str,
                       extra: Mapping[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in {**headers, **(extra or {})}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per scrape would flood the journal

        server_class = _HTTPServer6 if ":" in host else _HTTPServer
        try:
            self.httpd = server_class((host, port), Handler)
        except OSError as exc:
            raise UsageError(f"--listen {listen}: {exc.strerror}") from None
        self.tls = config.tls
        if config.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = _TLS_VERSIONS[config.min_version]
            try:
                ctx.load_cert_chain(str(config.cert_file), str(config.key_file))
            except (OSError, ssl.SSLError) as exc:
                self.httpd.server_close()
                raise UsageError(f"tls_server_config: cannot load {config.cert_file} / "
                                 f"{config.key_file}: {exc}") from None
            # the handshake happens in the connection's thread, not in accept(): a client that
            # stalls mid-handshake holds one thread, not the server
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self._thread: threading.Thread | None = None
        self._log = log

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{shown}:{port}/metrics"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="memsleuth-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
        self.httpd.server_close()


__all__ = ["DEFAULT_LISTEN", "BasicAuth", "ExporterServer", "WebConfig", "load_web_config", "parse_listen",
           "parse_web_config"]
