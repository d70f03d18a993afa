"""The rule schema: what a signature file may say, checked at load time.

A rule is one TOML file (``knowledge/rules/*.toml``, or a user directory
given with ``--rules DIR`` / ``MEMSLEUTH_RULES``).  Validation is plain
Python: every error names the file and the field (``evidence.ratio[1].gt``)
and says what was expected, so a user can fix a rule without reading this
module.  The condition language is deliberately small and has no
expressions at all:

``grows``         series (glob patterns) that must grow; a string or
                  ``{key = "...", class = ["bounded"]}`` to ask for a growth class
``flat``          series that are present and do *not* grow
``present``       series that must exist; ``absent``: series that must not
``ratio``         ``{num, den, gt|ge|lt|le, use = "last"|"delta"|"first"|"max", name}``;
                  ``num``/``den`` are a pattern or a list of patterns, summed
``value``         ``{key, gt|ge|lt|le, use, name}``: one (summed) value
``kernel_cache_reclaimable``  the growing slab caches are counted in SReclaimable
``process``       ``{maps_any, comm_any, cmdline_any}``: some process maps one
                  of these libraries or has one of these names (globs)
``any_of``        a list of condition tables; at least one must hold

Patterns are :func:`fnmatch.fnmatchcase` globs over series keys
(``slab.*_inode_cache.active_objs``, ``proc.*.rss_anon_bytes``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memsleuth.errors import MemsleuthError

#: rule classes (DESIGN.md section 5 plus "symptom" for signals that are not a bucket)
CLASSES = ("leak", "unbounded_cache", "bounded", "normal", "symptom")
#: growth classes a ``grows`` entry may ask for (analysis.findings.GrowthClass values)
GROWTH_CLASSES = ("leak", "unbounded_cache", "bounded", "normal")
USES = ("last", "first", "delta", "max")
REMEDIATION_KINDS = ("fix", "stopgap", "tune", "workaround")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class RuleError(MemsleuthError):
    """A rule file is malformed; the message names the file and the field."""

    def __init__(self, source: str, where: str, detail: str) -> None:
        super().__init__(f"{source}: {where}: {detail}" if where else f"{source}: {detail}")
        self.source = source
        self.where = where
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class Grow:
    pattern: str
    #: growth classes that count; empty = any class except "normal"
    classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """A ratio (``den`` set) or a single value (``den`` is ``None``) against bounds."""

    name: str
    num: tuple[str, ...]
    den: tuple[str, ...] | None
    use: str = "last"
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def holds(self, x: float) -> bool:
        return ((self.gt is None or x > self.gt) and (self.ge is None or x >= self.ge)
                and (self.lt is None or x < self.lt) and (self.le is None or x <= self.le))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessCond:
    maps_any: tuple[str, ...] = ()
    comm_any: tuple[str, ...] = ()
    cmdline_any: tuple[str, ...] = ()
    #: only processes whose own ``proc.<pid>:<start>.*`` series grow count
    growing: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    grows: tuple[Grow, ...] = ()
    flat: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    ratios: tuple[Check, ...] = ()
    values: tuple[Check, ...] = ()
    kernel_cache_reclaimable: bool | None = None
    process: ProcessCond | None = None
    any_of: tuple[Evidence, ...] = ()

    def weight(self) -> int:
        """How specific these conditions are (more conditions = more specific)."""
        own = (len(self.grows) + len(self.flat) + len(self.present) + len(self.absent)
               + len(self.ratios) + len(self.values) + (self.kernel_cache_reclaimable is not None)
               + 2 * (self.process is not None))
        return own + (min(e.weight() for e in self.any_of) if self.any_of else 0)

    def patterns(self) -> tuple[str, ...]:
        """Every series pattern these conditions look at."""
        out: list[str] = [g.pattern for g in self.grows] + list(self.flat) + list(self.present)
        for c in (*self.ratios, *self.values):
            out += list(c.num) + list(c.den or ())
        for e in self.any_of:
            out += list(e.patterns())
        return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True, kw_only=True)
class Remedy:
    kind: str
    text: str
    commands: tuple[str, ...] = ()
    safety: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributionSpec:
    #: slab caches whose aliases and cgroup charge to resolve (default: from ``grows``)
    slab_caches: tuple[str, ...] = ()
    #: libraries (basename globs) whose mappers and versions to report
    libraries: tuple[str, ...] = ()
    #: the one environment key to test in the suspects (live only)
    environ_key: str | None = None
    #: values of ``environ_key`` that mean "already mitigated"
    environ_ok: tuple[str, ...] = ()
    #: what to tell the user when the key is unset or cannot be read
    environ_advice: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    path: str
    expect_top: bool = True
    #: evidence name -> expected number (10% tolerance) or text the diagnosis must contain
    facts: Mapping[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str
    title: str
    description: str
    rule_class: str
    evidence: Evidence
    confirm: tuple[str, ...]
    remediation: tuple[Remedy, ...]
    references: tuple[str, ...]
    example: Example | None
    attribution: AttributionSpec = AttributionSpec()
    #: where the rule came from ("built-in" or the user's file)
    source: str = "built-in"
    #: B.3 row(s) of research/detection.md this rule covers
    covers: tuple[int, ...] = ()


# -- validation -------------------------------------------------------------


class _V:
    """Field access with errors that name the file and the field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, detail: str) -> RuleError:
        return RuleError(self.source, where, detail)

    def table(self, data: object, where: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(where, f"expected a table, got {type(data).__name__}")
        return data

    def only(self, data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
        extra = sorted(set(data) - set(allowed))
        if extra:
            at = f"{where}.{extra[0]}" if where else extra[0]
            raise self.fail(at, f"unknown field (allowed here: {', '.join(allowed)})")

    def string(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True,
               default: str = "") -> str:
        at = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                raise self.fail(at, "required field is missing")
            return default
        value = data[key]
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(at, f"expected a non-empty string, got {value!r}")
        return value

    def strings(self, data: Mapping[str, Any], key: str, where: str, *, allow_one: bool = True,
                required: bool = False) -> tuple[str, ...]:
        at = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                raise self.fail(at, "required field is missing")
            return ()
        value = data[key]
        if isinstance(value, str) and allow_one:
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(at, f"expected a list of non-empty strings, got {value!r}")
        if required and not value:
            raise self.fail(at, "must not be empty")
        return tuple(value)

    def number(self, data: Mapping[str, Any], key: str, where: str) -> float | None:
        if key not in data:
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{where}.{key}", f"expected a number, got {value!r}")
        return float(value)


def _check(v: _V, data: object, where: str, *, ratio: bool) -> Check:
    t = v.table(data, where)
    num_key = "num" if ratio else "key"
    v.only(t, [num_key, *(["den"] if ratio else []), "use", "name", "gt", "ge", "lt", "le"], where)
    num = v.strings(t, num_key, where, required=True)
    den = v.strings(t, "den", where, required=True) if ratio else None
    use = v.string(t, "use", where, required=False, default="last")
    if use not in USES:
        raise v.fail(f"{where}.use", f"expected one of {', '.join(USES)}, got {use!r}")
    bounds = {k: v.number(t, k, where) for k in ("gt", "ge", "lt", "le")}
    if all(b is None for b in bounds.values()):
        raise v.fail(where, "needs at least one bound: gt, ge, lt or le")
    default_name = f"{'+'.join(num)}/{'+'.join(den)}" if den else "+".join(num)
    name = v.string(t, "name", where, required=False, default=default_name)
    return Check(name=name, num=num, den=den, use=use, **bounds)


def _grow(v: _V, data: object, where: str) -> Grow:
    if isinstance(data, str) and data:
        return Grow(pattern=data)
    t = v.table(data, where)
    v.only(t, ["key", "class"], where)
    classes = v.strings(t, "class", where)
    for c in classes:
        if c not in GROWTH_CLASSES:
            raise v.fail(f"{where}.class", f"expected growth classes from {', '.join(GROWTH_CLASSES)}, "
                                           f"got {c!r}")
    return Grow(pattern=v.string(t, "key", where), classes=classes)


_EVIDENCE_FIELDS = ("grows", "flat", "present", "absent", "ratio", "value",
                    "kernel_cache_reclaimable", "process", "any_of")


def _evidence(v: _V, data: object, where: str, *, depth: int = 0) -> Evidence:
    t = v.table(data, where)
    v.only(t, _EVIDENCE_FIELDS if depth == 0 else _EVIDENCE_FIELDS[:-1], where)

    def items(key: str) -> list[object]:
        raw = t.get(key, [])
        if isinstance(raw, Mapping):
            raw = [raw]
        if not isinstance(raw, list):
            raise v.fail(f"{where}.{key}", f"expected a list, got {type(raw).__name__}")
        return raw

    grows = tuple(_grow(v, g, f"{where}.grows[{i}]") for i, g in enumerate(items("grows")))
    ratios = tuple(_check(v, r, f"{where}.ratio[{i}]", ratio=True) for i, r in enumerate(items("ratio")))
    values = tuple(_check(v, r, f"{where}.value[{i}]", ratio=False) for i, r in enumerate(items("value")))
    kcr = t.get("kernel_cache_reclaimable")
    if kcr is not None and not isinstance(kcr, bool):
        raise v.fail(f"{where}.kernel_cache_reclaimable", f"expected true or false, got {kcr!r}")
    process = None
    if "process" in t:
        pw = f"{where}.process"
        pt = v.table(t["process"], pw)
        v.only(pt, ["maps_any", "comm_any", "cmdline_any", "growing"], pw)
        growing = pt.get("growing", False)
        if not isinstance(growing, bool):
            raise v.fail(f"{pw}.growing", f"expected true or false, got {growing!r}")
        process = ProcessCond(maps_any=v.strings(pt, "maps_any", pw), comm_any=v.strings(pt, "comm_any", pw),
                              cmdline_any=v.strings(pt, "cmdline_any", pw), growing=growing)
        if not (process.maps_any or process.comm_any or process.cmdline_any):
            raise v.fail(pw, "needs maps_any, comm_any or cmdline_any")
    any_of = tuple(_evidence(v, e, f"{where}.any_of[{i}]", depth=depth + 1)
                   for i, e in enumerate(items("any_of")))
    ev = Evidence(grows=grows, flat=v.strings(t, "flat", where), present=v.strings(t, "present", where),
                  absent=v.strings(t, "absent", where), ratios=ratios, values=values,
                  kernel_cache_reclaimable=kcr, process=process, any_of=any_of)
    if ev.weight() == 0:
        raise v.fail(where, "no conditions: a rule must need some evidence")
    return ev


_RULE_FIELDS = ("id", "title", "description", "class", "covers", "evidence", "confirm", "remediation",
                "references", "example", "attribution")


def validate_rule(data: object, source: str) -> Rule:
    """Turn one parsed TOML document into a :class:`Rule`, or raise :class:`RuleError`."""
    v = _V(source)
    t = v.table(data, "")
    v.only(t, _RULE_FIELDS, "")
    rid = v.string(t, "id", "")
    if not set(rid) <= _ID_CHARS or rid.startswith("-"):
        raise v.fail("id", f"use lower-case letters, digits and '-', got {rid!r}")
    rule_class = v.string(t, "class", "")
    if rule_class not in CLASSES:
        raise v.fail("class", f"expected one of {', '.join(CLASSES)}, got {rule_class!r}")
    covers = t.get("covers", [])
    if not isinstance(covers, list) or not all(isinstance(c, int) and not isinstance(c, bool)
                                               for c in covers):
        raise v.fail("covers", f"expected a list of integers, got {covers!r}")
    if "evidence" not in t:
        raise v.fail("evidence", "required table is missing")
    evidence = _evidence(v, t["evidence"], "evidence")
    confirm = v.strings(t, "confirm", "", allow_one=False, required=True)
    remedies: list[Remedy] = []
    raw_rem = t.get("remediation")
    if not isinstance(raw_rem, list) or not raw_rem:
        raise v.fail("remediation", "expected one or more [[remediation]] tables")
    for i, r in enumerate(raw_rem):
        w = f"remediation[{i}]"
        rt = v.table(r, w)
        v.only(rt, ["kind", "text", "commands", "safety"], w)
        kind = v.string(rt, "kind", w)
        if kind not in REMEDIATION_KINDS:
            raise v.fail(f"{w}.kind", f"expected one of {', '.join(REMEDIATION_KINDS)}, got {kind!r}")
        remedies.append(Remedy(kind=kind, text=v.string(rt, "text", w),
                               commands=v.strings(rt, "commands", w, allow_one=False),
                               safety=v.string(rt, "safety", w, required=False)))
    references = v.strings(t, "references", "", allow_one=False, required=True)
    example = None
    if "example" in t:
        et = v.table(t["example"], "example")
        v.only(et, ["path", "expect_top", "facts"], "example")
        top = et.get("expect_top", True)
        if not isinstance(top, bool):
            raise v.fail("example.expect_top", f"expected true or false, got {top!r}")
        facts = v.table(et.get("facts", {}), "example.facts")
        for k, val in facts.items():
            if isinstance(val, bool) or not isinstance(val, (int, float, str)):
                raise v.fail(f"example.facts.{k}", f"expected a number or a string, got {val!r}")
        example = Example(path=v.string(et, "path", "example"), expect_top=top,
                          facts={k: (float(x) if not isinstance(x, str) else x) for k, x in facts.items()})
    attribution = AttributionSpec()
    if "attribution" in t:
        w = "attribution"
        at = v.table(t[w], w)
        v.only(at, ["slab_caches", "libraries", "environ_key", "environ_ok", "environ_advice"], w)
        key = v.string(at, "environ_key", w, required=False) or None
        if key is not None and (not key.replace("_", "").isalnum() or "=" in key):
            raise v.fail(f"{w}.environ_key", f"expected a variable name, got {key!r}")
        attribution = AttributionSpec(
            slab_caches=v.strings(at, "slab_caches", w), libraries=v.strings(at, "libraries", w),
            environ_key=key, environ_ok=v.strings(at, "environ_ok", w),
            environ_advice=v.string(at, "environ_advice", w, required=False))
    return Rule(id=rid, title=v.string(t, "title", ""), description=v.string(t, "description", ""),
                rule_class=rule_class, evidence=evidence, confirm=confirm, remediation=tuple(remedies),
                references=references, example=example, attribution=attribution, source=source,
                covers=tuple(covers))


__all__ = ["CLASSES", "AttributionSpec", "Check", "Evidence", "Example", "Grow", "ProcessCond", "Remedy",
           "Rule", "RuleError", "validate_rule"]
