"""The sources on fixture roots: what is read, how often, and what is inferred."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from memsleuth import metrics
from memsleuth.exporter.readings import MemoryReader, Sample, cache_selected, read_dentry, read_memory
from memsleuth.host import Host
from tests.exporter.conftest import Roots


def _vmalloc_bucket(samples: Sequence[Sample]) -> float:
    return next(s.value for s in samples if s.spec is metrics.MEMORY_BUCKET and s.labels[0] == "vmalloc")


def test_vmallocinfo_is_reread_only_every_few_minutes(exporter_roots: Roots, tmp_path: Path) -> None:
    """Without vmallocinfo the vmalloc bucket is all of VmallocUsed; with it, less the stacks and
    per-CPU areas.  A change of the file shows only once the reuse period is over."""
    root = tmp_path / "root"
    shutil.copytree(exporter_roots.top / "linux-6.18", root)
    now = [0.0]
    reader = MemoryReader(Host.open(str(root)), vmallocinfo_every=300, clock=lambda: now[0])
    with_overlap = _vmalloc_bucket(reader())
    (root / "proc" / "vmallocinfo").write_text("")
    whole = _vmalloc_bucket(read_memory(Host.open(str(root))))
    assert whole > with_overlap
    now[0] = 299
    assert _vmalloc_bucket(reader()) == with_overlap
    now[0] = 301
    assert _vmalloc_bucket(reader()) == whole


def test_negative_dentries_counted_or_inferred(exporter_roots: Roots, tmp_path: Path) -> None:
    """6.18 counts them (inferred false); 2.6.32 does not, and without inode-nr nothing is made up."""
    counted = read_dentry(Host.open(str(exporter_roots.top / "linux-6.18")))
    assert [(s.labels, s.value) for s in counted if s.labels[0] == "negative"] == [(("negative", "false"),
                                                                                   36164.0)]
    root = tmp_path / "c6"
    shutil.copytree(exporter_roots.top / "centos6", root)
    (root / "proc" / "sys" / "fs" / "inode-nr").unlink()
    states = [s.labels[0] for s in read_dentry(Host.open(str(root)))]
    assert states == ["total", "unused"]


def test_slab_globs() -> None:
    assert cache_selected("dentry", (), ())
    assert cache_selected("ext4_inode_cache", ("*inode*",), ())
    assert not cache_selected("kmalloc-64", ("*inode*", "dentry"), ())
    assert not cache_selected("proc_inode_cache", ("*inode*",), ("proc_*",))
