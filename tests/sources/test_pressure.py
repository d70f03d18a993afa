"""PSI files: /proc/pressure/* and cgroup *.pressure."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsleuth.errors import ParseError
from memsleuth.sources.pressure import parse_pressure
from tests.conftest import TEXT, text_fixture


def test_memory_pressure_all_zero() -> None:
    p = parse_pressure(text_fixture("linux-6.18", "proc_pressure_memory"))
    assert p.some is not None and p.full is not None
    assert p.some.avg10_percent == 0.0 and p.some.avg300_percent == 0.0
    assert p.some.total_us == 0 and p.full.total_us == 0


def test_cpu_and_io_pressure_values() -> None:
    cpu = parse_pressure(text_fixture("linux-6.18", "proc_pressure_cpu"))
    assert cpu.some is not None and cpu.full is not None
    assert (cpu.some.avg10_percent, cpu.some.avg60_percent, cpu.some.avg300_percent) == (
        1.46,
        6.83,
        4.97,
    )
    assert cpu.some.total_us == 35120985
    assert cpu.some.total_seconds == pytest.approx(35.120985)
    assert cpu.full.total_us == 0  # system-level cpu "full" is always zero
    io = parse_pressure(text_fixture("linux-6.18", "proc_pressure_io"))
    assert io.some is not None and io.full is not None
    assert io.full.avg60_percent == 0.09 and io.full.total_us == 5795009
    assert io.full.total_us <= io.some.total_us  # full stalls are some stalls


def test_missing_lines_are_none() -> None:
    old_cpu = parse_pressure("some avg10=0.50 avg60=0.25 avg300=0.10 total=123456\n")
    assert old_cpu.full is None  # cpu before 5.13
    assert old_cpu.some is not None and old_cpu.some.total_us == 123456
    irq = parse_pressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=42\n")
    assert irq.some is None and irq.full is not None and irq.full.total_us == 42


def test_centos6_has_no_pressure_files() -> None:
    # 2.6.32 predates PSI (4.20): there is nothing to parse; the caller sees absence
    assert not list((TEXT / "centos6-2.6.32").glob("proc_pressure*"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "some avg10=0.00 avg60=0.00 avg300=0.00\n",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=x\n",
        "half avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        "some avg10 0.00 avg60=0.00 avg300=0.00 total=0\n",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n" * 2,
    ],
)
def test_malformed_pressure_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pressure(text)


@pytest.mark.live
def test_live_memory_pressure_parses() -> None:
    path = Path("/proc/pressure/memory")
    if not path.exists():
        pytest.skip("no PSI on this kernel")
    p = parse_pressure(path.read_text())
    assert p.some is not None and p.full is not None
    assert 0.0 <= p.some.avg10_percent <= 100.0
