"""``memsleuth exporter``: Prometheus ``/metrics`` on loopback, or a node_exporter textfile."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from memsleuth.cli.commands.record import DEFAULT_DB
from memsleuth.cli.env import Env
from memsleuth.cli.options import parse_duration
from memsleuth.errors import UsageError

DEFAULT_LISTEN = "127.0.0.1:9847"

HELP = f"""\
Serve memsleuth's metrics to Prometheus: the accounting buckets and the
unaccounted gap, legacy and available-based "used", dentry-state (negative
dentries inferred on kernels without nr_negative), and the latest
diagnosis as metrics (rate and hours to 90% of each finding, its
confidence, the signature rules matched), with scrape_success and
scrape_duration_seconds per source.  Slab caches (--slab) and the top
processes by PSS (--top N) are opt-in: they add a series per cache or
process.  Findings come from the record store (--db, default {DEFAULT_DB}
if it exists) over the last --window, recomputed in the background at most
every --diagnose-interval.  Listens on 127.0.0.1 only unless --listen says
otherwise; --web.config.file takes node_exporter's file (TLS, basic auth).
--textfile writes the same text atomically for node_exporter's textfile
collector.  SIGTERM or SIGINT stops it (exit 0).  The metric table is in
docs/metrics.md."""

EXAMPLES = """\
  memsleuth exporter                                 # http://127.0.0.1:9847/metrics
  memsleuth exporter --slab --slab-include 'dentry' --slab-include '*inode*' --top 10
  memsleuth exporter --listen 0.0.0.0:9847 --web.config.file /etc/memsleuth/web.yml
  memsleuth exporter --textfile /var/lib/node_exporter/textfile/memsleuth.prom --interval 60
  memsleuth exporter --once                          # print one scrape and exit
  systemctl enable --now memsleuth-exporter          # contrib/memsleuth-exporter.service"""


def _positive(text: str) -> float:
    """A duration above zero (``90``, ``90s``, ``5m``, ``6h``); ``nan``, ``-1``, ``1e309`` refused."""
    value = parse_duration(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    web = parser.add_argument_group("serving")
    web.add_argument("--listen", metavar="HOST:PORT", default=DEFAULT_LISTEN,
                     help=f"address to serve /metrics on (default {DEFAULT_LISTEN}: loopback only; "
                          "port 0 picks a free one)")
    web.add_argument("--web.config.file", dest="web_config_file", metavar="FILE",
                     help="node_exporter's web config (YAML): tls_server_config {cert_file, key_file}, "
                          "basic_auth_users {user: bcrypt hash}")
    web.add_argument("--min-interval", type=parse_duration, default=1.0, metavar="SECONDS",
                     help="scrapes within this long of the last capture share it (default 1)")
    web.add_argument("--scrape-timeout", type=_positive, default=10.0, metavar="SECONDS",
                     help="a source not read by then reports scrape_success 0 (default 10)")
    out = parser.add_argument_group("textfile")
    out.add_argument("--textfile", metavar="PATH",
                     help="write the exposition to PATH (atomically) instead of serving it")
    out.add_argument("--once", action="store_true",
                     help="one capture, then exit: to --textfile, or to stdout without it")
    out.add_argument("--interval", type=_positive, default=15.0, metavar="SECONDS",
                     help="seconds between --textfile writes (default 15)")
    what = parser.add_argument_group("what to export")
    what.add_argument("--slab", action="store_true", help="bytes per slab cache (one series per cache)")
    what.add_argument("--slab-include", action="append", default=[], metavar="GLOB",
                      help="only caches matching GLOB (repeatable; implies --slab)")
    what.add_argument("--slab-exclude", action="append", default=[], metavar="GLOB",
                      help="leave out caches matching GLOB (repeatable; implies --slab)")
    what.add_argument("--top", type=int, default=0, metavar="N", help="PSS of the N largest processes")
    diag = parser.add_argument_group("findings")
    diag.add_argument("--db", metavar="PATH",
                      help=f"the record store to diagnose (default {DEFAULT_DB}, if it exists; not with "
                           "--root)")
    diag.add_argument("--history-root", dest="history_roots", nargs="+", metavar="PATH", default=[],
                      help="diagnose these bundles/roots (in capture-time order) instead of a store")
    diag.add_argument("--window", type=_positive, default=6 * 3600.0, metavar="DURATION",
                      help="store history one diagnosis reads (default 6h)")
    diag.add_argument("--diagnose-interval", type=_positive, default=300.0, metavar="SECONDS",
                      help="recompute the findings at most this often (default 300)")


def run(args: argparse.Namespace, env: Env) -> int:
    from memsleuth.exporter.app import ExporterOptions, build
    from memsleuth.exporter.collector import exposition, registry_for
    from memsleuth.exporter.textfile import write_atomic
    from memsleuth.exporter.web import ExporterServer, load_web_config, parse_listen

    if env.json:
        raise UsageError("the exporter writes the Prometheus text format, not --json")
    if args.top < 0:
        raise UsageError("--top must be >= 0")
    if args.db is not None and args.history_roots:
        raise UsageError("give --db or --history-root, not both")
    if args.db is not None and not os.path.exists(args.db):
        raise UsageError(f"--db {args.db}: no such store (start 'memsleuth record --db {args.db}')")
    if args.textfile is not None and not os.path.isdir(os.path.dirname(os.path.abspath(args.textfile))):
        raise UsageError(f"--textfile {args.textfile}: no such directory")
    serving = args.textfile is None and not args.once
    config = load_web_config(args.web_config_file) if args.web_config_file else None
    if serving:
        parse_listen(args.listen)
    elif args.web_config_file:
        raise UsageError("--web.config.file is for serving; --textfile and --once serve nothing")
    options = ExporterOptions(
        slab=args.slab or bool(args.slab_include) or bool(args.slab_exclude),
        slab_include=tuple(args.slab_include), slab_exclude=tuple(args.slab_exclude), top=args.top,
        db=args.db, history_roots=tuple(args.history_roots), window=args.window,
        diagnose_interval=args.diagnose_interval, min_interval=args.min_interval,
        scrape_timeout=args.scrape_timeout)
    # a --root is another host (or another time): this host's store does not describe it
    default_db = None if getattr(args, "root", None) else DEFAULT_DB
    collector = build(env.host(), options, default_db=default_db, log=env.note)
    if not collector.diagnosis.enabled:
        env.note(collector.diagnosis.latest().error or "no diagnosis")
    registry = registry_for(collector)

    if args.once:
        collector.diagnosis.run_now()
        body, _ = exposition(registry)
        if args.textfile is None:
            env.stdout.write(body.decode())
            env.stdout.flush()
        else:
            write_atomic(args.textfile, body)
        return 0

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        collector.diagnosis.refresh()  # the first diagnosis starts now, not at the first scrape
        if args.textfile is not None:
            print(f"memsleuth: exporter writing {args.textfile} every {args.interval:g} s", file=env.stderr,
                  flush=True)
            failing = False
            while not stop.is_set():
                try:
                    write_atomic(args.textfile, exposition(registry)[0])
                    failing = False
                except OSError as exc:  # a full disk is a gap in the file's updates, not an exit
                    if not failing:
                        env.note(f"cannot write {args.textfile}: {exc.strerror}; retrying every "
                                 f"{args.interval:g} s")
                    failing = True
                stop.wait(args.interval)
            return 0
        server = ExporterServer(registry, listen=args.listen, config=config, log=env.note)
        server.start()
        print(f"memsleuth: exporter listening on {server.url}", file=env.stderr, flush=True)
        if not _loopback(server.address[0]) and (config is None or not (config.tls and config.users)):
            env.note("listening beyond loopback without TLS and basic auth: process names and memory "
                     "figures are readable by anyone who can reach the port (see --web.config.file)")
        try:
            while not stop.wait(1.0):
                pass
        finally:
            server.stop()
        print("memsleuth: exporter stopped", file=env.stderr, flush=True)
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.stderr.flush()


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
