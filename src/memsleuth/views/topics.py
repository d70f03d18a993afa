"""The concepts, in plain words: ``memsleuth help TOPIC``, the views' ``--explain`` and the man page.

Each text is written once, here, as data.  A view's ``--explain`` is its
fields (what each column or line means) followed by the topics those
fields lean on, rendered by :func:`explain_text`; ``memsleuth help TOPIC``
prints the same topic through :func:`topic_text`, and the man page's
CONCEPTS section is made from the same records.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memsleuth.views.common import Column

WIDTH = 78


@dataclass(frozen=True, slots=True, kw_only=True)
class Topic:
    name: str
    #: one line, for the list of topics and the man page
    summary: str
    #: paragraphs, each a plain string (wrapped when printed)
    paragraphs: tuple[str, ...]
    #: other topics worth reading next
    see_also: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """One column or line of a view, for its ``--explain``."""

    name: str
    text: str


TOPICS: tuple[Topic, ...] = (
    Topic(
        name="buckets",
        summary="how MemTotal splits into parts that do not overlap",
        paragraphs=(
            "MemTotal is the RAM the kernel manages. memsleuth splits it into buckets that do "
            "not overlap, so they add up: free pages, page cache (file data kept in RAM), "
            "shared memory (tmpfs, /dev/shm), anonymous memory of processes (heap, stacks), "
            "slab (kernel object caches, split into reclaimable and unreclaimable), kernel "
            "stacks, page tables, vmalloc, per-CPU memory and huge pages.",
            "Some buckets can be given back when memory runs short (page cache, reclaimable "
            "slab); others cannot without swap or without killing something (anonymous, "
            "shmem, unreclaimable slab). What the buckets do not cover is the 'unaccounted' "
            "gap.",
            "A leak shows as one bucket that keeps growing. Which one tells you where to look: "
            "anonymous -> a process (memsleuth top), slab -> a kernel cache (memsleuth slab), "
            "the gap -> a driver.",
        ),
        see_also=("unaccounted", "page-cache", "reclaimable-slab"),
    ),
    Topic(
        name="memavailable",
        summary="what the kernel thinks can still be allocated",
        paragraphs=(
            "MemAvailable (Linux 3.14+) is the kernel's estimate of how much memory a new "
            "program could get without pushing the system into swap: free pages above the "
            "reserves, plus the page cache and reclaimable slab that reclaim could give back, "
            "each less what reclaim must leave behind (the low watermarks).",
            "procps-ng 4 free prints it as 'available' and computes used = total - available. "
            "Because it counts almost all reclaimable slab as available, a host whose dentry "
            "or inode cache fills RAM still looks healthy by it, while CentOS 6's free "
            "(used = total - free) showed it as used. Before 3.14 memsleuth estimates it from "
            "/proc/zoneinfo with the kernel's own formula.",
        ),
        see_also=("reclaimable-slab", "page-cache"),
    ),
    Topic(
        name="page-cache",
        summary="file data kept in RAM; mostly given back on demand",
        paragraphs=(
            "The page cache keeps the contents of files in RAM after they are read or written, "
            "so the next access needs no disk. It is the 'cache' in free and vmstat (Cached "
            "plus SReclaimable) and the kernel drops it when programs need the memory, so a "
            "large cache is normal and healthy.",
            "Two exceptions: Cached includes Shmem (tmpfs, /dev/shm, shared anonymous memory), "
            "which cannot be dropped, only swapped; and dirty pages must be written back "
            "before they can be freed. Buffers is the cache of block-device metadata.",
        ),
        see_also=("memavailable", "buckets"),
    ),
    Topic(
        name="reclaimable-slab",
        summary="kernel caches the kernel can free (dentries, inodes)",
        paragraphs=(
            "The slab allocator holds the kernel's small objects: dentries (names looked up), "
            "inodes, socket buffers, task structs. The part the kernel can free under memory "
            "pressure is SReclaimable; the rest is SUnreclaim.",
            "Reclaimable does not mean harmless. The shrinkers free it only under pressure and "
            "only objects nobody uses; a cache that grows without bound (millions of negative "
            "dentries, for instance) pushes out page cache first and makes every reclaim pass "
            "slower. MemAvailable counts it as available, so an alarm on MemAvailable misses "
            "it; an alarm on total - free fires. Watch whether it grows, not its size.",
        ),
        see_also=("negative-dentries", "memavailable"),
    ),
    Topic(
        name="negative-dentries",
        summary="cached 'file not found' answers, and how they fill RAM",
        paragraphs=(
            "A dentry caches one name lookup. A negative dentry caches a lookup that failed: "
            "'this file does not exist'. It makes the next failed lookup fast, and it costs "
            "about 192 bytes of reclaimable slab (the dentry cache).",
            "A program that looks up a new name that does not exist on every call (a random "
            "temporary name, an NSS library probing for a database file) creates one negative "
            "dentry each time. Nothing frees them until memory is short, so they can grow to "
            "tens of gigabytes. /proc/sys/fs/dentry-state counts them as nr_negative since "
            "Linux 5.0; memsleuth vmstat --mem shows the count and memsleuth trace finds the "
            "process doing the lookups.",
        ),
        see_also=("reclaimable-slab",),
    ),
    Topic(
        name="rss",
        summary="a process's pages in RAM, shared ones counted in full",
        paragraphs=(
            "RSS, the resident set (RES in top, RSS in ps), is how much of a process's memory "
            "is in RAM now: its anonymous pages plus the file and shared pages it maps. A page "
            "shared by ten processes counts in full in each of them, so adding up RSS over "
            "processes counts shared libraries and shared memory many times. Use PSS to add, "
            "USS to see what a process alone holds.",
        ),
        see_also=("pss", "uss"),
    ),
    Topic(
        name="pss",
        summary="resident memory, shared pages split among sharers",
        paragraphs=(
            "PSS, the proportional set size, is a process's resident memory with each shared "
            "page divided by the number of processes that map it: a page shared by four "
            "processes adds a quarter page to each. PSS therefore adds up: the PSS of every "
            "process together is the memory processes use, with nothing counted twice.",
            "It comes from /proc/PID/smaps_rollup (or the Pss lines of smaps), which needs the "
            "right to ptrace the process: another user's PSS needs root. PSS moves when "
            "another process starts or stops sharing, even if this one changed nothing.",
        ),
        see_also=("uss", "rss"),
    ),
    Topic(
        name="uss",
        summary="memory only this process holds, freed when it exits",
        paragraphs=(
            "USS, the unique set size, is the private resident memory of a process: "
            "Private_Clean + Private_Dirty in smaps. It is what the system gets back when the "
            "process exits. A leaking process shows USS growing; shared libraries and shared "
            "memory are not in it.",
        ),
        see_also=("pss", "rss"),
    ),
    Topic(
        name="unaccounted",
        summary="the gap: memory /proc/meminfo does not itemise",
        paragraphs=(
            "MemTotal minus every bucket memsleuth can name leaves a gap: pages drivers take "
            "straight from the page allocator (GPU, RDMA and NIC buffer pools), balloon "
            "drivers, some early boot allocations. /proc/meminfo lists none of them.",
            "The gap is normally under 1-2% of RAM. A gap that keeps growing is a driver or "
            "kernel leak that no per-process tool can see; memsleuth diagnose judges its "
            "growth like any other series.",
        ),
        see_also=("buckets",),
    ),
    Topic(
        name="overcommit",
        summary="CommitLimit, Committed_AS: promised vs. existing",
        paragraphs=(
            "Programs reserve address space (malloc, mmap) long before they touch it, and "
            "Linux promises more than it has. Committed_AS is the total promised. CommitLimit "
            "is swap plus vm.overcommit_ratio percent of RAM; it is enforced only under "
            "vm.overcommit_memory=2, where an allocation that would pass it fails. free -v "
            "prints both and the difference.",
        ),
        see_also=("memavailable",),
    ),
)

TOPIC_NAMES: tuple[str, ...] = tuple(t.name for t in TOPICS)


def topic(name: str) -> Topic | None:
    for t in TOPICS:
        if t.name == name:
            return t
    return None


def _wrap(text: str, indent: str = "", width: int = WIDTH) -> str:
    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False)


def topic_text(t: Topic, *, width: int = WIDTH) -> str:
    """``memsleuth help TOPIC``: the name and summary, the paragraphs, what to read next."""
    parts = [f"{t.name}: {t.summary}", *(_wrap(p, width=width) for p in t.paragraphs)]
    if t.see_also:
        parts.append(_wrap("See also: " + ", ".join(f"memsleuth help {s}" for s in t.see_also),
                           width=width))
    return "\n\n".join(parts)


def topic_list(*, width: int = WIDTH) -> str:
    """The topics, one a line, for ``memsleuth help`` and an unknown topic."""
    pad = max(len(n) for n in TOPIC_NAMES)
    return "\n".join(f"  {t.name:<{pad}}  {t.summary}" for t in TOPICS)


def explain_text(fields: Sequence[Field], topics: Iterable[str] = (), *,
                 width: int = WIDTH) -> str:
    """A view's ``--explain``: each field in plain words, then the topics it leans on."""
    pad = min(max((len(f.name) for f in fields), default=0), 14)
    lines = ["What the columns mean:"]
    for f in fields:
        head = f"  {f.name:<{pad}}  "
        body = textwrap.wrap(f.text, width=width - len(head), break_on_hyphens=False)
        if len(f.name) > pad:
            lines.append(f"  {f.name}")
            lines += [" " * len(head) + b for b in body]
        else:
            lines.append(head + body[0])
            lines += [" " * len(head) + b for b in body[1:]]
    out = "\n".join(lines)
    for name in topics:
        t = topic(name)
        if t is None:
            raise KeyError(name)
        out += "\n\n" + f"{t.name}: {t.summary}\n" + "\n\n".join(
            _wrap(p, width=width) for p in t.paragraphs)
    return out


def column_fields(columns: Iterable[Column]) -> list[Field]:
    """Fields from Column declarations (their title and ``meaning``), for views whose columns
    already say what they mean."""
    return [Field(name=c.title, text=c.meaning) for c in columns if c.title and c.meaning]
