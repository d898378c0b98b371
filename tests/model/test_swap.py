"""Hypervisor swapping: the .vswp, random victims (busy pages too), swapping only in hard/low
(or above a limit), share before swap, swap-in on access, and the low state's make_room."""
import numpy as np
import pytest

from vmmemviz.model.reclaim import allocation
from vmmemviz.model.core import events
from vmmemviz.model.core import host as H
from vmmemviz.model.config import scenario
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.reclaim import swap
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.simulator import Simulator
from vmmemviz.model.core.timeline import Timeline


@pytest.fixture(scope="module")
def tour():
    tl = Timeline(scenario.load("swap"))
    tl.run_to_end()
    return tl


def count(tl, name, vm=None):
    r = tl.log.rows()
    sel = r["kind"] == events.BY_NAME[name].code
    if vm is not None:
        sel &= r["vm"] == vm
    return int(np.count_nonzero(sel))


def test_vswp_is_configured_minus_reservation():
    sim = Simulator(scenario.load("overcommit"))
    for vm in sim.vms:
        assert len(vm.vswp) == vm.n - allocation.reservation_pages(vm)
    db01 = next(vm for vm in sim.vms if vm.name == "db01")
    assert len(db01.vswp) == db01.n - 3 * 256       # db01 reserves 3 MB


def test_swap_targets_rise_only_in_hard_and_low(tour):
    host_state, target = 0, {}
    for r in tour.log.rows():
        name = events.KINDS[int(r["kind"])].name
        if name == "HOST_STATE":
            host_state = int(r["aux"])
        elif name == "SWAP_TARGET":
            if int(r["aux"]) > target.get(int(r["vm"]), 0):
                assert host_state >= states.HARD
            target[int(r["vm"])] = int(r["aux"])
    assert target


def test_random_swapping_hits_busy_pages_guest_paging_does_not(tour):
    """The hypervisor swaps at random, so many swapped pages are read back at once; the guest
    pages out what it has not used lately, so few come back."""
    vm_guest, vm_nocache = 0, 1
    swapped_back = count(tour, "SWAP_IN", vm_nocache) / count(tour, "SWAP_OUT", vm_nocache)
    paged_back = count(tour, "GUEST_PAGEIN", vm_guest) / count(tour, "GUEST_PAGEOUT", vm_guest)
    assert swapped_back > 0.3 and paged_back < 0.15 and swapped_back > 3 * paged_back
    # no balloon without VMware Tools; the VM that can balloon is hardly swapped
    assert count(tour, "BALLOON_PIN", vm_nocache) == 0
    assert count(tour, "SWAP_OUT", vm_guest) < count(tour, "SWAP_OUT", vm_nocache) / 5
    assert count(tour, "ZIP") == 0                   # Mem.MemZipEnable = 0 in this tour
    # the counters: SWR/s and SWW/s are rates of this tick's rows
    assert max(h["vms"]["nocache01"]["SWR/s"] for h in tour.history) > 0
    assert max(h["vms"]["nocache01"]["SWW/s"] for h in tour.history) > 0


def test_swap_in_brings_back_what_was_swapped_out_into_a_fresh_frame(tour):
    out_code, in_code = swap.apply_swap_out.code, swap.apply_swap_in.code
    written, seen = {}, 0
    for r in tour.log.rows():
        key = (int(r["vm"]), int(r["gppn"]))
        if r["kind"] == out_code:
            written[key] = (int(r["content"]), int(r["slot"]), int(r["mpn"]))
        elif r["kind"] == in_code:
            content, slot, _ = written.pop(key)
            assert (int(r["content"]), int(r["slot"])) == (content, slot)
            seen += 1
    assert seen > 50


def test_share_before_swap():
    """Zero pages picked for swapping are shared instead; the rest go to the swap file."""
    text = ("seed = 1\nduration = 2\n[host]\nmemory_mb = 16\n[settings]\n'Mem.AllocGuestLargePage' = 0\n"
            "'Mem.MemZipEnable' = 0\n[[vm]]\nname = 'w'\nmemory_mb = 2\nguest_os = 'windows'\n"
            "[[vm.process]]\nname = 'p'\nsize_mb = 0.5\nstart_mb = 0.5\n"
            "[[vm.process.step]]\nat = 1\nop = 'write'\npages = '0x0-0x3f'\ncontent = 'random'\n")
    sim = Simulator(scenario.parse(text, "sbs.toml"))
    sim.run()
    vm = sim.vms[0]
    mapped = np.flatnonzero(vm.gp_state == V.MAPPED)
    cid = sim.state.host.mpn_content[vm.gp_loc[mapped]]
    zeros, randoms = mapped[cid == 0][:20], mapped[cid >> 30 == 3][:10]
    n = len(sim.log)
    swap.swap_out(sim, vm, np.concatenate([zeros, randoms]))
    new = sim.log.rows(n)
    kinds = [events.KINDS[int(k)].name for k in new["kind"]]
    assert "TPS_SHARE" in kinds
    assert (vm.gp_state[zeros] == V.SHARED).all()
    assert (vm.gp_state[randoms] == V.SWAPPED).all()
    assert set(new["gppn"][new["kind"] == swap.apply_swap_out.code].tolist()) == set(randoms.tolist())


def test_a_vm_without_tools_above_its_limit_is_swapped_in_the_high_state():
    text = ("seed = 2\nduration = 20\n[host]\nmemory_mb = 16\n[settings]\n'Mem.AllocGuestLargePage' = 0\n"
            "[[vm]]\nname = 'a'\nmemory_mb = 2\ntools = false\nlimit_mb = 1\n"
            "[[vm.process]]\nname = 'p'\nsize_mb = 1.8\nstart_mb = 1.8\ntouches = 30\nwrite_fraction = 1.0\n"
            "content = { random = 1.0 }\n")
    tl = Timeline(scenario.parse(text, "limit.toml"))
    tl.run_to_end()
    assert all(h["host"]["state"] == "high" for h in tl.history)
    assert count(tl, "SWAP_OUT") > 0 and count(tl, "SWAP_IN") > 0
    assert allocation.consumed(tl.sim.state, tl.sim.vms[0]) <= 256 + 40     # about its 1 MB limit


def test_low_state_makes_room_before_a_fault_takes_frames():
    """The batch burst drives the host into low; it compresses and swaps at once, as fast as
    Sim.SwapRate lets it (Epping: it reclaims aggressively until back in hard, which takes
    some seconds: test_pressure.py::test_low_lasts_until_the_host_is_back_in_hard), and
    never runs out of frames."""
    sim = Simulator(scenario.load("overcommit"))
    sim.run()
    r = sim.log.rows()
    code = events.BY_NAME["HOST_STATE"].code
    tick = int(r["tick"][(r["kind"] == code) & (r["aux"] == states.LOW)][0])
    assert tick >= 110
    t = r[r["tick"] == tick]
    out = np.isin(t["kind"], [swap.apply_swap_out.code, events.BY_NAME["ZIP"].code])
    assert np.count_nonzero(out) > 100
    assert sim.state.host.free_count() >= 0


def test_never_below_reservation():
    sim = Simulator(scenario.load("overcommit"))
    db01 = sim.vms[3]
    res = allocation.reservation_pages(db01)
    while not sim.done():
        sim.step_tick()
        if sim.now > 5:
            assert allocation.consumed(sim.state, db01) >= res
        assert swap.out(db01) <= len(db01.vswp)
    assert sim.state.host.free_count() >= 0 and np.all(sim.state.host.mpn_state <= H.ZIP)
