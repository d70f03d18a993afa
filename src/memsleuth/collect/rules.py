"""Read the signature rule files: the built-in ones (package data), then the user's.

Rule files are configuration, not kernel data, so they are read here rather
than through :class:`~memsleuth.host.Host`; the texts go to the pure
:func:`memsleuth.knowledge.loader.rules_from_texts`, which says what each
file holds and what is wrong with it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path

from memsleuth.knowledge.loader import ENV_RULES, RuleSet, parse_builtin_rules, rules_from_texts
from memsleuth.knowledge.schema import Rule


def builtin_rule_files() -> list[tuple[str, str]]:
    """``(file name, text)`` of every ``rules/*.toml`` shipped with memsleuth, by name."""
    root = resources.files("memsleuth.knowledge").joinpath("rules")
    return [(entry.name, entry.read_text(encoding="utf-8"))
            for entry in sorted(root.iterdir(), key=lambda e: e.name) if entry.name.endswith(".toml")]


def builtin_rules() -> tuple[Rule, ...]:
    """Every rule shipped with memsleuth, sorted by id."""
    return parse_builtin_rules(builtin_rule_files())


def user_rule_dirs(dirs: Iterable[str] = (), env: Mapping[str, str] | None = None) -> list[str]:
    """``--rules`` directories first, then ``$MEMSLEUTH_RULES``."""
    out = list(dirs)
    raw = (os.environ if env is None else env).get(ENV_RULES, "")
    out += [d for d in raw.split(os.pathsep) if d]
    return out


def _user_rule_files(dirs: Iterable[str]) -> Iterator[tuple[str, str] | str]:
    for d in dirs:
        path = Path(d)
        if not path.is_dir():
            yield f"{d}: not a directory of rule files (from --rules or {ENV_RULES})"
            continue
        for f in sorted(path.glob("*.toml")):
            try:
                yield str(f), f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                yield f"{f}: cannot read: {exc}"


def load_rules(dirs: Iterable[str] = (), env: Mapping[str, str] | None = None) -> RuleSet:
    """Built-in rules plus the user's; bad user files are reported, not fatal."""
    return rules_from_texts(builtin_rule_files(), _user_rule_files(user_rule_dirs(dirs, env)))


__all__ = ["ENV_RULES", "builtin_rule_files", "builtin_rules", "load_rules", "user_rule_dirs"]
