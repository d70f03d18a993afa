"""``memsleuth trace``: per command (and parent) and per process counts, with the footer.

Views may not import the trace layer (tests/test_layers.py), so this renders
the JSON-ready dict that :func:`memsleuth.trace.run.result_json` builds: one
model for both the terminal and ``--json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.host import HostMeta
from memsleuth.views.common import Column, fmt_int, fmt_rate, host_json, table

SCHEMA = "memsleuth.trace/1"


def _parent(row: Mapping[str, Any]) -> str:
    if row.get("ppid") is None:
        return "exited" if row.get("parent_source") == "exited" else "-"
    comm = row.get("parent_comm")
    return f"{row['ppid']} {comm}" if comm else str(row["ppid"])


COMMAND_COLUMNS: tuple[Column, ...] = (
    Column("events", "EVENTS", fmt_int, meaning="events counted for the command under this parent"),
    Column("events_per_second", "PER SEC", fmt_rate, meaning="EVENTS / seconds traced"),
    Column("processes", "PROCS", fmt_int, meaning="distinct pids with this command and parent"),
    Column("comm", "COMMAND", str, justify="left", no_wrap=True, max_width=18,
           meaning="the task's comm (at exit, when it exited during the trace)"),
    Column("parent", "PARENT", str, justify="left", no_wrap=True, max_width=24,
           meaning="parent pid and comm (fork event, or /proc while the process lived)"),
)

PROCESS_COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID", str),
    Column("events", "EVENTS", fmt_int),
    Column("events_per_second", "PER SEC", fmt_rate),
    Column("comm", "COMMAND", str, justify="left", no_wrap=True, max_width=16),
    Column("parent", "PARENT", str, justify="left", no_wrap=True, max_width=22),
    Column("top_event", "TOP EVENT", str, justify="left", no_wrap=True, max_width=16),
)


def trace_json(doc: Mapping[str, Any], meta: HostMeta, source: str) -> dict[str, Any]:
    return {"schema": SCHEMA, "host": host_json(meta, source), **doc}


def _title(doc: Mapping[str, Any]) -> str:
    secs = f"{doc['seconds_traced']:.1f}s"
    if doc["interrupted"]:
        secs += f" (interrupted; asked for {doc['seconds_requested']:g}s)"
    if doc["kind"] == "slab":
        cache = doc["cache"]
        return f"kmem_cache_alloc of {cache['event_name']} for {secs}: {doc['events']:,} allocations"
    return (f"failed path lookups (ENOENT) for {secs}: {doc['events']:,} "
            f"over {len(doc['events_traced'])} syscalls")


def render_trace(doc: Mapping[str, Any], *, compact: bool = False,
                 limit: int | None = None) -> RenderableType:
    """The trace; ``compact`` (inside ``diagnose``): the by-command table and the restore note;
    ``limit``: at most that many commands and processes."""
    if limit is not None:
        doc = {**doc, "commands": doc["commands"][:limit], "processes": doc["processes"][:limit]}
    parts: list[RenderableType] = [Text(_title(doc), style="bold")]
    cache = doc.get("cache")
    if cache and cache["merged"]:
        others = [n for n in cache["group"] if n != cache["event_name"]]
        parts.append(Text(
            f"{cache['requested']} is a merged SLUB cache: the tracepoint names the merged cache "
            f"'{cache['event_name']}', so these counts include {', '.join(others) or 'its aliases'} "
            f"({len(cache['group'])} names)."))
    if not doc["commands"]:
        parts.append(Text("no matching events from any process in the window."))
    else:
        parts.append(Text(""))
        parts.append(Text(f"by command and parent ({doc['commands_total']} in all)", style="bold"))
        rows = [{**c, "parent": _parent(c)} for c in doc["commands"]]
        parts.append(table(COMMAND_COLUMNS, rows))
    if doc["commands"] and not compact:
        parts.append(Text(""))
        parts.append(Text(f"by process ({doc['processes_total']} in all)", style="bold"))
        prow = [{**p, "parent": _parent(p),
                 "top_event": next(iter(p["by_event"]), "-").removeprefix("sys_")}
                for p in doc["processes"]]
        parts.append(table(PROCESS_COLUMNS, prow))
    notes = []
    if doc["dropped_over_cap"]:
        notes.append(f"{doc['dropped_over_cap']:,} events past --max-events "
                     f"{doc['max_events']:,} were dropped uncounted")
    if doc["lost_in_kernel"]:
        notes.append(f"{doc['lost_in_kernel']:,} events lost in the ring buffer "
                     "(raise --buffer-kb)")
    for r in doc["repairs"]:
        notes.extend(f"repaired: {a}" for a in r["actions"])
    tracefs = doc["tracefs"]
    notes.append(f"tracefs instance {tracefs['instance']} removed"
                 + ("; tracefs mounted for the trace and unmounted" if tracefs["mounted_by_memsleuth"]
                    else "") + "; tracing state restored")
    if not compact:
        notes.append(f"overhead: {doc['overhead']}")
    parts.append(Text(""))
    parts.extend(Text(n, style="dim") for n in notes)
    return Group(*parts)
