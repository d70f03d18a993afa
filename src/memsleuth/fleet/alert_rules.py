"""Growth-aware Prometheus alert rules over plain node_exporter metrics, as data.

The stock memory alerts are levels: node-mixin's NodeMemoryHighUtilization
(MemAvailable below 10%) and its cousins.  They miss the founding case: a
fleet of 64 GiB CentOS 6 load balancers whose reclaimable dentry slab grew
tens of MB an hour for weeks, until ``free`` said 80-90% used while
MemAvailable, which counts that slab as available, still said ~24%.

The rules here judge growth instead.  A bucket *grows* when, over the whole
window (``range``, 6 h by default):

* its OLS slope (``deriv``) is above a floor in bytes per hour;
* the mean of each third of the window is above the mean of the third
  before it (late-vs-early, twice), by half of what the floor would add;
* the mean of the last twelfth is above the twelfth before it: it still
  grows now.

A cache that fills and then stays flat fails the last test as soon as it
stops, and the first two until it has filled for a third of the window;
with ``for`` at a third of the window (the default) a cache that fills for
less than half the window never fires.  A page cache that fills and drops
is not a slab, anonymous or shmem bucket at all.

Only :mod:`string` templates and numbers: :func:`rules_file` turns
:data:`RULES` and the options into the rules file as a plain dict, and
:func:`to_yaml` writes it (YAML without a YAML library; JSON is the same
dict).  docs/alerts.md explains each rule.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from memsleuth.errors import UsageError

MIB = 1 << 20
HOUR = 3600

#: node_exporter meminfo fields the expressions may name as ``$Field``
NODE_FIELDS = ("MemTotal", "MemFree", "MemAvailable", "Cached", "Shmem", "AnonPages", "SReclaimable",
               "SUnreclaim")

#: what every annotation tells the reader to run on the host
COMMAND = "memsleuth diagnose --watch 3m"

GROUP = "memsleuth-memory-growth"


@dataclass(frozen=True, slots=True, kw_only=True)
class Growth:
    """A bucket that must have grown steadily over the window and still grow."""

    field: str
    #: the OLS slope must exceed this (bytes per hour)
    min_bytes_per_hour: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertTemplate:
    """One alert: ``value`` (what ``$value`` shows) ``and`` the bucket's growth ``and`` ``conditions``.

    ``value`` None: the bucket's slope in bytes per hour (the first growth test).

    Expressions are :class:`string.Template` text: ``$SReclaimable`` is
    ``node_memory_SReclaimable_bytes{SELECTOR}``; ``$range``, ``$horizon``
    and ``$legacy_used`` (a ratio) come from the options.
    """

    alert: str
    severity: str
    grows: Growth
    #: the first operand: its value is the alert's ``$value``; None: the slope (bytes per hour)
    value: str | None = None
    conditions: tuple[str, ...] = ()
    #: None: a third of the range (the growth test's own time scale)
    for_: str | None = None
    summary: str
    description: str


RULES: tuple[AlertTemplate, ...] = (
    AlertTemplate(
        alert="MemsleuthReclaimableSlabGrowing",
        severity="warning",
        grows=Growth(field="SReclaimable", min_bytes_per_hour=8 * MIB),
        conditions=("($MemTotal - $MemFree) / $MemTotal > $legacy_used",),
        summary="Reclaimable slab on {{ $labels.instance }} grows {{ $value | humanize1024 }}B/h "
                "while legacy used is above $legacy_used_percent%",
        description=(
            "SReclaimable (mostly the dentry and inode caches) grew steadily through the last $range "
            "and still grows, at {{ $value | humanize1024 }}B/h, while MemTotal - MemFree (what CentOS 6 "
            "`free` calls used) is above $legacy_used_percent%. MemAvailable counts this slab as "
            "available, so MemAvailable alerts (node-mixin NodeMemoryHighUtilization) stay quiet. "
            "It is an unbounded cache, not lost memory: the kernel can reclaim it, but something keeps "
            "filling it, typically negative dentries from failed lookups (an NSS/curl health probe). "
            "Run `" + COMMAND + "` on the host to name the cache and who fills it."),
    ),
    AlertTemplate(
        alert="MemsleuthUnreclaimableSlabGrowing",
        severity="warning",
        grows=Growth(field="SUnreclaim", min_bytes_per_hour=4 * MIB),
        value="clamp_min(($MemAvailable - 0.1 * $MemTotal) / deriv($SUnreclaim[$range]), 0)",
        summary="Unreclaimable slab on {{ $labels.instance }} grows steadily: "
                "90% used in {{ $value | humanizeDuration }} at this rate",
        description=(
            "SUnreclaim grew steadily through the last $range and still grows. The kernel cannot give "
            "this memory back under pressure: a kernel object leak (a driver, a module, conntrack, "
            "a filesystem) runs the host out of memory unless it is found. At the growth rate of the "
            "last $range, MemAvailable falls to 10% of MemTotal in {{ $value | humanizeDuration }}. "
            "Run `" + COMMAND + "` on the host to name the slab cache and who allocates it."),
    ),
    AlertTemplate(
        alert="MemsleuthAnonGrowthExhaustion",
        severity="warning",
        grows=Growth(field="AnonPages", min_bytes_per_hour=16 * MIB),
        value="clamp_min(($MemAvailable - 0.1 * $MemTotal) / -deriv($MemAvailable[$range]), 0)",
        conditions=("predict_linear($MemAvailable[$range], $horizon_seconds) < 0.1 * $MemTotal",),
        for_="30m",
        summary="Anonymous memory on {{ $labels.instance }} grows steadily: "
                "90% used in {{ $value | humanizeDuration }}",
        description=(
            "AnonPages (process heaps and stacks) grew steadily through the last $range and still "
            "grows, and predict_linear over MemAvailable puts the host above 90% used (available "
            "basis) within $horizon: in {{ $value | humanizeDuration }} at the rate of the last "
            "$range. A process is leaking or a workload is outgrowing the host. Run `" + COMMAND
            + "` on the host to name the processes that grow."),
    ),
    AlertTemplate(
        alert="MemsleuthShmemGrowing",
        severity="warning",
        grows=Growth(field="Shmem", min_bytes_per_hour=8 * MIB),
        summary="Shared memory (tmpfs, shm) on {{ $labels.instance }} grows {{ $value | humanize1024 }}B/h",
        description=(
            "Shmem (tmpfs files, System V and POSIX shared memory, memfd) grew steadily through the "
            "last $range and still grows, at {{ $value | humanize1024 }}B/h. `free` shows it as "
            "buff/cache, but it is not reclaimable without swap: files left in /dev/shm or /run, "
            "or segments nobody removes. Run `" + COMMAND + "` on the host to find them."),
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOptions:
    #: the growth window (seconds)
    range_s: int = 6 * HOUR
    #: label matchers ANDed into every selector, e.g. ('job="node"', 'cluster="lb"')
    matchers: tuple[str, ...] = ()
    #: overrides every rule's ``for`` (seconds); None: each rule's own
    for_s: int | None = None
    #: legacy used (MemTotal - MemFree) above this share of MemTotal (0..1)
    legacy_used: float = 0.8
    #: how far predict_linear looks ahead for the anonymous-memory rule (seconds)
    horizon_s: int = 24 * HOUR


_LABEL = r"[A-Za-z_][A-Za-z0-9_]*"
_MATCHER = re.compile(rf'\s*({_LABEL})\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*(?:,|$)')


def parse_matchers(text: str) -> tuple[str, ...]:
    """``cluster="lb", env!~"dev|test"`` (braces optional) -> ('cluster="lb"', 'env!~"dev|test"')."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out: list[str] = []
    pos = 0
    while pos < len(body.rstrip()):
        m = _MATCHER.match(body, pos)
        if m is None:
            raise UsageError(f"--match {text!r}: expected label matchers such as cluster=\"lb\",env!=\"dev\" "
                             f"(at {body[pos:]!r})")
        out.append(f"{m.group(1)}{m.group(2)}{m.group(3)}")
        pos = m.end()
    return tuple(out)


def job_matcher(job: str) -> str:
    """``node`` -> ``job="node"`` (quotes and backslashes escaped)."""
    return "job=" + json.dumps(job)


def duration(seconds: int) -> str:
    """A Prometheus duration in the largest unit that divides ``seconds``: 21600 -> ``6h``."""
    if seconds <= 0:
        raise UsageError(f"a duration must be positive, not {seconds} s")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _validate(options: RuleOptions) -> None:
    if options.range_s < HOUR:
        raise UsageError(f"--range {duration(options.range_s)}: at least 1h (the last twelfth is "
                         "compared with the one before, and each needs several scrapes)")
    if options.range_s % 12:
        raise UsageError(f"--range {options.range_s}s: a whole number of seconds divisible by 12")
    if not 0 < options.legacy_used < 1:
        raise UsageError(f"--legacy-used {options.legacy_used * 100:g}: a percentage between 0 and 100")
    if options.horizon_s <= 0:
        raise UsageError("--horizon must be positive")
    if options.for_s is not None and options.for_s < 0:
        raise UsageError("--for must not be negative")


def _growth_terms(g: Growth, range_s: int) -> list[str]:
    third, twelfth = range_s // 3, range_s // 12
    floor = g.min_bytes_per_hour
    # means of consecutive windows of a slope r differ by r * window; ask half of the floor's
    third_gap = round(floor * third / HOUR / 2)
    twelfth_gap = round(floor * twelfth / HOUR / 2)
    t, w, m = duration(third), duration(twelfth), f"${g.field}"
    return [
        f"deriv({m}[$range]) * 3600 > {floor}",
        f"avg_over_time({m}[{t}]) > avg_over_time({m}[{t}] offset {t}) + {third_gap}",
        f"avg_over_time({m}[{t}] offset {t}) > avg_over_time({m}[{t}] offset {duration(2 * third)})"
        f" + {third_gap}",
        f"avg_over_time({m}[{w}]) > avg_over_time({m}[{w}] offset {w}) + {twelfth_gap}",
    ]


def _substitutions(options: RuleOptions) -> dict[str, str]:
    selector = "{" + ",".join(options.matchers) + "}" if options.matchers else ""
    subs = {f: f"node_memory_{f}_bytes{selector}" for f in NODE_FIELDS}
    subs.update(range=duration(options.range_s), horizon=duration(options.horizon_s),
                horizon_seconds=str(options.horizon_s), legacy_used=f"{options.legacy_used:g}",
                legacy_used_percent=f"{options.legacy_used * 100:g}")
    return subs


def _expr(t: AlertTemplate, options: RuleOptions, subs: Mapping[str, str]) -> str:
    growth = _growth_terms(t.grows, options.range_s)
    lines = [*([t.value] if t.value is not None else []), *growth, *t.conditions]
    text = "\n".join([lines[0], *(f"and {line}" for line in lines[1:])]) + "\n"
    return string.Template(text).substitute(subs)


def rule(t: AlertTemplate, options: RuleOptions) -> dict[str, Any]:
    """One Prometheus alerting rule (``alert expr for labels annotations``) as a dict."""
    subs = _substitutions(options)
    # the annotations are also Go templates: their own $labels and $value stay as they are
    text_subs = {**subs, "labels": "$labels", "value": "$value"}
    if options.for_s is not None:
        for_text = duration(options.for_s) if options.for_s else "0s"
    else:
        for_text = t.for_ or duration(options.range_s // 3)
    return {
        "alert": t.alert,
        "expr": _expr(t, options, subs),
        "for": for_text,
        "labels": {"severity": t.severity, "bucket": t.grows.field},
        "annotations": {
            "summary": string.Template(t.summary).substitute(text_subs),
            "description": string.Template(t.description).substitute(text_subs),
            "command": COMMAND,
        },
    }


def rules_file(options: RuleOptions, templates: Sequence[AlertTemplate] = RULES) -> dict[str, Any]:
    """The whole rules file (``groups: [{name, rules}]``) for ``options``."""
    _validate(options)
    return {"groups": [{"name": GROUP, "rules": [rule(t, options) for t in templates]}]}


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # a JSON string is a YAML double-quoted scalar
    return json.dumps(str(value), ensure_ascii=False)


def _yaml(value: object, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(v, str) and "\n" in v:
                lines.append(f"{pad}{k}: |")
                lines.extend(f"{pad}  {line}" if line else "" for line in v.rstrip("\n").split("\n"))
            elif isinstance(v, (Mapping, list, tuple)) and v:
                lines.append(f"{pad}{k}:")
                lines.extend(_yaml(v, indent + 2))
            elif isinstance(v, (Mapping, list, tuple)):
                lines.append(f"{pad}{k}: {'{}' if isinstance(v, Mapping) else '[]'}")
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            sub = _yaml(item, indent + 2)
            if isinstance(item, (Mapping, list, tuple)) and sub:
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return lines


def to_yaml(doc: Mapping[str, Any], *, header: Sequence[str] = ()) -> str:
    """``doc`` as YAML: block mappings and sequences, strings double-quoted (JSON escapes), multi-line
    strings (the expressions) as literal blocks; ``header`` lines become ``#`` comments on top."""
    return "".join(f"# {h}\n" for h in header) + "\n".join(_yaml(doc, 0)) + "\n"


__all__ = ["COMMAND", "GROUP", "NODE_FIELDS", "RULES", "AlertTemplate", "Growth", "RuleOptions", "duration",
           "job_matcher", "parse_matchers", "rule", "rules_file", "to_yaml"]
