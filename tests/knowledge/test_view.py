"""The diagnosis view reads as an answer, fits 80 columns, and its JSON carries the facts."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from memsleuth.host import Host
from memsleuth.knowledge.match import match
from memsleuth.views.diagnosis import SCHEMA, diagnoses_json, render_diagnoses
from tests.knowledge.conftest import context, detect, founding_roots, history_from_dirs


def test_founding_case_renders_as_an_answer(tmp_path: Path) -> None:
    roots = founding_roots(tmp_path)
    history = history_from_dirs(roots)
    ds = match(detect(history), history, context(Host.open(roots[-1])))
    console = Console(width=80, record=True, color_system=None)
    console.print(render_diagnoses(ds))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    flat = " ".join(text.split())
    for needle in ("1. Negative dentries from the NSS soft token",
                   "pid 28714 curl -s -o /dev/null https://vip.example/health",
                   "started by: pid 2211 /bin/bash /opt/probe/check.sh",
                   "libsoftokn3.so (nss-softokn 3.14.3",
                   "environment not checked (bundle): set NSS_SDB_USE_CACHE=yes in the probe's environment",
                   "used: 86% by total - free (CentOS 6 free), 24% by total - MemAvailable (estimated)",
                   "time to 90% (total - free): 11.8 h",
                   "$ sync; echo 2 > /proc/sys/vm/drop_caches",
                   "frees up to 36.7Gi (the reclaimable slab, SReclaimable)"):
        assert needle in flat, needle
    doc = json.loads(json.dumps(diagnoses_json(ds)))
    assert doc["schema"] == SCHEMA
    top = doc["diagnoses"][0]
    assert top["rule"] == "nss-negative-dentries"
    assert top["suspects"][0]["process"]["pid"] == 28714
    assert top["suspects"][0]["environ"] == {
        "key": "NSS_SDB_USE_CACHE", "value": None, "checked": False, "pid": 28714, "of": "self",
        "note": "environment not checked (bundle): set NSS_SDB_USE_CACHE=yes in the probe's environment"}
    assert top["evidence"]["reclaimable_slab_bytes"] == 38506072 * 1024
