"""The model contract: mechanisms, their order, the counters and stores they declare."""
import numpy as np
import pytest

from vmmemviz.model import catalog
from vmmemviz.model.config import scenario
from vmmemviz.model.core import counter, events
from vmmemviz.model.core.mechanism import Mechanism, ordered
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.views import counters, invariants
from vmmemviz.model.views.pageinfo import inspect


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
def overcommit():
    tl = Timeline(scenario.load("overcommit"))
    tl.ensure(20000)
    tl.seek(len(tl))
    return tl


def test_every_counter_is_declared_and_every_declaration_is_produced(overcommit):
    c = overcommit.counters()
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
    # esxtop's lines: "PMEM /MB: total, vmk, other, free" and "VMKMEM/MB: managed, minfree, ...
    # state" (ESXI-FACTS.md, esxtop: VMKMEM (managed, minfree, state))
    assert {(c.group, c.label) for c in counters.DECLARED if c.host and c.group == "VMKMEM"} == {
        ("VMKMEM", "managed"), ("VMKMEM", "minfree"), ("VMKMEM", "state")}
    assert (counters.HOST["free_mb"].group, counters.HOST["free_mb"].label) == ("PMEM/MB", "free")
    assert counters.VM["MCTLSZ"].group == "mctl" and counters.VM["SWR/s"].unit == "MB/s"


def test_stores_are_registered_on_the_state_from_the_mechanisms(overcommit):
    st = overcommit.view
    assert list(st.stores) == [s.name for s in catalog.STORES if s.exists(st)] and {"vswp", "zip", "gswap"} <= set(st.stores)
    for s in st.stores.values():
        assert s.page_state is None or st.store_holding(s.page_state) is s


@pytest.fixture(scope="module")
def stored():
    """Timelines at their end where pages sit in every built-in store."""
    out = []
    for name in ("swap", "compression"):
        tl = Timeline(scenario.load(name))
        tl.seek(tl.run_to_end())
        out.append(tl)
    return out


def test_the_inspector_follows_a_page_into_every_store_that_holds_one(stored):
    found = set()
    for tl in stored:
        found |= inspect_stores(tl)
    assert {"vswp", "zip", "gswap"} <= found


def inspect_stores(tl) -> set:
    st, names = tl.view, [vm.name for vm in tl.view.vms]
    invariants.check(st)
    found = set()
    for s in st.stores.values():
        for vm in st.vms:
            slots = s.held(st, vm)
            if not len(slots):
                continue
            if s.page_state is not None:
                g = int(np.flatnonzero(vm.gp_state == s.page_state)[0])
                info = inspect(st, tl.log.rows(0, 0), ("gp", vm.index, None, g), names)
                assert info["chain"][-1] == (s.name, vm.index, None, int(vm.gp_loc[g]))
                assert s.title in info["state"] or s.page_state < 6
            else:
                p = next(p for p in vm.procs if (p.pt_state == 2).any())
                gv = int(np.flatnonzero(p.pt_state == 2)[0])
                info = inspect(st, tl.log.rows(0, 0), ("gv", vm.index, p.index, gv), names)
                assert info["chain"][-1] == (s.name, vm.index, None, int(p.pt[gv]))
            slot = info["chain"][-1][3]
            assert info["content_id"] == int(s.content(st, vm, np.array([slot]))[0])
            found.add(s.name)
            break
    return found


def test_kinds_that_move_content_declare_their_arrow_between_real_layers():
    stores = {s.name for s in catalog.STORES}
    flows = [k for k in events.KINDS.values() if k.flow]
    assert {"SWAP_OUT", "SWAP_IN", "ZIP", "UNZIP", "ZIP_EVICT", "GUEST_PAGEOUT", "GUEST_PAGEIN"} <= {k.name for k in flows}
    for k in flows:
        assert {k.src, k.dst} <= stores | {"gv", "gp", "mp"} and k.src != k.dst
        assert stores & {k.src, k.dst}, f"{k.name}: a flow touches a store"
    assert events.BY_NAME["SWAP_IN"].src == "vswp" and events.BY_NAME["SWAP_IN"].dst == "mp"
    assert set(catalog.STORES[0].writes()) and all(events.KINDS[c].dst == catalog.STORES[0].name
                                                   for c in catalog.STORES[0].writes())


def test_every_event_group_and_store_declares_its_words():
    assert {k.group for k in events.KINDS.values()} <= set(events.GROUP_TITLES)
    titles = {s.name: (s.slot_title, s.help) for s in catalog.STORES}
    assert titles["hostcache"] == ("host cache slot", "slot in the host cache (one for the whole host)")
    assert titles["vswp"] == (".vswp slot", "slot in the .vswp (one per VM)")


def test_a_store_s_extent_is_its_last_slot_in_use(stored):
    """A swap file's extent is read from the pages it holds (a byte a page) rather than from
    its slots (four): the same number as the slots give, in every store that holds pages."""
    from vmmemviz.model.core.store import Store
    seen = 0
    for tl in stored:
        st = tl.view
        for s in st.stores.values():
            for vm in st.vms:
                assert s.extent(st, vm) == Store.extent(s, st, vm), (s.name, vm.name)
                seen += s.extent(st, vm) > 0
    assert seen >= 3
