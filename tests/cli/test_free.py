"""``memsleuth free``: oracle against procps free, legacy view, flags."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import HOSTS, IS_ROOT, CliResult, text_fixture

MIB = 1024 * 1024
KEYS = ("total", "used", "free", "shared", "buffers", "cache", "available")


def _procps_free() -> dict[str, int]:
    out = subprocess.run(["free", "-b", "-w"], capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("Mem:"))
    return dict(zip(KEYS, (int(v) for v in line.split()[1:]), strict=True))


@pytest.mark.live
@pytest.mark.skipif(shutil.which("free") is None, reason="procps free not installed")
def test_free_agrees_with_procps_within_one_mib(run_cli: Callable[..., CliResult]) -> None:
    worst: dict[str, int] = {}
    for _ in range(5):  # other work on the host moves a few pages between reads
        ours_doc = run_cli("free", "-b", "-w", "--json")
        theirs = _procps_free()
        assert ours_doc.code == 0
        mem = ours_doc.json()["mem"]
        ours = {k: mem[f"{k}_bytes"] for k in KEYS}
        worst = {k: abs(ours[k] - theirs[k]) for k in KEYS}
        if all(d <= MIB for d in worst.values()):
            break
    assert all(d <= MIB for d in worst.values()), f"differences in bytes: {worst}"


@pytest.mark.live
def test_free_table_has_procps_columns(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("free", "-w", "-t", "-m")
    assert res.code == 0
    header = res.out.splitlines()[0].split()
    assert header == ["total", "used", "free", "shared", "buffers", "cache", "available"]
    assert any(line.startswith("Total:") for line in res.out.splitlines())


def test_free_legacy_on_the_founding_case(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("--root", str(HOSTS / "centos6-founding"), "free", "--legacy", "-g")
    assert res.code == 0
    assert "86.3%" in res.out  # total - free: what CentOS 6 free said
    assert "estimated" in res.out  # no MemAvailable on 2.6.32
    assert "reclaimable slab" in res.out
    doc = run_cli("--root", str(HOSTS / "centos6-founding"), "free", "--json").json()
    assert doc["mem"]["available_method"] == "zoneinfo"
    assert doc["legacy"]["used_bytes"] == (65922868 - 9001452) * 1024
    assert doc["mem"]["cache_bytes"] == (3127520 + 38506072) * 1024


# -- procps compatibility, side by side with /usr/bin/free ----------------------------------

HAS_FREE = shutil.which("free") is not None
#: human suffix -> bytes, both bases
SUFFIX = {"B": 1, **{f"{u}i": 1024 ** (i + 1) for i, u in enumerate("KMGTP")},
          **{u: 1000 ** (i + 1) for i, u in enumerate("KMGTP")}}


def _table(out: str) -> dict[str, list[str]]:
    """Rows of a free table by label (Mem:, Swap:, Total:, Comm:), header as 'head'."""
    lines = [ln for ln in out.splitlines() if ln.strip()]
    rows = {"head": lines[0].split()}
    for ln in lines[1:]:
        label, *values = ln.split()
        rows[label] = values
    return rows


def _bytes_and_step(token: str, fixed: int) -> tuple[float, float]:
    """A printed value in bytes, and what one unit of its last digit is worth."""
    if fixed:
        return float(token) * fixed, float(fixed)
    num = token.rstrip("BKMGTPi")
    mult = SUFFIX[token[len(num):]]
    return float(num) * mult, (0.1 if "." in num else 1.0) * mult


#: (flags, bytes per printed unit when not human); each is run by memsleuth and by procps
FLAG_SETS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("-h",), 0), (("-h", "-w", "-t"), 0), (("-h", "--si"), 0), (("-h", "--si", "-w", "-v"), 0),
    (("-h", "-l", "-t"), 0), (("-b", "-l"), 1),
    (("-b", "-v"), 1), (("-k",), 1024), (("-m", "-t"), 1024**2), (("-g",), 1024**3),
    (("--si",), 1000), (("-k", "--si"), 1000), (("--kilo",), 1000), (("--mega", "-w"), 1000**2),
    (("--giga",), 1000**3), (("--tebi",), 1024**4), (("--tera",), 1000**4), (("-w",), 1024),
)
#: values that do not move between the two reads: they must be equal, digit for digit
STABLE = {("Mem:", 0), ("Swap:", 0), ("Total:", 0), ("Comm:", 0), ("Low:", 0), ("High:", 0),
          ("High:", 1), ("High:", 2)}


def _compare(ours: dict[str, list[str]], theirs: dict[str, list[str]],
             fixed: int) -> tuple[list[str], list[str]]:
    """(exact differences, differences beyond one unit of rounding)."""
    assert ours.keys() == theirs.keys(), (ours, theirs)
    assert ours["head"] == theirs["head"]
    exact, beyond = [], []
    for label in ours:
        if label == "head":
            continue
        assert len(ours[label]) == len(theirs[label]), (label, ours[label], theirs[label])
        for i, (a, b) in enumerate(zip(ours[label], theirs[label], strict=True)):
            if a == b:
                continue
            exact.append(f"{label}{ours['head'][i]}: {a} vs {b}")
            va, sa = _bytes_and_step(a, fixed)
            vb, sb = _bytes_and_step(b, fixed)
            # one unit of rounding, plus the few MiB other work moves between the two reads
            if (label, i) in STABLE or abs(va - vb) > max(sa, sb) + 8 * MIB:
                beyond.append(f"{label}{ours['head'][i]}: {a} vs {b}")
    return exact, beyond


@pytest.mark.live
@pytest.mark.skipif(not HAS_FREE, reason="procps free not installed")
@pytest.mark.parametrize(("flags", "fixed"), FLAG_SETS, ids=[" ".join(f) for f, _ in FLAG_SETS])
def test_flags_agree_with_procps(flags: tuple[str, ...], fixed: int,
                                 run_cli: Callable[..., CliResult]) -> None:
    """The same flags print the same table as procps: totals digit for digit, moving values
    (used, free, cache, available) within one unit of rounding, and equal on most tries."""
    beyond: list[str] = []
    for _ in range(8):  # a busy host moves memory between the two reads: try again
        ours = run_cli("free", *flags)
        assert ours.code == 0, ours.err
        theirs = subprocess.run(["free", *flags], capture_output=True, text=True, check=True).stdout
        _exact, beyond = _compare(_table(ours.out), _table(theirs), fixed)
        if not beyond:
            return
    pytest.fail(f"beyond one unit of rounding in 8 tries: {beyond}")


# -- the same /proc/meminfo for both: procps in a mount namespace, memsleuth on a root ---------

CAN_BIND = HAS_FREE and IS_ROOT and shutil.which("unshare") is not None
TEMPLATE = text_fixture("linux-6.18", "proc_meminfo")


def _meminfo(values: dict[str, int]) -> str:
    """The 6.18 meminfo with some values (kB) replaced."""
    out = []
    seen = set()
    for line in TEMPLATE.splitlines():
        key = line.split(":")[0]
        seen.add(key)
        out.append(f"{key + ':':<16}{values[key]:>8} kB" if key in values else line)
    out += [f"{key + ':':<16}{v:>8} kB" for key, v in values.items() if key not in seen]
    return "\n".join(out) + "\n"


def _edge_cases() -> list[dict[str, int]]:
    """kB values at procps's rounding edges (9.95-9.99 units, 999-1000 units, 23.9 GiB) and
    seeded random ones."""
    kib_edges = [10188, 10214, 10230, 1022976, 1023999, 1024000, 25061652, 24117248, 999, 1000,
                 9727, 9728, 9765, 9766, 976562, 976563]
    cases = []
    for i, edge in enumerate(kib_edges):
        cases.append({"MemTotal": 25061652, "MemFree": edge, "MemAvailable": min(edge * 2, 25061652),
                      "Buffers": kib_edges[-1 - i], "Cached": edge, "Shmem": edge // 2 + 1,
                      "SReclaimable": kib_edges[(i + 3) % len(kib_edges)],
                      "SwapTotal": edge * 3, "SwapFree": edge, "CommitLimit": edge * 4,
                      "Committed_AS": edge})
    # a 32-bit HIGHMEM kernel: low and high memory apart (free -l)
    cases.append({"MemTotal": 3106500, "MemFree": 1203300, "MemAvailable": 2200100,
                  "HighTotal": 2252800, "HighFree": 999999, "LowTotal": 853700, "LowFree": 203301})
    rng = random.Random(11)
    for _ in range(8):
        total = rng.randrange(1 << 20, 1 << 34)
        free = rng.randrange(0, total)
        swap = rng.choice([0, rng.randrange(1, 1 << 30)])
        limit = rng.randrange(1, 1 << 34)
        cases.append({"MemTotal": total, "MemFree": free, "MemAvailable": rng.randrange(free, total),
                      "Buffers": rng.randrange(0, 1 << 20), "Cached": rng.randrange(0, total - free),
                      "Shmem": rng.randrange(0, 1 << 22), "SReclaimable": rng.randrange(0, 1 << 24),
                      "SwapTotal": swap, "SwapFree": rng.randrange(0, swap + 1),
                      "CommitLimit": limit, "Committed_AS": rng.randrange(0, limit)})
    return cases


@pytest.mark.skipif(not CAN_BIND, reason="needs root, unshare and procps free")
def test_identical_to_procps_on_the_same_meminfo(tmp_path: Path,
                                                  run_cli: Callable[..., CliResult]) -> None:
    """Every flag set, on meminfo files at the rounding edges: procps free reads the file bound
    over /proc/meminfo in a private mount namespace, memsleuth reads it from a root; the tables
    are identical, value for value."""
    checked = 0
    for n, values in enumerate(_edge_cases()):
        root = tmp_path / f"r{n}"
        (root / "proc").mkdir(parents=True)
        (root / "proc" / "meminfo").write_text(_meminfo(values))
        for flags, _fixed in FLAG_SETS:
            theirs = subprocess.run(
                ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /proc/meminfo && exec free "$@"',
                 str(root / "proc" / "meminfo"), *flags],
                capture_output=True, text=True, check=True).stdout
            ours = run_cli("--root", str(root), "free", *flags)
            assert ours.code == 0, ours.err
            assert _table(ours.out) == _table(theirs), (values, flags, ours.out, theirs)
            checked += 1
    assert checked == len(_edge_cases()) * len(FLAG_SETS)


def _procps_has_line() -> bool:
    return HAS_FREE and subprocess.run(["free", "-L"], capture_output=True).returncode == 0


@pytest.mark.live
@pytest.mark.skipif(not _procps_has_line(), reason="this procps free has no -L (added in 4.0.4)")
def test_line_agrees_with_procps(run_cli: Callable[..., CliResult]) -> None:
    for _ in range(5):
        ours = run_cli("free", "-L", "-h").out.split()
        theirs = subprocess.run(["free", "-L", "-h"], capture_output=True, text=True).stdout.split()
        if ours == theirs:
            return
    assert ours[::2] == theirs[::2]  # labels, at least


def test_line_is_procps_layout(run_cli: Callable[..., CliResult]) -> None:
    """procps-ng 4.0.4's -L: ``SwapUse %11s CachUse %11s  MemUse %11s MemFree %11s``."""
    out = run_cli("--root", str(HOSTS / "centos6-founding"), "free", "-L", "-b").out
    kib = 1024
    swap_used = (8388604 - 8388604) * kib
    assert out == (f"SwapUse {swap_used:>11} CachUse {(412300 + 3127520 + 38506072) * kib:>11}  "
                   f"MemUse {out.split()[5]:>11} MemFree {9001452 * kib:>11}\n")
    assert len(run_cli("--root", str(HOSTS / "centos6-founding"), "free", "-L").out.splitlines()) == 1


@pytest.mark.parametrize(("value", "si", "want"), [
    (0, False, "0B"), (999, False, "999B"), (1000, False, "1.0Ki"),
    (1023, False, "1.0Ki"), (9 * 1024 + 100, False, "9.1Ki"), (9 * 1024 + 1000, False, "9Ki"),
    (10 * 1024**2 - 1, False, "9Mi"),  # "10.0Mi" does not fit in 5: the whole number, truncated
    (10 * 1024**2, False, "10Mi"), (int(23.9 * 1024**3), False, "23Gi"),  # truncated, not 24Gi
    (999 * 1024**2, False, "999Mi"), (1000 * 1024**2, False, "1.0Gi"),
    (9990144, True, "9M"), (9990144, False, "9.5Mi"), (25276203008, True, "25G"),
    (999, True, "999B"), (1000, True, "1.0K"), (9_949_999, True, "9.9M"),
    (9_950_000, True, "9.9M"), (9_960_000, True, "9M"),
])
def test_scale_size_follows_procps(value: int, si: bool, want: str) -> None:
    from memsleuth.views.free import FreeOptions, scale_size

    assert scale_size(value, FreeOptions(human=True, si=si)) == want


def test_fixed_units_truncate_like_procps() -> None:
    from memsleuth.views.free import FreeOptions, scale_size

    gib = 1024**3
    assert scale_size(int(23.99 * gib), FreeOptions(unit="gibi")) == "23"
    assert scale_size(25276203008, FreeOptions(unit="giga")) == "25"
    assert scale_size(25276203008, FreeOptions()) == "24683792"  # default: KiB
    assert scale_size(25276203008, FreeOptions(si=True)) == "25276203"  # --si alone: kB
    assert scale_size(25276203008, FreeOptions(unit="bytes", si=True)) == "25276203008"
    assert scale_size(-2048, FreeOptions()) == "-2"  # Comm: left can be negative


def test_committed_line_and_json(run_cli: Callable[..., CliResult]) -> None:
    root = str(HOSTS / "centos6-founding")
    out = run_cli("--root", root, "free", "-v", "-k").out
    comm = next(ln for ln in out.splitlines() if ln.startswith("Comm:")).split()
    doc = run_cli("--root", root, "free", "--json").json()
    limit, committed = doc["commit"]["limit_bytes"], doc["commit"]["committed_as_bytes"]
    assert [int(v) for v in comm[1:]] == [limit // 1024, committed // 1024, (limit - committed) // 1024]
    assert doc["commit"]["left_bytes"] == limit - committed


def test_unit_options_exclude_each_other_but_not_human(run_cli: Callable[..., CliResult]) -> None:
    root = str(HOSTS / "centos6-founding")
    assert run_cli("--root", root, "free", "-m", "-g").code == 2  # procps: "Multiple unit options"
    assert run_cli("--root", root, "free", "-m", "-h").code == 0  # procps: -h wins


def test_explain_says_what_each_column_means(run_cli: Callable[..., CliResult]) -> None:
    from memsleuth.views.topics import topic

    out = run_cli("--root", str(HOSTS / "centos6-founding"), "free", "--explain").out
    assert "What the columns mean:" in out
    for word in ("available", "buff/cache", "Comm:", "MemAvailable"):
        assert word in out
    t = topic("memavailable")
    assert t is not None
    assert " ".join(t.paragraphs[0].split()[:8]) in " ".join(out.split())


def test_free_rejects_a_zero_count(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("free", "-c", "0")
    assert res.code == 2
    assert "--count" in res.err


# -- goldens of the procps flags (rewritten by --update-golden, like test_golden_views) ----------

GOLDEN_CASES = {
    "free-committed": ("-h", "-w", "-t", "-v", "-l"),
    "free-si": ("--si", "-h", "-v"),
    "free-mega": ("--mega", "-t"),
    "free-line": ("-L", "-h"),
    "free-explain": ("-h", "--explain"),
}


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_golden(name: str, tmp_path: Path, run_cli: Callable[..., CliResult],
                monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    from tests.cli.test_golden_views import ANSI, _check, _linux618

    root = tmp_path / "linux-6.18"
    _linux618(root)
    monkeypatch.setenv("COLUMNS", "80")
    for tty in (False, True):
        if tty:
            monkeypatch.setenv("TTY_COMPATIBLE", "1")
        else:
            monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
        res = run_cli("--root", str(root), "free", *GOLDEN_CASES[name])
        assert res.code == 0, res.err
        _check(request, f"{name}{'.tty' if tty else ''}.txt", ANSI.sub("", res.out))


@pytest.mark.live
@pytest.mark.skipif(not HAS_FREE, reason="procps free not installed")
def test_repeats_are_laid_out_like_procps(run_cli: Callable[..., CliResult]) -> None:
    """-c 3 -s 0.1: three tables with one blank line between them, none after the last."""
    args = ("-h", "-c", "3", "-s", "0.1")
    ours = run_cli("free", *args).out.splitlines()
    theirs = subprocess.run(["free", *args], capture_output=True, text=True, check=True).stdout.splitlines()
    assert [bool(ln.strip()) for ln in ours] == [bool(ln.strip()) for ln in theirs]
    assert [ln.split()[0] for ln in ours if ln.strip()] == [ln.split()[0] for ln in theirs if ln.strip()]
    line = run_cli("free", "-L", "-c", "2", "-s", "0.1").out.splitlines()
    assert len(line) == 2 and all(ln.startswith("SwapUse") for ln in line)
