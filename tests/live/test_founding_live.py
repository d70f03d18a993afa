"""The founding case, live (issue 5b): a curl-like HTTPS probe run again and again by a shell loop.

``tests/fixtures/probe/curl_probe.c`` is built here as an executable named
``curl``.  ``check.sh`` (the probe script) runs ``curl -s -o /dev/null
https://127.0.0.1:8443/health`` every 50 ms.  Each run maps a file named
``libsoftokn3.so`` and, unless ``NSS_SDB_USE_CACHE`` is set, calls
``access()`` on 1,000 random names that do not exist in a directory on a
disk filesystem, as NSS's soft token does at start-up: about 12,000
negative dentries a second.  Each run lives a few milliseconds, so
``/proc`` rarely sees one; ``diagnose --watch --trace`` must still name it,
by command and parent, through tracefs.

With ``NSS_SDB_USE_CACHE=yes`` in the script's environment the emulator
skips the probing, and ``diagnose`` must stay quiet about dentries and curl.

Bounded: the loop stops by itself after :data:`LIFETIME_S` and is killed
at the end; removing the probe directory prunes its negative dentries.
Needs root (tracefs) and a C compiler.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout, suppress
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, requires_root
from tests.live.test_diagnose_e2e import INTERVAL, WATCH, _disk_dir

pytestmark = [pytest.mark.live, requires_root]

TRACE = os.environ.get("MEMSLEUTH_E2E_TRACE", "5")
LIFETIME_S = 200
PROBE_URL = "https://127.0.0.1:8443/health"
CHECK_SH = f"""#!/bin/bash
# the founding case's probe script: an HTTPS health check every 50 ms
end=$((SECONDS + {LIFETIME_S}))
while [ $SECONDS -lt $end ]; do
    curl -s -o /dev/null {PROBE_URL}
    sleep 0.05
done
"""
DENTRY_KEYS = ("meminfo.SReclaimable", "slab.dentry.size_bytes", "dentry.nr_dentry", "dentry.nr_negative")
DENTRY_RULES = ("nss-negative-dentries", "negative-dentries-lookups")


@contextmanager
def probe_loop(nss_sdb_use_cache: str | None) -> Iterator[subprocess.Popen[bytes]]:
    """Build the emulator as ``curl``, start ``check.sh`` in its own process group, clean up."""
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler (gcc) to build the probe emulator")
    base = _disk_dir()
    work = Path(tempfile.mkdtemp(prefix="memsleuth-probe-", dir=base))
    proc: subprocess.Popen[bytes] | None = None
    try:
        (work / "bin").mkdir()
        (work / "nssdb").mkdir()
        subprocess.run(["gcc", "-O2", "-o", str(work / "bin" / "curl"),
                        str(FIXTURES / "probe" / "curl_probe.c")], check=True)
        lib = work / "lib" / "libsoftokn3.so"
        lib.parent.mkdir()
        lib.write_bytes(b"\x7fELF" + b"\0" * 8188)  # a stand-in: only its name and mapping matter
        script = work / "check.sh"
        script.write_text(CHECK_SH)
        script.chmod(0o755)
        env = {"PATH": f"{work / 'bin'}:/usr/bin:/bin", "PROBE_DIR": str(work / "nssdb"),
               "PROBE_LIB": str(lib), "PROBE_COUNT": "1000", "HOME": str(work), "LANG": "C"}
        if nss_sdb_use_cache is not None:
            env["NSS_SDB_USE_CACHE"] = nss_sdb_use_cache
        proc = subprocess.Popen([str(script)], env=env, cwd=work, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        yield proc
        assert proc.poll() is None, "the probe loop stopped during the watch"
    finally:
        if proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
            if proc.stderr is not None:
                proc.stderr.close()
        # removing the directory prunes the negative dentries under it
        shutil.rmtree(work, ignore_errors=True)


def diagnose_watch_trace() -> tuple[int, dict[str, Any], str]:
    from memsleuth.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["diagnose", "--watch", WATCH, "--interval", INTERVAL, "--trace", TRACE, "--json",
                     "--limit", "1000"])
    assert code in (0, 1), (code, err.getvalue())
    doc = json.loads(out.getvalue())
    assert doc["schema"] == "memsleuth.diagnose/1"
    return code, doc, err.getvalue()


def _tracing_snapshot() -> dict[str, str]:
    """The global tracing state a trace must leave as it found it."""
    root = Path("/sys/kernel/tracing")
    if not (root / "tracing_on").exists():
        return {}
    return {name: (root / name).read_text() for name in ("tracing_on", "current_tracer", "set_event")}


@pytest.fixture(scope="module")
def probing() -> tuple[int, dict[str, Any], str, int]:
    before = _tracing_snapshot()
    with probe_loop(None) as loop:
        code, doc, err = diagnose_watch_trace()
    assert _tracing_snapshot() == before or not before
    return code, doc, err, loop.pid


@pytest.fixture(scope="module")
def cached() -> tuple[int, dict[str, Any], str, int]:
    with probe_loop("yes") as loop:
        code, doc, err = diagnose_watch_trace()
    return code, doc, err, loop.pid


def _summary(doc: dict[str, Any]) -> str:
    return "; ".join(f"{f['class']} {f['series_key']} (+{len(f['related'])})" for f in doc["findings"])


def _named(doc: dict[str, Any]) -> set[str]:
    return {k for f in doc["findings"] for k in (f["series_key"], *f["related"])}


def test_probe_finding_is_the_dentry_cache(probing: tuple[int, dict[str, Any], str, int]) -> None:
    code, doc, _, _ = probing
    assert code == 1
    dentry = [f for f in doc["findings"]
              if {f["series_key"], *f["related"]} & {"slab.dentry.size_bytes", "dentry.nr_dentry"}]
    assert dentry, _summary(doc)
    assert dentry[0]["class"] == "unbounded_cache"


def test_trace_names_curl_and_its_parent(probing: tuple[int, dict[str, Any], str, int]) -> None:
    _, doc, _, loop_pid = probing
    # failed lookups, then each growing slab cache (other caches may grow on a busy host too)
    lookups = [t for t in doc["traces"] if t["kind"] == "lookups"]
    dentry = [t for t in doc["traces"] if t["kind"] == "slab" and t["cache"]["requested"] == "dentry"]
    assert len(lookups) == 1 and len(dentry) == 1, (doc["trace_errors"], _summary(doc))
    for t in (*lookups, *dentry):
        top = t["commands"][0]
        assert (top["comm"], top["ppid"]) == ("curl", loop_pid), t["commands"][:3]
        assert top["processes"] > 5  # a new process every run
        assert top["events"] >= 0.5 * t["events"]


def test_diagnosis_is_the_nss_soft_token_in_the_curl_probe(
        probing: tuple[int, dict[str, Any], str, int]) -> None:
    _, doc, _, loop_pid = probing
    top = doc["diagnoses"][0]
    assert top["rule"] == "nss-negative-dentries", [d["rule"] for d in doc["diagnoses"]]
    s = top["suspects"][0]
    assert s["process"]["comm"] == "curl"
    assert s["parent"]["pid"] == loop_pid and "check.sh" in s["parent"]["cmdline"]
    assert any(t["kind"] == "lookups" and t["share"] > 0.5 for t in s["traced"])
    # the only key read from environ, always from the loop each short run inherits it from (never
    # from whichever curl happened to be alive at the time): unset here
    env = s["environ"]
    assert {k: env[k] for k in ("key", "value", "checked", "pid", "of")} == {
        "key": "NSS_SDB_USE_CACHE", "value": None, "checked": True, "pid": loop_pid, "of": "parent"}
    fixes = [c for r in top["remediation"] if r["kind"] == "fix" for c in r["commands"]]
    assert any("NSS_SDB_USE_CACHE=yes" in c for c in fixes)
    (stop,) = [r for r in top["remediation"] if r["kind"] == "stopgap"]
    assert stop["commands"] == ["sync; echo 2 > /proc/sys/vm/drop_caches"]
    assert stop["frees"].startswith("up to ")


def test_with_nss_sdb_use_cache_diagnose_is_quiet_about_it(
        cached: tuple[int, dict[str, Any], str, int]) -> None:
    """With the cache set, the probe makes no negative dentries, so nothing blames it.

    The dentry cache of a busy host may still grow for other reasons (other
    work creating and looking up files: a CI run, a backfill, an import
    storm); a finding for that is right, and then a trace runs.  What must not
    happen is a dentry rule naming the probe, or a trace in which the probe is
    a visible share of the failed lookups or dentry allocations.
    """
    _, doc, _, loop_pid = cached

    def probe(comm: str | None, ppid: int | None) -> bool:
        return comm == "curl" or ppid == loop_pid

    suspects = [s for d in doc["diagnoses"] for s in d["suspects"]]
    assert not [s for s in suspects if probe(s["process"]["comm"], s["process"]["ppid"])
                or (s["parent"] or {}).get("pid") == loop_pid], _summary(doc)
    assert not [d["rule"] for d in doc["diagnoses"] if d["rule"] == "nss-negative-dentries"]
    for t in doc["traces"]:
        from_probe = sum(c["events"] for c in t["commands"] if probe(c["comm"], c["ppid"]))
        assert from_probe <= 0.05 * max(t["events"], 1), (t["kind"], t["commands"][:3])
    if not _named(doc) & set(DENTRY_KEYS):
        # a quiet host: nothing to confirm, so nothing was traced
        assert not [t for t in doc["traces"] if t["kind"] == "lookups"]
