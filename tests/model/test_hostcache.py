"""Host cache (swap to SSD): one mechanism module (reclaim/hostcache.py) on the model contract.

Facts (ESXI-FACTS.md, Hypervisor swapping): an optional faster tier configured per host;
swapped pages go there first while it has room, then the .vswp; LLSWR/s and LLSWW/s per VM;
VMware reports it about 30% better than ordinary swap.
"""
import numpy as np
import pytest

from vmmemviz.model.config import scenario
from vmmemviz.model.core import events as E
from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import runs
from vmmemviz.model.core.simulator import build_state
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.core.units import mb
from vmmemviz.model.reclaim import hostcache as HC
from vmmemviz.model.reclaim import swap
from vmmemviz.model.views import invariants
from vmmemviz.model.views.pageinfo import inspect
from vmmemviz.scene.bands import build_bands


def played(cache_pages=None):
    sc = scenario.load("hostcache")
    if cache_pages is not None:
        sc.host_cache_pages = cache_pages
    tl = Timeline(sc)
    tl.seek(tl.run_to_end())
    return tl


@pytest.fixture(scope="module")
def tl():
    return played()


def kinds(tl):
    return tl.log.column("kind")


def test_the_scenario_configures_the_cache_and_uses_both_tiers(tl):
    assert tl.sc.host_cache_pages == 16
    k = kinds(tl)
    for name in ("LLSWAP_OUT", "LLSWAP_IN", "SWAP_OUT"):
        assert (k == E.BY_NAME[name].code).any(), name
    assert tl.history[-1]["host"]["llswap_size_mb"] == 0.06


def test_swapped_pages_go_to_the_host_cache_before_the_vswp(tl):
    """Replayed run by run: whenever pages are written to a .vswp, the host cache is full."""
    st = build_state(tl.sc)
    rows = tl.log.rows()
    first_llswap = int(np.flatnonzero(rows["kind"] == HC.apply_llswap_out.code)[0])
    assert first_llswap < int(np.flatnonzero(rows["kind"] == E.BY_NAME["SWAP_OUT"].code)[0])
    checked = 0
    for a, b in runs(rows):
        if rows["kind"][a] == E.BY_NAME["SWAP_OUT"].code:
            assert HC.CACHE.free(st) == 0
            checked += 1
        E.apply_rows(st, rows[a:b])
        invariants.check(st)                        # the invariants cover the host cache
    assert checked and st.digest() == tl.view.digest()


def test_swap_in_from_the_cache_is_counted_as_llswr(tl):
    k = kinds(tl)
    ticks = tl.log.column("tick")
    vms = tl.log.column("vm")
    names = [vm.name for vm in tl.view.vms]
    seen = 0
    for h in tl.history:
        for i, name in enumerate(names):
            sel = (ticks == h["tick"]) & (vms == i)
            assert h["vms"][name]["LLSWR/s"] == mb(np.count_nonzero(sel & (k == HC.apply_llswap_in.code)))
            assert h["vms"][name]["LLSWW/s"] == mb(np.count_nonzero(sel & (k == HC.apply_llswap_out.code)))
            seen += h["vms"][name]["LLSWR/s"] > 0
    assert seen


def test_a_read_from_the_cache_costs_less_waiting_than_from_the_vswp(tl):
    without = played(0)
    def swap_ins(t, codes):                  # pages, not per-second MB rounded tick by tick
        ssd = [vm.name for vm in t.view.vms].index("ssd01")
        return np.count_nonzero(np.isin(kinds(t), codes) & (t.log.column("vm") == ssd))
    with_reads = swap_ins(tl, [HC.apply_llswap_in.code, swap.apply_swap_in.code])
    assert with_reads > 0 and with_reads == swap_ins(without, [swap.apply_swap_in.code])   # same swap-ins, another tier
    wait = sum(h["vms"]["ssd01"]["%SWPWT"] for h in tl.history)
    plain = sum(h["vms"]["ssd01"]["%SWPWT"] for h in without.history)
    assert wait < plain
    assert "hostcache" not in without.view.stores and "llswap_used_mb" in without.history[-1]["host"]


def test_the_band_and_the_inspector_show_the_cache_through_the_store_registry(tl):
    st, names = tl.view, [vm.name for vm in tl.view.vms]
    vm = st.vms[0]
    g = int(np.flatnonzero(vm.gp_state == HC.CACHED)[0])
    slot = int(vm.gp_loc[g])
    bands = build_bands(st)
    band = next(b for b in bands if b.key == "hostcache")     # once for the host, not under each VM
    assert [b.key for b in bands if b.layer == "hostcache"] == ["hostcache"] and band.vm is None
    assert band.title == "host cache (all VMs)" and band.total == 16
    assert band.cols == next(b for b in bands if b.key == "mp").cols        # full width, as the host's memory
    flat = band.codes.reshape(-1)
    free = np.flatnonzero(st.extra[HC.OWNER] == H.NO_VM)[0]
    assert flat[slot] != flat[free]                                          # used slots stand out
    assert band.ref(slot) == ("hostcache", 0, None, slot)                   # a used slot names its VM
    r, c = divmod(int(free), band.cols)
    assert band.index_at(band.x + c + 0.5, band.y + r + 0.5) is None          # a free slot is no VM's page
    info = inspect(st, tl.log.rows(), ("gp", 0, None, g), names)
    assert info["chain"][-1] == ("hostcache", 0, None, slot)
    assert info["state"].startswith("host cache")
    assert info["content_id"] == int(st.extra[HC.CONTENT][slot])
    assert any(tl.log[i]["kind"] == HC.apply_llswap_out.code for i in info["history"])
    p = next(p for p in vm.procs if (vm.gp_state[p.pt[p.pt_state == 1]] == HC.CACHED).any())
    gv = np.flatnonzero((p.pt_state == 1))
    gv = gv[vm.gp_state[p.pt[gv]] == HC.CACHED]
    assert (invariants.guest_content(st, vm, p, gv) == st.extra[HC.CONTENT][vm.gp_loc[p.pt[gv]]]).all()


def test_a_cache_slot_costs_what_the_scenario_check_counts():
    """scenario._fits_machine counts HOST_CACHE_SLOT_BYTES a slot: the arrays made here."""
    sc = scenario.load("hostcache")
    state = build_state(sc)
    made = state.extra[HC.CONTENT].nbytes + state.extra[HC.OWNER].nbytes
    assert made == sc.host_cache_pages * scenario.HOST_CACHE_SLOT_BYTES > 0


def test_pages_evicted_from_a_full_compression_cache_go_to_the_host_cache_first():
    """ESXI-FACTS.md: swapped pages go to the host cache first while it has room, and a full
    compression cache's oldest page is "decompressed and swapped out": so it too goes to the
    host cache before any .vswp. The compression tour (whose caches fill) with a host cache,
    replayed run by run: whenever a page is written to a .vswp, the host cache is full."""
    sc = scenario.load("compression")
    sc.host_cache_pages = 96
    tl = Timeline(sc)
    tl.seek(tl.run_to_end())
    to_vswp, evict_to_cache = set(E.writing("vswp")), {c for c, k in E.KINDS.items()
                                                        if k.src == "zip" and k.dst == "hostcache"}
    st = build_state(tl.sc)
    rows = tl.log.rows()
    evicted = 0
    for a, b in runs(rows):
        if rows["kind"][a] in to_vswp:
            assert HC.CACHE.free(st) == 0, E.KINDS[int(rows["kind"][a])].name
        evicted += (b - a) * (rows["kind"][a] in evict_to_cache)
        E.apply_rows(st, rows[a:b])
        invariants.check(st)
    assert evicted and st.digest() == tl.view.digest()
    assert any(h["vms"][n]["SWW/s"] > 0 for h in tl.history for n in h["vms"])      # the .vswp too, once full
