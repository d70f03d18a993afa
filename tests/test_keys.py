"""The series-key vocabulary: every key the recorder writes parses back to the record it came from."""

from __future__ import annotations

import pytest

from memsleuth.host import Host
from memsleuth.keys import (
    CgroupKey,
    CounterKey,
    DerivedKey,
    MeminfoKey,
    ProcessKey,
    SlabKey,
    cgroup_key,
    parse_key,
    process_identity,
    process_prefix,
    slab_cache,
    slab_key,
)
from memsleuth.snapshot.capture import capture
from memsleuth.store.extract import iter_points
from tests.conftest import FIXTURES

CASES = [
    ("meminfo.SReclaimable", MeminfoKey("SReclaimable")),
    ("meminfo.Active(anon)", MeminfoKey("Active(anon)")),
    ("slab.dentry.size_bytes", SlabKey("dentry", "size_bytes")),
    ("slab.kmalloc-rcl-8.num_objs", SlabKey("kmalloc-rcl-8", "num_objs")),
    # a cache name with a dot: the field is split off from the right
    ("slab.nf_conntrack_1.2.active_objs", SlabKey("nf_conntrack_1.2", "active_objs")),
    ("proc.1234:5678.pss_bytes", ProcessKey(1234, 5678, "pss_bytes")),
    ("cgroup./.memory.stat.anon", CgroupKey("/", "memory.stat", "anon")),
    # a cgroup path with dots (systemd units) and a one-value file
    ("cgroup./system.slice/nginx.service.memory.stat.slab_reclaimable",
     CgroupKey("/system.slice/nginx.service", "memory.stat", "slab_reclaimable")),
    ("cgroup./system.slice/a.b.service.memory.kmem.usage_in_bytes",
     CgroupKey("/system.slice/a.b.service", "memory.kmem.usage_in_bytes")),
    ("dentry.nr_negative", CounterKey("dentry", "nr_negative")),
    ("psi.memory.some.avg60_percent", CounterKey("psi", "memory.some.avg60_percent")),
    ("derived.unaccounted_bytes", DerivedKey("unaccounted_bytes")),
]


@pytest.mark.parametrize(("text", "record"), CASES, ids=[c[0] for c in CASES])
def test_parse_and_format_round_trip(text: str, record: object) -> None:
    assert parse_key(text) == record
    assert str(record) == text


def test_builders_match_the_records() -> None:
    assert slab_key("dentry", "size_bytes") == str(SlabKey("dentry", "size_bytes"))
    assert cgroup_key("/a.slice", "memory.stat", "anon") == str(CgroupKey("/a.slice", "memory.stat", "anon"))
    assert cgroup_key("/a.slice", "memory.current") == str(CgroupKey("/a.slice", "memory.current"))
    assert process_prefix(7, 9) + "threads" == str(ProcessKey(7, 9, "threads"))
    assert process_identity("proc.7:9.threads") == "7:9"
    assert slab_cache("slab.nf_conntrack_1.2.num_objs") == "nf_conntrack_1.2"


@pytest.mark.parametrize("text", ["proc.12.pss_bytes", "proc.x:1.pss_bytes", "proc.1:2", "slab.size_bytes",
                                  "cgroup.memory", "nonsense", "unknownfamily.x", "meminfoSReclaimable"])
def test_malformed_keys_are_not_guessed(text: str) -> None:
    assert parse_key(text) is None
    assert process_identity(text) is None


def test_every_key_the_recorder_writes_parses() -> None:
    """Against a real capture of the founding host and the live one: no key of unknown kind."""
    for root in (str(FIXTURES / "hosts" / "centos6-founding"), None):
        keys = [k for k, _ in iter_points(capture(Host.open(root)))]
        assert keys
        unknown = [k for k in keys if parse_key(k) is None]
        assert not unknown, unknown[:5]
        assert all(str(parse_key(k)) == k for k in keys)
