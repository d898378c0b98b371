"""Ballooning and guest-level paging: targets by shares and the idle tax, MCTLMAX, inflating
only in the soft state (or above a limit), free pages first then guest paging, pinned pages
freed on the host, deflating, and guest swap slots released when a process frees."""
import numpy as np
import pytest

from vmmemviz.model.reclaim import allocation
from vmmemviz.model.reclaim import balloon
from vmmemviz.model.core import events
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.guest import guestswap
from vmmemviz.model.core import host as H
from vmmemviz.model.views import invariants
from vmmemviz.model.config import scenario
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.events import apply_rows
from vmmemviz.model.core.simulator import Simulator, build_state
from vmmemviz.model.core.timeline import Timeline


def one_vm(extra="", app="", settings="", host_mb=8, duration=30):
    text = (f"seed = 3\nduration = {duration}\n[host]\nmemory_mb = {host_mb}\n[settings]\n"
            f"'Mem.AllocGuestLargePage' = 0\n{settings}\n"
            f"[[vm]]\nname = 'a'\nmemory_mb = 2\nguest_os = 'linux'\n{extra}\n"
            f"[[vm.process]]\nname = 'p'\nsize_mb = 1.8\nstart_mb = 1.8\ntouches = 20\nwrite_fraction = 1.0\n"
            f"content = {{ text = 1.0 }}\n{app}")
    return scenario.parse(text, "one.toml")


# -- targets -------------------------------------------------------------------------------
def test_targets_split_by_shares_and_idle_tax():
    t = allocation.targets
    # equal shares and activity: an even split of what is available
    assert list(t([10, 10], [0.5, 0.5], [0, 0], [1000, 1000], 1000, 75)) == [500, 500]
    # the idle memory tax: an idle page costs k = 1/(1 - 0.75) = 4 times an active one
    busy, idle = t([10, 10], [1.0, 0.0], [0, 0], [1000, 1000], 1000, 75)
    assert busy == pytest.approx(4 * idle, abs=2)
    # no tax: activity does not matter; shares do (High = 2 x Normal)
    assert list(t([10, 10], [1.0, 0.0], [0, 0], [1000, 1000], 1000, 0)) == [500, 500]
    high, normal = t([20, 10], [0.5, 0.5], [0, 0], [1000, 1000], 900, 75)
    assert high == pytest.approx(2 * normal, abs=2)
    # reservation is a floor, demand (limit) a ceiling, and the rest is shared out
    got = t([10, 10, 10], [0.5, 0.5, 0.5], [400, 0, 0], [1000, 100, 1000], 1000, 75)
    assert got[0] >= 400 and got[1] == 100 and abs(got.sum() - 1000) <= 3
    # room for everyone: everyone gets its demand; too little for the reservations: the reservations
    assert list(t([10, 10], [0.5, 0.5], [0, 0], [300, 200], 1000, 75)) == [300, 200]
    assert list(t([10, 10], [0.5, 0.5], [300, 200], [600, 600], 100, 75)) == [300, 200]


def test_mctlmax_honours_tools_percent_maxmemctl_and_reservation():
    s = {"Mem.CtlMaxPercent": 65}
    sim = Simulator(one_vm())
    vm = sim.vms[0]
    assert balloon.mctl_max(s, vm) == 512 * 65 // 100
    vm.cfg.settings["sched.mem.maxmemctl"] = 1
    assert balloon.mctl_max(s, vm) == 256
    vm.cfg.reservation_mb = 1.5
    assert balloon.mctl_max(s, vm) == 128          # never into the reservation
    vm.cfg.tools = False
    assert balloon.mctl_max(s, vm) == 0


# -- the balloon tour ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tour():
    tl = Timeline(scenario.load("balloon"))
    tl.run_to_end()
    return tl


def rows_of(tl, name):
    r = tl.log.rows()
    return r[r["kind"] == events.BY_NAME[name].code]


def test_targets_rise_only_in_the_soft_state(tour):
    """Replaying the log: a balloon target goes up only while the host is in the soft state."""
    host_state, target = 0, {}
    for r in tour.log.rows():
        name = events.KINDS[int(r["kind"])].name
        if name == "HOST_STATE":
            host_state = int(r["aux"])
        elif name == "BALLOON_TARGET":
            if int(r["aux"]) > target.get(int(r["vm"]), 0):
                assert host_state == states.SOFT, f"tick {r['tick']}: target raised in {states.STATE_NAMES[host_state]}"
            target[int(r["vm"])] = int(r["aux"])


def test_the_idle_vm_gives_first(tour):
    pins = rows_of(tour, "BALLOON_PIN")
    names = [vm.name for vm in tour.sim.vms]
    first_tick = pins["tick"].min()
    assert {names[v] for v in pins["vm"][pins["tick"] == first_tick]} == {"idle01"}
    h = tour.history[59]["vms"]
    assert h["idle01"]["MCTLSZ"] > h["busy01"]["MCTLSZ"]
    assert h["idle01"]["%ACTV"] < h["busy01"]["%ACTV"]


def test_pinning_frees_the_machine_page_and_guest_pages_first_free_then_paged(tour):
    st_ = build_state(tour.sc)
    rows = tour.log.rows()
    freed = 0
    for i in range(len(rows)):
        one = rows[i:i + 1].copy()
        apply_rows(st_, one)
        r = one[0]
        if r["kind"] == events.BY_NAME["BALLOON_PIN"].code:
            vm = st_.vms[int(r["vm"])]
            g = int(r["gppn"])
            assert vm.gp_state[g] == V.BALLOONED and vm.gp_guest[g] == G.BALLOON
            if r["aux"] == V.MAPPED:
                assert st_.host.mpn_state[int(r["mpn"])] == H.FREE
                freed += 1
    assert freed > 100
    # the guest paged its application out so the balloon could have more pages
    out = rows_of(tour, "GUEST_PAGEOUT")
    pins = rows_of(tour, "BALLOON_PIN")
    assert len(out) and set(out["gppn"][out["vm"] == 1].tolist()) & set(pins["gppn"][pins["vm"] == 1].tolist())
    # guest paging starts only after the guest's free pages ran out (and the balloon took them)
    assert out["tick"].min() > pins["tick"].min()


def test_deflating_gives_the_pages_back(tour):
    unpins = rows_of(tour, "BALLOON_UNPIN")
    assert len(unpins) and unpins["tick"].min() >= 60
    before = tour.history[59]["vms"]["idle01"]
    after = tour.history[62:80]                     # memory is plentiful again: the host is high
    assert all(h["host"]["state"] == "high" for h in after)
    assert before["MCTLSZ"] > 1 and all(h["vms"]["idle01"]["MCTLSZ"] == h["vms"]["idle01"]["MCTLTGT"] == 0
                                        for h in after)


# -- limits, tools, guest swap -------------------------------------------------------------
def test_a_vm_above_its_limit_is_ballooned_in_the_high_state():
    tl = Timeline(one_vm(extra="limit_mb = 1"))
    tl.run_to_end()
    assert all(h["host"]["state"] == "high" for h in tl.history)
    pins = rows_of(tl, "BALLOON_PIN")
    assert len(pins)
    last = tl.history[-1]["vms"]["a"]
    vm = tl.sim.vms[0]
    assert allocation.consumed(tl.sim.state, vm) <= 256 + 8       # brought down to its 1 MB limit
    assert last["MCTLSZ"] > 0 and last["GSWCUR"] > 0                # by the balloon, with guest paging
    assert len(rows_of(tl, "SWAP_OUT")) == 0


def test_without_tools_there_is_no_balloon():
    tl = Timeline(one_vm(extra="tools = false\nlimit_mb = 1"))
    tl.run_to_end()
    assert len(rows_of(tl, "BALLOON_PIN")) == 0
    last = tl.history[-1]["vms"]["a"]
    assert last["MCTL?"] == "N" and last["MCTLMAX"] == 0
    assert len(rows_of(tl, "SWAP_OUT")) > 0      # the limit is enforced by swapping instead


def test_freeing_paged_out_pages_releases_guest_swap_slots():
    sim = Simulator(one_vm(extra="limit_mb = 1"))
    sim.run()
    vm = sim.vms[0]
    proc = vm.procs[0]
    out = np.flatnonzero(proc.pt_state == G.GSWAPPED)
    assert len(out) and guestswap.GSWAP.used(sim.state, vm) == len(out)
    sim.emit(sim.rows(1, G.apply_free.code, 0, proc=0, gvpn=0, aux=proc.vpages))
    assert guestswap.GSWAP.used(sim.state, vm) == 0 and (proc.pt_state == G.UNMAPPED).all()


def test_a_guest_with_no_page_left_takes_pages_back_from_its_balloon():
    """A tiny VM squeezed to its limit whose application touches more than is left: the
    balloon gives pages back so paged-out pages can come in (instead of the guest failing)."""
    sc = one_vm(extra="limit_mb = 0.1", settings="'Mem.CtlMaxPercent' = 75", duration=25)
    sc.vms[0].memory_mb = 0.5
    sc.vms[0].processes[0].size_pages = sc.vms[0].processes[0].start_pages = 115
    sc.vms[0].processes[0].touches = 200
    tl = Timeline(sc)
    tl.run_to_end()
    unpins = rows_of(tl, "BALLOON_UNPIN")
    targets = rows_of(tl, "BALLOON_TARGET")
    assert len(unpins) and len(rows_of(tl, "GUEST_PAGEIN"))
    lowered = -np.minimum(np.diff(targets["aux"].astype(np.int64)), 0).sum()
    assert len(unpins) > lowered + 100            # far more than the target ever came down
    invariants.check(tl.sim.state)
