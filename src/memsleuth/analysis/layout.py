"""A process's address space as a program sees it: text, data, bss, heap, stack ...

:func:`classify` takes the mappings of ``/proc/PID/smaps`` (address order)
and the executable's path, and puts every mapping in one class:

======================  ======================================================
``text``                the executable's ``r-x`` file mapping (machine code)
``rodata``              the executable's ``r--`` file mappings (ELF headers,
                        constants and string literals, RELRO after relocation)
``data``                the executable's ``rw-`` file mapping (initialised globals)
``bss``                 the unnamed anonymous ``rw-p`` mapping that starts exactly
                        where the executable's ``rw-`` mapping ends
``heap``                ``[heap]``: the brk area that small ``malloc`` calls use
``stack``               ``[stack]``: the main thread's stack
``thread_stack``        see the heuristic below
``anon_mmap``           other anonymous mappings (large ``malloc`` blocks, arenas,
                        JIT, ``[anon:name]``, shared anonymous memory)
``file_mmap``           file mappings that are not the executable or a library
                        (data files, memfd, SysV shm, ``/dev/...``)
``shared_lib``          files named ``*.so`` / ``*.so.N`` (every segment of the
                        library, its ``---p`` gaps, and the anonymous ``rw-p``
                        mapping right after its last segment, the library's bss,
                        when it is no larger than the library's file mappings:
                        a larger neighbour is an unrelated mapping the kernel
                        happened to place there)
``guard``               anonymous ``---p`` mappings: guard pages and address
                        space reserved with ``PROT_NONE`` (no memory behind them)
``vdso``                ``[vdso]``, ``[vvar]``, ``[vvar_vclock]``, ``[vsyscall]``
``other``               anything else (``[uprobes]`` ...)
======================  ======================================================

Thread-stack heuristic: glibc's ``pthread_create`` maps a thread's stack
and its guard in one ``mmap`` and makes the lowest page(s) ``PROT_NONE``,
so a thread stack is an anonymous ``rw-p`` mapping that begins exactly where
an anonymous ``---p`` mapping ends.  A malloc arena is the opposite (its
``rw-p`` part is *below* its ``PROT_NONE`` reserve), so arenas are not
mistaken for stacks.  Mappings named ``[anon:...stack...]``
(``PR_SET_VMA_ANON_NAME``, as Android's bionic and some runtimes do) count
too.  Stacks made by other runtimes (Go goroutines, green threads, or
``pthread_attr_setstack`` without a guard) are ``anon_mmap``.

The bss trap: when the uninitialised globals are small they fit in the
zero-filled tail of the last data page and there is no separate mapping;
when the kernel places ``[heap]`` right after the data, a bss mapping can
even merge into it.  Then the ``bss`` class is empty and the note says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memsleuth.sources.smaps import Mapping

#: class key -> (label, what lives there); the display order.
CLASSES: tuple[tuple[str, str, str], ...] = (
    ("text", "text", "machine code of the executable"),
    ("rodata", "rodata", "constants, string literals, ELF headers of the executable"),
    ("data", "data", "initialised global and static variables"),
    ("bss", "bss", "zero-initialised global and static variables"),
    ("heap", "heap", "small malloc/new blocks (brk area)"),
    ("stack", "stack", "local variables of the main thread"),
    ("thread_stack", "thread stacks", "local variables of the other threads"),
    ("anon_mmap", "anon mmap", "large malloc blocks (over the mmap threshold), arenas, JIT"),
    ("file_mmap", "file mmap", "files mapped with mmap, shared memory"),
    ("shared_lib", "shared libs", "code and data of shared libraries"),
    ("guard", "guard/reserved", "PROT_NONE guard pages and reserved address space"),
    ("vdso", "vdso/vvar", "kernel-provided code and data for fast system calls"),
    ("other", "other", "other kernel-named areas"),
)
CLASS_KEYS: tuple[str, ...] = tuple(key for key, _, _ in CLASSES)

VDSO_NAMES = frozenset({"[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"})
_LIBRARY = re.compile(r"\.so(\.[0-9][0-9.]*)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    """Memory of a group of mappings (a class or a library)."""

    key: str
    label: str
    virt_bytes: int
    rss_bytes: int
    #: ``None`` when the kernel printed no Pss/Swap for any mapping of the group.
    pss_bytes: int | None
    swap_bytes: int | None
    mappings: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Classified:
    """One mapping and the class it was put in."""

    mapping: Mapping
    klass: str
    #: Library basename (``libc.so.6``) for ``shared_lib``, else ``None``.
    library: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    exe_path: str | None
    #: How the executable was identified: ``exe`` (the /proc/PID/exe link),
    #: ``first_file`` (the first file mapping), or ``None`` (no file mapping).
    exe_source: str | None
    #: One entry per key of :data:`CLASSES`, in that order, empty ones included.
    classes: tuple[Totals, ...]
    #: One entry per library, largest RSS first.
    libraries: tuple[Totals, ...]
    mappings: tuple[Classified, ...]
    total: Totals
    notes: tuple[str, ...]

    def of(self, key: str) -> Totals:
        for t in self.classes:
            if t.key == key:
                return t
        raise KeyError(key)


def is_library(path: str) -> bool:
    """``/usr/lib/x86_64-linux-gnu/libc.so.6``, ``ld-linux-x86-64.so.2``, ``_ssl.cpython-311.so``."""
    return bool(_LIBRARY.search(path.rsplit("/", 1)[-1]))


def _anonymous(m: Mapping) -> bool:
    return m.pathname is None or m.pathname.startswith("[anon:")


def classify(mappings: Sequence[Mapping], exe_path: str | None) -> Layout:
    """Put each mapping of one process in a class (see the module docstring)."""
    exe_source: str | None = "exe" if exe_path else None
    if exe_path is None or not any(m.pathname == exe_path for m in mappings):
        first = next((m.pathname for m in mappings if m.pathname and m.pathname.startswith("/")), None)
        exe_path, exe_source = first, ("first_file" if first else None)
    out: list[Classified] = []
    seen_bss = False
    prev: Classified | None = None
    lib_sizes: dict[str, int] = {}
    for m in mappings:
        if m.pathname is not None and m.pathname.startswith("/") and is_library(m.pathname):
            base = m.pathname.rsplit("/", 1)[-1]
            lib_sizes[base] = lib_sizes.get(base, 0) + m.size_bytes
    for m in mappings:
        klass, library = _class_of(m, prev, exe_path, seen_bss, lib_sizes)
        seen_bss = seen_bss or klass == "bss"
        item = Classified(mapping=m, klass=klass, library=library)
        out.append(item)
        prev = item
    notes = _notes(out, exe_path)
    by_class = {key: [c.mapping for c in out if c.klass == key] for key in CLASS_KEYS}
    classes = tuple(_totals(key, label, by_class[key]) for key, label, _ in CLASSES)
    libs: dict[str, list[Mapping]] = {}
    for c in out:
        if c.library is not None:
            libs.setdefault(c.library, []).append(c.mapping)
    libraries = sorted((_totals(name, name, ms) for name, ms in libs.items()),
                       key=lambda t: (-t.rss_bytes, t.key))
    return Layout(exe_path=exe_path, exe_source=exe_source, classes=classes,
                  libraries=tuple(libraries), mappings=tuple(out),
                  total=_totals("total", "total", [c.mapping for c in out]), notes=notes)


def _class_of(m: Mapping, prev: Classified | None, exe: str | None, seen_bss: bool,
              lib_sizes: dict[str, int]) -> tuple[str, str | None]:
    name = m.pathname
    perms = m.perms
    adjacent = prev is not None and prev.mapping.end == m.start
    if name is not None and name == exe:
        if perms[2] == "x":
            return "text", None
        if perms[1] == "w":
            return "data", None
        return ("rodata", None) if perms[0] == "r" else ("guard", None)
    if name == "[heap]":
        return "heap", None
    if name == "[stack]":
        return "stack", None
    if name in VDSO_NAMES:
        return "vdso", None
    if name is not None and name.startswith("[anon:") and "stack" in name.lower():
        return "thread_stack", None
    if _anonymous(m):
        if perms.startswith("---"):
            return "guard", None
        if adjacent and prev is not None and perms.startswith("rw"):
            if prev.klass == "data" and not seen_bss and name is None:
                return "bss", None
            if (prev.klass == "shared_lib" and prev.library is not None and name is None
                    and m.size_bytes <= lib_sizes.get(prev.library, 0)):
                return "shared_lib", prev.library
            if prev.klass == "guard" and _anonymous(prev.mapping):
                return "thread_stack", None
        return "anon_mmap", None
    if name is not None and name.startswith("[anon_shmem:"):
        return "anon_mmap", None
    if name is not None and not name.startswith("["):
        if is_library(name):
            return "shared_lib", name.rsplit("/", 1)[-1]
        return "file_mmap", None
    return "other", None


def _notes(items: Sequence[Classified], exe: str | None) -> tuple[str, ...]:
    notes = []
    if exe is None:
        notes.append("no file mapping: the executable could not be identified (static or "
                     "unmapped), so text/data/bss are empty")
    elif not any(c.klass == "bss" for c in items) and any(c.klass == "data" for c in items):
        data_end = max(c.mapping.end for c in items if c.klass == "data")
        heap = next((c.mapping for c in items if c.klass == "heap"), None)
        if heap is not None and heap.start == data_end:
            notes.append("no separate bss mapping: [heap] starts right after the data segment, "
                         "so any bss beyond the last data page is counted in heap")
        else:
            notes.append("no separate bss mapping: the zero-initialised globals fit in the "
                         "last page of the data segment (counted in data)")
    return tuple(notes)


def _sum_optional(values: Iterable[int | None]) -> int | None:
    total: int | None = None
    for v in values:
        if v is not None:
            total = (total or 0) + v
    return total


def _totals(key: str, label: str, ms: Sequence[Mapping]) -> Totals:
    return Totals(
        key=key,
        label=label,
        virt_bytes=sum(m.size_bytes for m in ms),
        rss_bytes=sum(m.rss_bytes for m in ms),
        pss_bytes=_sum_optional(m.pss_bytes for m in ms),
        swap_bytes=_sum_optional(m.swap_bytes for m in ms),
        mappings=len(ms),
    )
