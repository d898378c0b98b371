"""The model contract: mechanisms, their order, the counters and stores they declare."""
import pytest

from vmmemviz.model import catalog
from vmmemviz.model.config import scenario
from vmmemviz.model.core import counter
from vmmemviz.model.core.mechanism import Mechanism, ordered
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.views import counters


def test_catalog_order_honours_every_after():
    seen = set()
    for m in catalog.MECHANISMS:
        assert set(m.after) <= seen, f"{m.name} runs before {set(m.after) - seen}"
        seen.add(m.name)


def test_ordered_puts_a_mechanism_after_what_it_names_and_refuses_a_loop():
    class A(Mechanism):
        name, after = "a", ("b",)

    class B(Mechanism):
        name = "b"

    assert ordered([A, B]) == [B, A]
    B.after = ("a",)
    with pytest.raises(AssertionError, match="wait on each other"):
        ordered([A, B])


def test_each_simulator_has_its_own_mechanism_instances():
    sc = scenario.load("default")
    a, b = Timeline(sc).sim, Timeline(sc).sim
    assert all(m.sim is a for m in a.mechanisms)
    assert not {id(m) for m in a.mechanisms} & {id(m) for m in b.mechanisms}


@pytest.fixture(scope="module")
def overcommit_counters():
    tl = Timeline(scenario.load("overcommit"))
    tl.ensure(20000)
    tl.seek(len(tl))
    return tl.counters()


def test_every_counter_is_declared_and_every_declaration_is_produced(overcommit_counters):
    c = overcommit_counters
    vm_keys = set(next(iter(c["vms"].values())))
    assert vm_keys == set(counters.VM)
    assert set(c["host"]) == set(counters.HOST)


def test_declarations_name_their_esxtop_group_and_unit():
    for c in counters.DECLARED:
        assert c.help and c.help[0].islower() and "\n" not in c.help, c.name
        if not c.host:
            assert c.group in counter.GROUPS and c.unit in ("MB", "MB/s", "%", "pages/s", "")
        else:
            assert c.label and "/" in c.group or c.group == "VMKMEM"
    assert counters.VM["TCHD"].batch == "Touched MBytes"
    assert counters.VM["MCTLSZ"].group == "mctl" and counters.VM["SWR/s"].unit == "MB/s"
