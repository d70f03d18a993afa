"""Signature rules from their texts: the built-in ones, then the user's.

Built-in rules live in ``memsleuth/knowledge/rules/*.toml``; a user adds
rules from directories given with ``--rules DIR`` or ``MEMSLEUTH_RULES``
(``os.pathsep``-separated).  A malformed *user* file never stops the
built-ins from loading: it is skipped and reported in
:attr:`RuleSet.errors` with its file and field.  A malformed *built-in*
is a bug and raises.  A user rule with a built-in's id replaces it (the
replacement is reported too, so nobody is surprised).

Nothing here reads files: :func:`memsleuth.collect.rules.load_rules` reads
them and hands the texts to :func:`rules_from_texts`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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


def parse_builtin_rules(files: Iterable[tuple[str, str]]) -> tuple[Rule, ...]:
    """The shipped rules from ``(file name, text)`` pairs, sorted by id; a bad one raises."""
    out = [parse_rule_text(text, f"built-in rules/{name}") for name, text in files]
    return tuple(sorted(out, key=lambda r: r.id))


def rules_from_texts(builtin: Iterable[tuple[str, str]],
                     user: Iterable[tuple[str, str] | str] = ()) -> RuleSet:
    """Built-in rules plus the user's; bad user files are reported, not fatal.

    ``builtin``: ``(file name, text)`` of each shipped rule file.  ``user``:
    ``(path, text)`` of each user rule file in the order they are read, or
    a string for a problem met reading them (a missing directory, an
    unreadable file), kept in that place in :attr:`RuleSet.errors`.
    """
    rules: dict[str, Rule] = {r.id: r for r in parse_builtin_rules(builtin)}
    errors: list[str] = []
    overrides: list[str] = []
    for item in user:
        if isinstance(item, str):
            errors.append(item)
            continue
        path, text = item
        try:
            rule = parse_rule_text(text, path)
        except RuleError as exc:
            errors.append(str(exc))
            continue
        if rule.id in rules:
            overrides.append(f"{path}: replaces the rule {rule.id!r} from {rules[rule.id].source}")
        rules[rule.id] = rule
    ordered = tuple(sorted(rules.values(), key=lambda r: r.id))
    return RuleSet(rules=ordered, errors=tuple(errors), overrides=tuple(overrides),
                   by_id={r.id: r for r in ordered})


__all__ = ["ENV_RULES", "RuleSet", "parse_builtin_rules", "parse_rule_text", "rules_from_texts"]
