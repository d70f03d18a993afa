"""``memsleuth rules``: print the growth-aware Prometheus alert rules (memsleuth.fleet.alert_rules)."""

from __future__ import annotations

import argparse

from memsleuth.cli.env import Env
from memsleuth.cli.options import parse_duration

HELP = """\
Print a Prometheus rules file (YAML) whose alerts judge growth, not levels,
over node_exporter's plain node_memory_*_bytes metrics.  A bucket alerts when
it grew through the whole --range window (OLS slope above a floor, each third
above the one before) and still grows (the last twelfth above the one before):
reclaimable slab while legacy used (MemTotal - MemFree) is above
--legacy-used, which MemAvailable alerts never see; unreclaimable slab, with
the time to 90% used; anonymous memory when predict_linear over MemAvailable
reaches 90% used within --horizon; shmem.  Each alert says what it means and
what to run on the host.  docs/alerts.md explains every rule.  --json prints
the same rules as JSON (schema memsleuth.rules/1)."""

EXAMPLES = """\
  memsleuth rules > /etc/prometheus/rules/memsleuth.yml
  memsleuth rules --range 12h --job node --match 'cluster=~"lb-.*"' --for 1h
  memsleuth rules | promtool check rules /dev/stdin"""

SCHEMA = "memsleuth.rules/1"


def _seconds(text: str) -> int:
    return round(parse_duration(text))


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage (e.g. 80)") from None
    return value / 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--range", dest="range_s", type=_seconds, default=6 * 3600, metavar="DURATION",
                        help="the growth window: a bucket must grow through all of it (default 6h; "
                             "at least 1h; longer is slower to fire and harder to fool)")
    parser.add_argument("--job", metavar="NAME",
                        help="only series with job=\"NAME\" (the node_exporter scrape job)")
    parser.add_argument("--match", metavar="MATCHERS", action="append", default=[],
                        help="more label matchers for every selector, e.g. 'cluster=\"lb\",env!=\"dev\"' "
                             "(repeatable)")
    parser.add_argument("--for", dest="for_s", type=_seconds, metavar="DURATION",
                        help="the 'for' of every rule (default: a third of --range for the growth "
                             "rules, 30m for the anonymous-memory forecast)")
    parser.add_argument("--legacy-used", type=_percent, default=0.8, metavar="PERCENT",
                        help="legacy used (MemTotal - MemFree) above which reclaimable slab growth "
                             "alerts (default 80)")
    parser.add_argument("--horizon", dest="horizon_s", type=_seconds, default=24 * 3600, metavar="DURATION",
                        help="how far predict_linear looks ahead on MemAvailable (default 24h)")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.fleet.alert_rules import (
        RuleOptions,
        duration,
        job_matcher,
        parse_matchers,
        rules_file,
        to_yaml,
    )
    from memsleuth.version import __version__

    matchers = ([job_matcher(args.job)] if args.job else []) + [
        m for text in args.match for m in parse_matchers(text)]
    options = RuleOptions(range_s=args.range_s, matchers=tuple(matchers), for_s=args.for_s,
                          legacy_used=args.legacy_used, horizon_s=args.horizon_s)
    doc = rules_file(options)
    if env.json:
        env.emit_json({"schema": SCHEMA, "range": duration(options.range_s),
                       "selector": list(options.matchers), **doc})
        return 0
    env.stdout.write(to_yaml(doc, header=(
        f"memsleuth {__version__}: growth-aware memory alerts over node_exporter's node_memory_*_bytes",
        f"range {duration(options.range_s)}, selector {{{','.join(options.matchers)}}}; "
        "what each rule means: docs/alerts.md",
    )))
    return 0
