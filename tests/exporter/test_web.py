"""node_exporter's web config: basic auth (bcrypt) and TLS; no TLS config is plain HTTP."""

from __future__ import annotations

import base64
import datetime
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memsleuth import metrics
from memsleuth.errors import UsageError
from memsleuth.exporter.app import ExporterOptions, build
from memsleuth.exporter.collector import registry_for
from memsleuth.exporter.web import ExporterServer, WebConfig, load_web_config, parse_listen, parse_web_config
from memsleuth.host import Host
from tests.exporter.conftest import Roots

USER, PASSWORD = "prometheus", "s3cret-scrape"


def self_signed(dest: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key: with ``cryptography`` if installed, else
    ``openssl req``; skips when neither is there."""
    cert, key = dest / "server.crt", dest / "server.key"
    try:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl to make a test certificate")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
        return cert, key
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                        critical=False)
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .sign(k, hashes.SHA256()))
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return cert, key


def _hash(password: str) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


@pytest.fixture
def serve(exporter_roots: Roots) -> Iterator[Callable[[WebConfig | None], ExporterServer]]:
    servers: list[ExporterServer] = []

    def start(config: WebConfig | None) -> ExporterServer:
        collector = build(Host.open(str(exporter_roots.top / "centos6")), ExporterOptions())
        server = ExporterServer(registry_for(collector), listen="127.0.0.1:0", config=config)
        server.start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def _get(url: str, *, auth: tuple[str, str] | None = None, context: ssl.SSLContext | None = None) -> int:
    req = urllib.request.Request(url)
    if auth is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            assert metrics.MEMORY_TOTAL.name.encode() in r.read()
            return int(r.status)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            assert exc.headers["WWW-Authenticate"].startswith("Basic ")
        return int(exc.code)


def test_basic_auth_over_tls(tmp_path: Path, serve: Callable[[WebConfig | None], ExporterServer]) -> None:
    cert, key = self_signed(tmp_path)
    conf = tmp_path / "web.yml"
    # relative paths resolve against the file's directory, as in node_exporter
    conf.write_text(f"tls_server_config:\n  cert_file: {cert.name}\n  key_file: {key.name}\n"
                    f"basic_auth_users:\n  {USER}: '{_hash(PASSWORD)}'\n")
    server = serve(load_web_config(str(conf)))
    assert server.url.startswith("https://127.0.0.1:")
    ctx = ssl.create_default_context(cafile=str(cert))
    assert _get(server.url, auth=(USER, PASSWORD), context=ctx) == 200
    assert _get(server.url, auth=(USER, PASSWORD), context=ctx) == 200  # the remembered check
    assert _get(server.url, auth=(USER, "wrong"), context=ctx) == 401
    assert _get(server.url, auth=("nobody", PASSWORD), context=ctx) == 401
    assert _get(server.url, context=ctx) == 401
    # plain HTTP to the TLS port is refused, not served in the clear
    with pytest.raises((OSError, urllib.error.URLError)):
        _get(server.url.replace("https://", "http://"))


def test_no_tls_config_is_plain_http(serve: Callable[[WebConfig | None], ExporterServer]) -> None:
    server = serve(parse_web_config(f"basic_auth_users:\n  {USER}: '{_hash(PASSWORD)}'\n"))
    assert server.url.startswith("http://127.0.0.1:")
    assert _get(server.url, auth=(USER, PASSWORD)) == 200
    assert _get(server.url, auth=(USER, PASSWORD + "x")) == 401
    open_server = serve(None)
    assert _get(open_server.url) == 200
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(open_server.url.replace("/metrics", "/nope"), timeout=10)
    assert err.value.code == 404


@pytest.mark.parametrize("text, message", [
    ("tls_server_config:\n  cert_file: a.crt\n", "needs cert_file and key_file"),
    ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
     "unsupported key(s) client_auth_type"),
    ("basic_auth_users:\n  u: plaintext\n", "expected a bcrypt hash"),
    ("basic_auth: {}\n", "unsupported key(s) basic_auth"),
    ("[1, 2\n", "not YAML"),
])
def test_bad_web_config_is_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_web_config(text)


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9847") == ("127.0.0.1", 9847)
    assert parse_listen("[::1]:9847") == ("::1", 9847)
    assert parse_listen(":9847") == ("", 9847)
    with pytest.raises(UsageError):
        parse_listen("9847")
