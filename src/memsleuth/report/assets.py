"""The page's only style sheet and script, inlined into every report (nothing is fetched)."""

from __future__ import annotations

CSS = """
:root { --fg:#1b1f24; --dim:#5b6470; --line:#d8dde3; --bg:#ffffff; --panel:#f6f8fa;
        --leak:#b42318; --cache:#b54708; --bounded:#175cd3; --ok:#067647; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans",
             sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
h4.chart-title { font-size: 14px; margin: 0 0 2px; }
p { margin: 6px 0; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace;
                   font-size: 13px; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 6px 10px;
      margin: 4px 0; white-space: pre-wrap; word-break: break-all; }
.sub { color: var(--dim); }
nav { margin: 10px 0 0; font-size: 14px; }
nav a { margin-right: 14px; color: var(--bounded); text-decoration: none; }
.verdict { margin: 16px 0 6px; padding: 12px 16px; border-radius: 6px; border-left: 6px solid var(--leak);
           background: #fef3f2; font-size: 16px; }
.verdict.healthy { border-left-color: var(--ok); background: #ecfdf3; }
.verdict b { font-size: 17px; }
.verdict .line { margin: 3px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--dim); font-size: 13px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.label { white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid var(--fg); }
tr.gap td { font-weight: 600; }
.bar { height: 12px; background: var(--panel); border: 1px solid var(--line); min-width: 160px; }
.bar span { display: block; height: 100%; }
.stackbar { display: flex; height: 26px; border: 1px solid var(--fg); margin: 8px 0 4px; }
.stackbar span { height: 100%; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 700;
         color: #fff; background: var(--leak); letter-spacing: .02em; vertical-align: 2px; }
.badge.unbounded_cache { background: var(--cache); }
.badge.bounded { background: var(--bounded); }
.badge.normal, .badge.symptom { background: var(--dim); }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
.kv { display: grid; grid-template-columns: 170px 1fr; gap: 2px 12px; font-size: 14px; }
.kv > div:nth-child(odd) { color: var(--dim); }
.chain { display: flex; flex-wrap: nowrap; align-items: stretch; gap: 0; margin: 8px 0; }
.chain .node { border: 1px solid var(--line); border-radius: 5px; padding: 6px 10px; background: var(--panel);
               flex: 1 1 0; min-width: 0; font-size: 13px; overflow-wrap: anywhere; }
.chain .node.unknown { flex: 0.5 1 0; }
.chain .node.unknown { color: var(--dim); background: #fff; border-style: dashed; }
.chain .node .what { display: block; font-size: 11px; text-transform: uppercase; letter-spacing: .05em;
                     color: var(--dim); }
.chain .arrow { align-self: center; padding: 0 6px; color: var(--dim); font-size: 18px; }
.remedy { border-left: 4px solid var(--ok); padding: 4px 12px; margin: 8px 0; }
.remedy.stopgap { border-left-color: var(--cache); }
.remedy .kind { font-weight: 700; text-transform: uppercase; font-size: 12px; letter-spacing: .05em; }
.safety { color: var(--dim); font-size: 14px; }
.safety b { color: var(--fg); }
figure.chart { margin: 14px 0 22px; }
.multiples { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px 14px; margin: 6px 0 22px; }
figure.chart.small { margin: 0; min-width: 0; }
figure.chart.small h4.chart-title { font-size: 12px; font-weight: 600; white-space: nowrap; overflow: hidden;
                                    text-overflow: ellipsis; }
table.narrow { width: auto; min-width: 50%; }
details { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; padding: 6px 12px; }
details summary { cursor: pointer; font-weight: 600; }
details .card { border: none; padding: 0; }
.chart-note { color: var(--dim); font-size: 13px; margin: 0 0 4px; }
svg.plot-svg { display: block; max-width: 100%; height: auto; }
svg .plot { fill: #fff; stroke: var(--line); }
svg .grid { stroke: #eceff2; stroke-width: 1; }
svg .tick { fill: var(--dim); font-size: 12px; font-family: inherit; }
svg .series { fill: none; stroke-linejoin: round; stroke-linecap: round; }
svg .series.faint { stroke-opacity: .55; }
svg .series.dashed { stroke-dasharray: 7 5; }
svg .band { fill-opacity: .88; stroke: none; }
svg .band-edge { fill: none; stroke-width: .6; stroke-opacity: .9; }
svg .level { stroke-width: 1.3; stroke-dasharray: 3 3; }
svg .level-label, svg .marker-label { font-size: 12px; font-weight: 600; paint-order: stroke;
                                      stroke: #fff; stroke-width: 3px; }
svg .cursor { stroke: #888; stroke-width: 1; }
ul.legend { list-style: none; padding: 0; margin: 4px 0 0 78px; display: flex; flex-wrap: wrap;
            gap: 2px 16px; font-size: 13px; }
ul.legend li { white-space: nowrap; }
.sw { display: inline-block; width: 18px; height: 10px; margin-right: 5px; vertical-align: 0; }
.sw-line { height: 0; border-top: 3px solid; vertical-align: 3px; }
.sw-dash { height: 0; border-top: 3px dashed; vertical-align: 3px; }
.sw-faint { opacity: .55; }
#tip { position: fixed; display: none; pointer-events: none; background: rgba(27,31,36,.94); color: #fff;
       padding: 6px 9px; border-radius: 4px; font-size: 12px; z-index: 10; max-width: 460px; }
#tip div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.empty { color: var(--dim); font-style: italic; }
footer { margin-top: 36px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--dim);
         font-size: 13px; }
@media print { #tip, nav { display: none; } h2 { break-after: avoid; } figure.chart { break-inside: avoid; } }
"""

#: tooltips: the pointer's time, and each line's value there (read back from the drawn points)
JS = """
(function () {
  var tip = document.getElementById('tip');
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  function fmt(v, unit) {
    if (unit !== 'bytes') { return Math.round(v).toLocaleString('en-US'); }
    var a = Math.abs(v), i = 0;
    while (a >= 1024 && i < units.length - 1) { a /= 1024; i++; }
    return (v < 0 ? '-' : '') + a.toFixed(i ? 2 : 0) + ' ' + units[i];
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function when(t) {
    var d = new Date(t * 1000);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + ' UTC';
  }
  function points(line) {
    if (!line._pts) {
      line._pts = line.getAttribute('points').trim().split(/\\s+/).map(function (p) {
        var xy = p.split(','); return [parseFloat(xy[0]), parseFloat(xy[1])];
      });
    }
    return line._pts;
  }
  function nearest(pts, x) {
    var lo = 0, hi = pts.length - 1;
    if (hi < 0 || x < pts[0][0] - 8 || x > pts[hi][0] + 8) { return null; }
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (pts[mid][0] < x) { lo = mid; } else { hi = mid; } }
    return (x - pts[lo][0] < pts[hi][0] - x) ? pts[lo] : pts[hi];
  }
  Array.prototype.forEach.call(document.querySelectorAll('svg.plot-svg'), function (svg) {
    var d = svg.dataset, cursor = svg.querySelector('.cursor');
    var t0 = +d.t0, t1 = +d.t1, v0 = +d.v0, v1 = +d.v1, left = +d.left, top = +d.top, pw = +d.pw, ph = +d.ph;
    svg.addEventListener('mousemove', function (ev) {
      var box = svg.getBoundingClientRect(), k = svg.viewBox.baseVal.width / box.width;
      var x = (ev.clientX - box.left) * k;
      if (x < left || x > left + pw) {
        tip.style.display = 'none'; cursor.setAttribute('visibility', 'hidden'); return;
      }
      var rows = ['<b>' + when(t0 + (x - left) / pw * (t1 - t0)) + '</b>'];
      Array.prototype.forEach.call(svg.querySelectorAll('polyline.series'), function (line) {
        var p = nearest(points(line), x);
        if (p === null) { return; }
        var v = v0 + (1 - (p[1] - top) / ph) * (v1 - v0);
        var span = document.createElement('div');
        span.textContent = line.getAttribute('data-label') + ': ' + fmt(v, d.unit);
        rows.push(span.outerHTML);
      });
      var below = 0, bands = [];
      Array.prototype.forEach.call(svg.querySelectorAll('polyline.band-edge'), function (line) {
        var p = nearest(points(line), x);
        if (p === null) { return; }
        var v = v0 + (1 - (p[1] - top) / ph) * (v1 - v0);
        var span = document.createElement('div');
        span.textContent = line.getAttribute('data-label') + ': ' + fmt(v - below, d.unit);
        bands.unshift(span.outerHTML);
        below = v;
      });
      tip.innerHTML = rows.concat(bands).join('');
      tip.style.display = 'block';
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + 'px';
      tip.style.top = (ev.clientY + 14) + 'px';
      cursor.setAttribute('x1', x); cursor.setAttribute('x2', x);
      cursor.setAttribute('visibility', 'visible');
    });
    svg.addEventListener('mouseleave', function () {
      tip.style.display = 'none'; cursor.setAttribute('visibility', 'hidden');
    });
  });
})();
"""

__all__ = ["CSS", "JS"]
