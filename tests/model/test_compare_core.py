"""Compare changes: KEY=VALUE edits of a scenario's text, and the counter delta."""
import pytest

from vmmemviz.errors import InputError
from vmmemviz.model.config import compare as C
from vmmemviz.model.config import scenario as SC


def test_changes_land_where_named():
    sc = SC.load("tps")
    a, b, what = C.pair(sc, ["Mem.ShareForceSalting=0", "vm.tools=false", "vm[lin01].mmu=shadow",
                             "host.memory_mb=32", "sched.mem.pshare.enable=false", "duration=20"])
    assert what.startswith("Mem.ShareForceSalting = 0, vm.tools = false")
    assert a.settings.get("Mem.ShareForceSalting") != 0 and b.settings["Mem.ShareForceSalting"] == 0
    assert all(not vm.tools for vm in b.vms) and any(vm.tools for vm in a.vms)
    assert {vm.name: vm.mmu for vm in b.vms}["lin01"] == "shadow"
    assert b.host_mb == 32 and b.duration == 20
    assert all(vm.settings["sched.mem.pshare.enable"] is False for vm in b.vms)
    # an unset goes back to the default; everything else is kept as written
    c = C.apply(b.text, [C.parse_change("Mem.ShareForceSalting=")])
    assert "Mem.ShareForceSalting" not in c.settings and c.host_mb == 32


@pytest.mark.parametrize("bad, says", [
    ("Mem.ShareForceSalting", "expected KEY=VALUE"),
    ("Mem.NoSuchKnob=1", "unknown key 'Mem.NoSuchKnob'"),
    ("vm.count=3", "unknown key 'vm.count'"),
    ("Mem.ShareForceSalting=7", "expected 0 to 2"),
    ("vm[nosuch].tools=false", "no VM named 'nosuch'"),
    ("vm.mmu=nested", "expected one of ept, shadow"),
])
def test_bad_changes_are_one_line(bad, says):
    with pytest.raises(InputError) as e:
        C.pair(SC.load("tps"), [bad])
    assert says in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("name, label_a", [
    ("compare-salting", "Mem.ShareForceSalting = 0"), ("compare-idletax", "Mem.IdleTax = 0"),
    ("compare-largepages", "Mem.AllocGuestLargePage = 1"), ("compare-tools", "vm.tools = true"),
    ("compare-mmu", "vm.mmu = ept")])
def test_run_a_is_named_by_the_compared_setting_in_a(name, label_a):
    a, b, what = C.pair(SC.load(name))
    assert C.run_labels(a, b, what) == (label_a, a.compare_title)


@pytest.mark.parametrize("sets, label_a, label_b", [
    (["vm.tools=false", "duration=20"], "vm.tools = true, duration = 150", "vm.tools = false, duration = 20"),
    (["vm[lin01].mmu=shadow"], "vm[lin01].mmu = ept", "vm[lin01].mmu = shadow"),
    (["host.memory_mb=32"], "host.memory_mb = 24", "host.memory_mb = 32"),
    # nothing differs, or not in every VM alike past a few keys: the scenario's name
    (["description=copy"], "Tour: transparent page sharing", "description = copy"),
    (["sched.mem.pshare.enable=false"], "Tour: transparent page sharing", "sched.mem.pshare.enable = false"),
])
def test_run_labels_of_changes(sets, label_a, label_b):
    a, b, what = C.pair(SC.load("tps"), sets)
    assert C.run_labels(a, b, what) == (label_a, label_b)
    assert C.run_labels(a, C.pair(a, other="translation")[1], "x")[0] == a.name    # other VMs


def test_delta_is_b_minus_a():
    a = {"host": {"free_mb": 10.0, "state": "high"}, "vms": {"x": {"GRANT": 4.0, "MCTL?": "Y"}, "y": {"GRANT": 1}}}
    b = {"host": {"free_mb": 7.5, "state": "soft"}, "vms": {"x": {"GRANT": 6.25, "MCTL?": "N"}}}
    assert C.delta(a, b) == {"host": {"free_mb": -2.5}, "vms": {"x": {"GRANT": 2.25}}}
