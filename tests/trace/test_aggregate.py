"""Pure counting of trace_pipe lines (captured on 6.18 from a private instance)."""

from __future__ import annotations

from memsleuth.trace.aggregate import PARENT_EXITED, PARENT_FORK, PARENT_PROC, Counter, by_command

LINES = [
    b"# tracer: nop",
    b"            bash-27001   [000] .....  9763.974674: sched_process_fork: comm=bash pid=27001 "
    b"child_comm=bash child_pid=27007",
    b"        curl probe-27007   [001] .....  9763.975001: sys_faccessat2 -> 0xfffffffffffffffe",
    b"        curl probe-27007   [001] .....  9763.975002: sys_faccessat2 -> 0xfffffffffffffffe",
    b"        curl probe-27007   [001] .....  9763.975003: sys_newfstatat -> 0xfffffffffffffffe",
    b"             cat-27007   [001] .....  9763.975766: sched_process_exit: comm=curl probe pid=27007 "
    b"prio=120 group_dead=true",
    b"         python3-24716   [001] .....  9657.934698: kmem_cache_alloc: call_site=sk_prot_alloc+0x32/0x100"
    b" ptr=00000000385854df name=UDP bytes_req=1344 bytes_alloc=1344 gfp_flags=GFP_KERNEL node=-1",
    b"           <...>-24800   [000] .....  9657.934700: sys_openat -> 0xfffffffffffffffe",
]


def test_counts_per_process_with_parent_and_exit_comm() -> None:
    c = Counter()
    c.feed(LINES)
    assert c.events == 5
    assert c.take_new_pids() == [24716, 24800, 27007]
    c.proc_parents[24716] = (1, "systemd")
    c.gone.add(24800)
    rows = {p.pid: p for p in c.processes(2.0)}
    probe = rows[27007]
    assert probe.comm == "curl probe"
    assert probe.events == 3
    assert probe.events_per_second == 1.5
    assert dict(probe.by_event) == {"sys_faccessat2": 2, "sys_newfstatat": 1}
    assert (probe.ppid, probe.parent_comm, probe.parent_source, probe.exited) == \
        (27001, "bash", PARENT_FORK, True)
    assert (rows[24716].ppid, rows[24716].parent_source) == (1, PARENT_PROC)
    assert rows[24800].comm == "<...>" and rows[24800].parent_source == PARENT_EXITED


def test_cap_drops_and_counts() -> None:
    c = Counter(max_events=2)
    c.feed(LINES)
    assert c.events == 2
    assert c.dropped_over_cap == 3
    assert sum(p.events for p in c.processes(1.0)) == 2


def test_short_lived_children_group_by_command_and_parent() -> None:
    c = Counter()
    lines = []
    for child in (101, 102, 103):
        lines.append(f"  sh-50 [000] ..... 1.0: sched_process_fork: comm=sh pid=50 child_comm=sh "
                     f"child_pid={child}".encode())
        lines += [f"  probe-{child} [001] ..... 1.1: sys_access -> 0xfffffffffffffffe".encode()] * 10
    c.feed(lines)
    groups = by_command(c.processes(1.0), 1.0)
    assert len(groups) == 1
    g = groups[0]
    assert (g.comm, g.ppid, g.parent_comm, g.processes, g.events) == ("probe", 50, "sh", 3, 30)
