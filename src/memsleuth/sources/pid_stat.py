"""``/proc/PID/stat``: one line of space-separated fields (see proc(5)).

Units: ``utime``/``stime``/``cutime``/``cstime``/``starttime``/
``delayacct_blkio_ticks``/``guest_time``/``cguest_time`` are clock ticks
(``USER_HZ``, from ``sysconf(_SC_CLK_TCK)``, which :class:`~memsleuth.host.Host`
knows); ``vsize`` and ``rsslim`` are bytes; ``rss`` is in *pages* (the page
size is the host's, so it stays ``rss_pages`` here).  Fault counters are
plain counts since the process started.

Traps:

* ``comm`` is in parentheses and may itself contain spaces, ``(`` and ``)``
  (``prctl(PR_SET_NAME)`` takes any bytes but NUL), and in stat it is *not*
  escaped, so it can even contain a newline.  The only safe split is at the
  *last* ``)``; everything before the first ``(`` is the pid.
* ``comm`` is truncated to 15 bytes (``TASK_COMM_LEN``); workqueue workers
  and kernel threads may show a longer name (up to 63 bytes) on 6.x.
* Fields were appended over time; a field an old kernel does not print is
  ``None`` (``exit_code``, field 52, is from 3.5; ``guest_time`` from
  2.6.24).  Address fields (startcode, kstkesp ...) read 0 unless the
  reader may ptrace the task; they are not typed here.
* ``rsslim`` is ``RLIMIT_RSS`` (unenforced since 2.6); "unlimited" prints as
  ``18446744073709551615``.
* A kernel thread has ``PF_KTHREAD`` (0x00200000) in ``flags``, zero
  ``vsize`` and ``rss``, and no address space: see :attr:`PidStat.is_kernel_thread`.

Two entry points, one split rule: :func:`parse_pid_stat` gives every typed
field from text; :func:`parse_stat_head` gives only what identity and the
race policy need (comm, state, ppid, flags, starttime) from the raw bytes,
for the capture walk, which reads every process of every snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/PID/stat"

#: ``PF_KTHREAD`` from include/linux/sched.h: the task is a kernel thread.
PF_KTHREAD = 0x00200000

#: record field -> index in the fields after ``comm`` (proc(5) field number
#: minus 3).  Fields past :data:`_REQUIRED` may be missing on old kernels.
FIELDS: tuple[tuple[str, int], ...] = (
    ("ppid", 1),
    ("pgrp", 2),
    ("session", 3),
    ("tty_nr", 4),
    ("tpgid", 5),
    ("flags", 6),
    ("minflt", 7),
    ("cminflt", 8),
    ("majflt", 9),
    ("cmajflt", 10),
    ("utime_ticks", 11),
    ("stime_ticks", 12),
    ("cutime_ticks", 13),
    ("cstime_ticks", 14),
    ("priority", 15),
    ("nice", 16),
    ("num_threads", 17),
    ("starttime_ticks", 19),
    ("vsize_bytes", 20),
    ("rss_pages", 21),
    ("rsslim_bytes", 22),
    ("exit_signal", 35),
    ("processor", 36),
    ("rt_priority", 37),
    ("policy", 38),
    ("delayacct_blkio_ticks", 39),
    ("guest_time_ticks", 40),
    ("cguest_time_ticks", 41),
    ("exit_code", 49),
)

#: Fields up to ``rsslim`` have been printed by every kernel we support.
_REQUIRED = 23

#: Fields after ``comm`` that :func:`parse_stat_head` needs (through ``starttime``).
_HEAD_FIELDS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class PidStat:
    """One reading of /proc/PID/stat."""

    pid: int
    #: The task name without the parentheses (``Name:`` in status, unescaped).
    comm: str
    #: One letter: R S D T t Z X I (I = idle kernel thread, 4.14+).
    state: str
    ppid: int
    pgrp: int
    session: int
    tty_nr: int
    tpgid: int
    #: ``PF_*`` task flags; see :data:`PF_KTHREAD`.
    flags: int
    minflt: int
    cminflt: int
    majflt: int
    cmajflt: int
    utime_ticks: int
    stime_ticks: int
    cutime_ticks: int
    cstime_ticks: int
    priority: int
    nice: int
    num_threads: int
    #: Start time after boot; with ``pid`` it is the process's identity.
    starttime_ticks: int
    vsize_bytes: int
    rss_pages: int
    rsslim_bytes: int
    exit_signal: int | None = None
    #: CPU last run on.
    processor: int | None = None
    rt_priority: int | None = None
    policy: int | None = None
    delayacct_blkio_ticks: int | None = None
    guest_time_ticks: int | None = None
    cguest_time_ticks: int | None = None
    exit_code: int | None = None

    @property
    def is_kernel_thread(self) -> bool:
        return bool(self.flags & PF_KTHREAD)


def parse_pid_stat(text: str, *, source: str = SOURCE) -> PidStat:
    """Parse the text of /proc/PID/stat into a :class:`PidStat`."""
    lparen = text.find("(")
    rparen = text.rfind(")")
    if lparen < 0 or rparen < lparen:
        raise ParseError(source, f"no '(comm)' in {text[:80]!r}")
    rest = text[rparen + 1 :].split()
    if len(rest) < _REQUIRED:
        raise ParseError(source, f"{len(rest)} fields after comm, expected at least {_REQUIRED}")
    try:
        pid = int(text[:lparen])
        values = {name: int(rest[i]) for name, i in FIELDS if i < len(rest)}
    except ValueError:
        raise ParseError(source, f"non-integer field in {text[:200]!r}") from None
    return PidStat(pid=pid, comm=text[lparen + 1 : rparen], state=rest[0], **values)


#: What :func:`parse_stat_head` returns: comm, state, ppid, flags (``PF_*``;
#: ``flags & PF_KTHREAD`` is a kernel thread) and starttime (clock ticks).
StatHead = tuple[str, str, int, int, int]


def parse_stat_head(data: bytes, *, source: str = SOURCE) -> StatHead:
    """comm, state, ppid, flags and starttime from the raw bytes of /proc/PID/stat.

    The split is :func:`parse_pid_stat`'s (at the last ``)``).  A plain tuple
    (see :data:`StatHead`), as :func:`~memsleuth.sources.maps.parse_vma_header`
    returns: the capture walk parses every process of every snapshot, and a
    record costs a fifth more than the parse itself.  An empty or short read
    (a task that died between open and read) is a :class:`ParseError`, like
    any line without the fields through ``starttime``.
    """
    head, paren, tail = data.rpartition(b")")
    fields = tail.split(None, _HEAD_FIELDS)
    lparen = head.find(b"(")
    if not paren or lparen < 0 or len(fields) < _HEAD_FIELDS:
        raise ParseError(source, f"{len(fields)} fields after comm, expected at least {_HEAD_FIELDS}")
    try:
        return (head[lparen + 1 :].decode("utf-8", "replace"), fields[0].decode("ascii", "replace"),
                int(fields[1]), int(fields[6]), int(fields[19]))
    except ValueError:
        raise ParseError(source, f"non-integer field in {data[:200]!r}") from None
