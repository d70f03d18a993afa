"""``memsleuth fleet``: rank a fleet's hosts by what grows and when they cross 90%, via Prometheus."""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from memsleuth.cli.env import Env
from memsleuth.cli.options import parse_duration
from memsleuth.errors import UsageError

if TYPE_CHECKING:
    from memsleuth.fleet.client import Credentials

HELP = """\
Rank every host of a fleet by what grows in its memory, from the history a
Prometheus (or a compatible API) already holds: node_exporter's meminfo
gauges (node_memory_*_bytes), and memsleuth exporter families where they are
scraped (memsleuth_slab_cache_bytes, memsleuth_dentries,
memsleuth_signature_match), which name the slab cache and the signature.

Every host is screened with whole-range instant queries, one per bucket,
batched per --group-by value (or by instance) so that no query loads more
than half of the server's --query.max-samples.  The --top N hosts whose
reclaimable or unreclaimable slab, anonymous memory, shmem, page tables or
kernel stacks grow fastest are fetched in full (one range query each, at most
11,000 points per series, a step of at least 60 s) and diagnosed by the same
detector and signature rules as 'memsleuth diagnose'.

Prints the ranked hosts (bucket, rate, class, time to 80% and 90%,
confidence, coverage), the groups of hosts with the same signature within
each group, and the drain list: the hosts that cross 90% first, and when.
Hosts that joined or left inside the range, or whose scrapes have gaps, are
judged on what exists and marked.  Credentials come from files only.
Exit status: 0 nothing grows, 1 hosts grow, 2 error."""

EXAMPLES = """\
  memsleuth fleet --prometheus http://prom:9090 --match '{job="node",cluster="lb-bj"}'
  memsleuth fleet --prometheus http://prom:9090 --group-by cluster --range 7d --top 30
  memsleuth fleet --prometheus https://prom.example --bearer-token-file ~/.prom-token --json
  memsleuth fleet --prometheus http://127.0.0.1:9090 --end 2024-01-01T00:00:00Z --range 3d"""


def parse_end(text: str) -> float:
    """``now``, Unix seconds, or an ISO date and time (UTC unless it says otherwise)."""
    if text == "now":
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: not 'now', Unix seconds or a date (2024-01-01T00:00Z)") from None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prometheus", required=True, metavar="URL",
                        help="base URL of the Prometheus-compatible API (http://prom:9090)")
    parser.add_argument("--match", metavar="SELECTOR", default=None,
                        help="label matchers selecting the hosts, e.g. '{job=\"node\",cluster=\"lb-bj\"}'")
    parser.add_argument("--range", dest="range_s", type=parse_duration, default=7 * 86400.0,
                        metavar="DURATION",
                        help="the window judged, ending at --end (default 7d)")
    parser.add_argument("--end", type=parse_end, default=None, metavar="WHEN",
                        help="end of the window: now (default), Unix seconds or a date (2024-01-01T00:00Z)")
    parser.add_argument("--group-by", metavar="LABEL",
                        help="batch the queries and group the signatures by this label (cluster)")
    parser.add_argument("--top", type=int, default=20, metavar="N",
                        help="fetch and diagnose the N hosts that grow fastest (default 20)")
    parser.add_argument("--host", dest="hosts", action="append", default=[], metavar="INSTANCE",
                        help="also fetch and diagnose this instance, whatever the screen says (repeatable)")
    parser.add_argument("--max-samples", type=int, default=50_000_000, metavar="N",
                        help="the server's --query.max-samples (default 50000000); a query uses at most half")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="client timeout of each request (default 60)")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--basic-auth-file", metavar="FILE", help="a file holding one line user:password")
    auth.add_argument("--bearer-token-file", metavar="FILE", help="a file holding a bearer token")


def credentials(args: argparse.Namespace) -> Credentials | None:
    from memsleuth.fleet.client import Credentials

    if args.basic_auth_file:
        line = _read_secret(args.basic_auth_file, "--basic-auth-file")
        user, colon, password = line.partition(":")
        if not colon or not user:
            raise UsageError(f"--basic-auth-file {args.basic_auth_file}: not one line user:password")
        return Credentials(basic=(user, password))
    if args.bearer_token_file:
        token = _read_secret(args.bearer_token_file, "--bearer-token-file")
        if not token:
            raise UsageError(f"--bearer-token-file {args.bearer_token_file}: empty")
        return Credentials(bearer=token)
    return None


def _read_secret(path: str, option: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path}: cannot read it ({exc.__class__.__name__})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else ""


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.collect.rules import load_rules
    from memsleuth.fleet.client import PromClient
    from memsleuth.fleet.plan import check_label, match_inner
    from memsleuth.fleet.run import FleetRequest, run_fleet

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    if args.range_s < 600:
        raise UsageError("--range must be at least 10m")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if getattr(args, "root", None):
        raise UsageError("fleet reads Prometheus, not --root")
    inner = match_inner(args.match)
    group_by = check_label(args.group_by, "--group-by") if args.group_by else None
    end = args.end if args.end is not None else time.time()
    rules = load_rules([])
    client = PromClient(args.prometheus, timeout=args.timeout, credentials=credentials(args))
    req = FleetRequest(inner=inner, match=args.match or "{}", range_s=args.range_s, end=end,
                       group_by=group_by, top=args.top, max_samples=args.max_samples,
                       hosts=tuple(args.hosts))
    tty = env.stderr.isatty()

    def progress(phase: str, done: int, total: int) -> None:
        if tty:
            print(f"\r\033[Kmemsleuth: {phase} {done}/{total}", end="", file=env.stderr, flush=True)

    try:
        report = run_fleet(client, req, rules, progress=progress)
    finally:
        if tty:
            print("\r\033[K", end="", file=env.stderr, flush=True)
        client.close()
    doc = report.to_json()
    if env.json:
        env.emit_json(doc)
    else:
        from memsleuth.views.fleet import render_fleet

        piped = not env.console.is_terminal
        env.console.print(render_fleet(doc), crop=not piped, soft_wrap=piped)
    return 1 if report.diagnosed else 0


__all__ = ["EXAMPLES", "HELP", "add_arguments", "credentials", "parse_end", "run"]
