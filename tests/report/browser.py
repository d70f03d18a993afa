"""Headless Chromium for the report tests: load a page with nothing reachable, dump the DOM, take a
screenshot.

Debian's ``chromium`` (``.ci/run`` installs it).  Every host name resolves to nothing
(``--host-resolver-rules``), so a page that tried to fetch anything would log a failed request;
:data:`PROBE`, put first in ``<head>``, records script errors, ``console.error``, failed resource loads
and every resource the page requested into an element of the DOM that ``--dump-dom`` prints.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars", '--host-resolver-rules=MAP * ~NOTFOUND')
TIMEOUT = 90

#: records what went wrong into <pre id="probe"> as JSON: errors, and every resource requested
PROBE = """<script>
(function () {
  var state = {loaded: false, errors: [], resources: []};
  function write() {
    if (!document.body) { return; }
    var el = document.getElementById('probe');
    if (!el) {
      el = document.createElement('pre'); el.id = 'probe'; el.hidden = true; document.body.appendChild(el);
    }
    el.textContent = JSON.stringify(state);
  }
  function rec(kind, msg) { state.errors.push(kind + ': ' + msg); write(); }
  window.onerror = function (msg, src, line) { rec('error', msg + ' at ' + src + ':' + line); };
  window.addEventListener('error', function (ev) {
    var t = ev.target;
    if (t && t !== window && (t.src || t.href)) { rec('resource', t.src || t.href); }
  }, true);
  window.addEventListener('unhandledrejection', function (ev) { rec('rejection', String(ev.reason)); });
  var orig = console.error;
  console.error = function () {
    rec('console.error', Array.prototype.join.call(arguments, ' '));
    return orig.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    state.loaded = true;
    state.resources = performance.getEntriesByType('resource').map(function (e) { return e.name; });
    // the tooltip: a pointer over the middle of the first chart
    var svg = document.querySelector('svg.plot-svg'), tip = document.getElementById('tip');
    if (svg && tip) {
      var box = svg.getBoundingClientRect();
      svg.dispatchEvent(new MouseEvent('mousemove', {clientX: box.left + box.width / 2,
                                                     clientY: box.top + box.height / 2, bubbles: true}));
      state.tooltip = tip.textContent;
      state.tooltip_shown = tip.style.display;
    }
    write();
  });
})();
</script>"""


def available() -> bool:
    return Path(CHROMIUM).exists()


def with_probe(html: str) -> str:
    head = html.index("<head>") + len("<head>")
    return html[:head] + PROBE + html[head:]


@dataclass(frozen=True)
class Loaded:
    dom: str
    stderr: str
    probe: dict[str, object]


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL)


def load(page: Path, work: Path) -> Loaded:
    """``page`` with :data:`PROBE` added, opened from a file: URL; the DOM after the load event."""
    probed = work / f"probed-{page.name}"
    probed.write_text(with_probe(page.read_text()))
    r = _run(["--dump-dom", probed.as_uri()], work / "profile-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r'<pre id="probe"[^>]*>(.*?)</pre>', r.stdout, re.S)
    assert m is not None, "the probe never wrote: the page did not load\n" + r.stderr[-2000:]
    text = m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return Loaded(dom=r.stdout, stderr=r.stderr, probe=json.loads(text))


def screenshot(page: Path, png: Path, work: Path, *, width: int = 1280, height: int = 2000) -> None:
    r = _run([f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri()], work / "profile-png")
    assert r.returncode == 0, r.stderr[-2000:]


def polyline_points(dom: str) -> list[int]:
    """Points of each ``<polyline>`` in a DOM."""
    return [len(m.group(1).split()) for m in re.finditer(r'<polyline\b[^>]*?\bpoints="([^"]*)"', dom)]


def png_size(png: Path) -> tuple[int, int]:
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


__all__ = ["CHROMIUM", "Loaded", "available", "load", "png_size", "polyline_points", "screenshot",
           "with_probe"]
