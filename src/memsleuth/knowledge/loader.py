"""Load signature rules: the built-in ones, then the user's.

Built-in rules live in ``memsleuth/knowledge/rules/*.toml``; a user adds
rules from directories given with ``--rules DIR`` or ``MEMSLEUTH_RULES``
(``os.pathsep``-separated).  A malformed *user* file never stops the
built-ins from loading: it is skipped and reported in
:attr:`RuleSet.errors` with its file and field.  A malformed *built-in*
is a bug and raises.  A user rule with a built-in's id replaces it (the
replacement is reported too, so nobody is surprised).

Rule files are configuration, not kernel data, so they are read here
rather than through :class:`~memsleuth.host.Host`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from memsleuth.knowledge.schema import Rule, RuleError, validate_rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

ENV_RULES = "MEMSLEUTH_RULES"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    rules: tuple[Rule, ...]
    #: problems with user files: "FILE: FIELD: what is wrong"
    errors: tuple[str, ...] = ()
    #: user rules that replaced a built-in of the same id
    overrides: tuple[str, ...] = ()
    by_id: Mapping[str, Rule] = field(default_factory=dict)

    def get(self, rule_id: str) -> Rule | None:
        return self.by_id.get(rule_id)


def parse_rule_text(text: str, source: str) -> Rule:
    """One rule from TOML text; :class:`RuleError` names ``source`` and the field."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(source, "", f"not valid TOML: {exc}") from None
    return validate_rule(data, source)


def builtin_rules() -> tuple[Rule, ...]:
    """Every rule shipped with memsleuth, sorted by id."""
    out = []
    root = resources.files("memsleuth.knowledge").joinpath("rules")
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out.append(parse_rule_text(entry.read_text(encoding="utf-8"), f"built-in rules/{entry.name}"))
    return tuple(sorted(out, key=lambda r: r.id))


def user_rule_dirs(dirs: Iterable[str] = (), env: Mapping[str, str] | None = None) -> list[str]:
    """``--rules`` directories first, then ``$MEMSLEUTH_RULES``."""
    out = list(dirs)
    raw = (os.environ if env is None else env).get(ENV_RULES, "")
    out += [d for d in raw.split(os.pathsep) if d]
    return out


def load_rules(dirs: Iterable[str] = (), env: Mapping[str, str] | None = None) -> RuleSet:
    """Built-in rules plus the user's; bad user files are reported, not fatal."""
    rules: dict[str, Rule] = {r.id: r for r in builtin_rules()}
    errors: list[str] = []
    overrides: list[str] = []
    for d in user_rule_dirs(dirs, env):
        path = Path(d)
        if not path.is_dir():
            errors.append(f"{d}: not a directory of rule files (from --rules or {ENV_RULES})")
            continue
        for f in sorted(path.glob("*.toml")):
            try:
                rule = parse_rule_text(f.read_text(encoding="utf-8"), str(f))
            except RuleError as exc:
                errors.append(str(exc))
                continue
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(f"{f}: cannot read: {exc}")
                continue
            if rule.id in rules:
                overrides.append(f"{f}: replaces the rule {rule.id!r} from {rules[rule.id].source}")
            rules[rule.id] = rule
    ordered = tuple(sorted(rules.values(), key=lambda r: r.id))
    return RuleSet(rules=ordered, errors=tuple(errors), overrides=tuple(overrides),
                   by_id={r.id: r for r in ordered})


__all__ = ["ENV_RULES", "RuleSet", "builtin_rules", "load_rules", "parse_rule_text", "user_rule_dirs"]
