"""Large pages: 2 MB backing on first touch (EPT only, aligned free 2 MB), hints but no
sharing, breaking under contention and sharing at once, the zero-page rule, walk costs."""
import numpy as np
import pytest

from vmmemviz.model.core import content as C
from vmmemviz.model.views import counters
from vmmemviz.model.core import events
from vmmemviz.model.core import host as H
from vmmemviz.model.views import invariants
from vmmemviz.model.reclaim import largepages as LPM
from vmmemviz.model.guest import mmu
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.reclaim import tps
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.events import apply_rows
from vmmemviz.model.core.simulator import Simulator, build_state
from vmmemviz.model.core.timeline import Timeline

from test_tps import make, rows_of

LP = H.LARGE_PAGES


def sim_with(vms, **kw):
    kw.setdefault("settings", {})
    kw["settings"] = {"Mem.AllocGuestLargePage": 1} | kw["settings"]
    sim = Simulator(make(vms, **kw))
    sim.run(2)                    # power-on, then the app allocates its memory
    return sim


def test_first_touch_backs_a_whole_aligned_2mb_page():
    sim = sim_with([{"name": "a", "mb": 4}])
    a = sim.vms[0]
    sim.fault(a, np.array([600]), np.array([False]))
    back = rows_of(sim, LPM.apply_lp_back.code)
    assert len(back) == 1 and back["gppn"][0] == 512
    m = a.gp_loc[512:1024].astype(np.int64)
    assert m[0] % LP == 0 and (np.diff(m) == 1).all()
    assert (a.gp_state[512:1024] == V.MAPPED).all()
    assert (sim.state.host.mpn_flags[m] & H.LARGE).all()
    assert (sim.state.host.mpn_content[m] == C.ZERO_CID).all()
    # the first 2 MB hold the kernel, loaded page by page at boot: small pages
    assert not (sim.state.host.mpn_flags[a.gp_loc[:64].astype(np.int64)] & H.LARGE).any()
    assert "one large page" in events.narrate(back[0], ["a"])
    assert counters.all_counters(sim.state, sim)["vms"]["a"]["LPAGE"] == 2.0
    invariants.check(sim.state)


@pytest.mark.parametrize("mmu_kind,setting", [("shadow", 1), ("ept", 0)])
def test_shadow_mmu_or_the_setting_off_backs_small_pages(mmu_kind, setting):
    sim = sim_with([{"name": "a", "mb": 4, "mmu": mmu_kind}], settings={"Mem.AllocGuestLargePage": setting})
    a = sim.vms[0]
    sim.fault(a, np.array([600]), np.array([False]))
    assert len(rows_of(sim, LPM.apply_lp_back.code)) == 0
    assert a.gp_state[600] == V.MAPPED and a.gp_state[601] == V.UNTOUCHED


def test_no_aligned_free_2mb_means_small_pages():
    # 5 MB host: overheads and kernels are in the first 2 MB, the second 2 MB is free, the rest
    # is only half a large page
    sim = sim_with([{"name": "a", "mb": 4}, {"name": "b", "mb": 4}], host_mb=5)
    a, b = sim.vms
    sim.fault(a, np.array([520]), np.array([False]))
    assert len(rows_of(sim, LPM.apply_lp_back.code)) == 1
    sim.fault(b, np.array([520]), np.array([False]))
    assert len(rows_of(sim, LPM.apply_lp_back.code)) == 1           # none left: small
    assert b.gp_state[520] == V.MAPPED and b.gp_state[521] == V.UNTOUCHED
    invariants.check(sim.state)


def test_a_large_page_never_takes_the_frames_minfree_needs():
    # 4 MB host, minFree 40% = 410 frames: the free aligned 2 MB would leave too few
    sim = sim_with([{"name": "a", "mb": 4}, {"name": "b", "mb": 4}], host_mb=4,
                   settings={"Mem.MemMinFreePct": 40})
    a = sim.vms[0]
    assert sim.state.host_state == states.HIGH and len(LPM.aligned_free_groups(sim.state.host, 1)) == 1
    sim.fault(a, np.array([600]), np.array([False]))
    assert len(rows_of(sim, LPM.apply_lp_back.code)) == 0 and a.gp_state[601] == V.UNTOUCHED


def test_walk_costs_19_in_a_large_page_and_24_after_the_break():
    sim = sim_with([{"name": "a", "mb": 4, "app": {"size": 3.5}}])
    a = sim.vms[0]
    proc = a.procs[0]
    gv = np.array([600])                                   # GPPN 664: inside the large page
    sim.access(a, proc, gv, np.array([False]), np.zeros(1, np.uint32))
    acc = rows_of(sim, mmu.apply_access.code)[-1]
    assert acc["aux"] == mmu.walk_refs("ept", True) == 19
    assert "19 memory references" in events.narrate(acc, ["a"])
    sim.state.host_state = states.CLEAR
    sim.mechanism(LPM.LargePages).tick()
    assert rows_of(sim, LPM.apply_lp_break.code)["slot"].tolist() == [LPM.CONTENTION]
    a.tlb[:] = -1
    sim.access(a, proc, gv, np.array([False]), np.zeros(1, np.uint32))
    assert rows_of(sim, mmu.apply_access.code)[-1]["aux"] == 24
    c = counters.all_counters(sim.state, sim)["vms"]["a"]
    assert c["LPAGE"] == 0 and c["WALK/MISS"] == pytest.approx((19 + 24) / 2)


def two_vms_with_identical_library_pages():
    """Two VMs, each with a large page holding the same 64 OS pages and 448 zero pages."""
    sim = sim_with([{"name": "a", "mb": 4, "app": {"size": 3.5}}, {"name": "b", "mb": 4, "app": {"size": 3.5}}],
                   settings={"Sim.TimeScale": 60}, host_mb=16)
    cids = C.os_cid("linux", np.arange(64))
    for vm in sim.vms:
        proc = vm.procs[0]
        gv = np.arange(512 - 64, 512)                       # GPPN 512-575
        sim.access(vm, proc, gv, np.ones(64, bool), cids)
    return sim


def test_large_pages_are_hashed_but_not_shared():
    sim = two_vms_with_identical_library_pages()
    sim.run(20)                                             # several full scans
    a, b = sim.vms
    assert len(rows_of(sim, LPM.apply_lp_break.code)) == 0
    assert not (a.gp_state[512:1024] == V.SHARED).any() and not (b.gp_state[512:1024] == V.SHARED).any()
    assert (a.tps_flags[512:1024] & tps.HINT).all() and (b.tps_flags[512:1024] & tps.HINT).all()
    hint = rows_of(sim, tps.apply_hint.code)
    inside = hint[(hint["gppn"] >= 512) & (hint["gppn"] < 1024)]
    assert (inside["flags"] & tps.F_IN_LARGE).all()
    assert "2 MB large page" in events.narrate(inside[0], ["a", "b"])
    assert counters.all_counters(sim.state, sim)["vms"]["a"]["COWH"] >= 2.0


def test_broken_under_contention_and_shared_at_once_with_the_kept_hints():
    sim = two_vms_with_identical_library_pages()
    sim.run(20)
    a, b = sim.vms
    free = sim.state.host.free_count()
    n = len(sim.log)
    sim.state.host_state = states.CLEAR
    sim.mechanism(LPM.LargePages).tick()
    new = sim.log.rows(n)
    kinds = new["kind"]
    assert kinds[0] == LPM.apply_lp_break.code and np.count_nonzero(kinds == LPM.apply_lp_break.code) == 2
    assert set(kinds.tolist()) == {LPM.apply_lp_break.code, tps.apply_share.code}
    assert "broke" in events.narrate(new[0], ["a", "b"])
    # the 64 library pages are shared across the VMs, the 2 x 448 zero pages onto one zero page
    assert (a.gp_state[512:1024] == V.SHARED).all() and (b.gp_state[512:1024] == V.SHARED).all()
    assert (a.gp_loc[512:576] == b.gp_loc[512:576]).all()
    assert len(np.unique(np.r_[a.gp_loc[576:1024], b.gp_loc[576:1024]])) == 1
    assert sim.state.host.free_count() >= free + 2 * LP - 64 - 1
    invariants.check(sim.state)


def test_break_candidates_below_400_percent_of_minfree():
    sim = two_vms_with_identical_library_pages()
    sim.run(20)
    sim.mechanism(states.HostStates).minfree_mb = sim.state.host.free_count() / 256 / 3.9       # free is now < 400% of minFree
    sim.mechanism(LPM.LargePages).tick()
    brk = rows_of(sim, LPM.apply_lp_break.code)
    assert brk["slot"].tolist() == [LPM.CANDIDATE] * 2
    assert "400% of minFree" in events.narrate(brk[0], ["a", "b"])


def test_a_large_page_of_zeros_is_kept_above_the_400_percent_mark_and_broken_below():
    """Epping, "Large pages and TPS": a 2 MB page of zeros stays large (and unshared) while the
    host is above 400% of minFree; below the mark it is broken and its zero pages shared."""
    sim = sim_with([{"name": "a", "mb": 4, "app": {"size": 3.5}}], settings={"Sim.TimeScale": 60})
    a = sim.vms[0]
    sim.access(a, a.procs[0], np.array([600]), np.array([False]), np.zeros(1, np.uint32))
    sim.run(30)
    assert len(rows_of(sim, LPM.apply_lp_break.code)) == 0 and sim.state.host_state == states.HIGH
    sim.mechanism(states.HostStates).minfree_mb = sim.state.host.free_count() / 256 / 3.9       # free is now < 400% of minFree
    sim.mechanism(LPM.LargePages).tick()
    brk = rows_of(sim, LPM.apply_lp_break.code)
    assert LPM.ZEROS in brk["slot"].tolist() and sim.state.host_state == states.HIGH
    assert (a.gp_state[512:1024] == V.SHARED).all()
    assert "LPage.MaxSharedPages" in events.narrate(brk[list(brk["slot"]).index(LPM.ZEROS)], ["a"])


def test_tour_seek_equals_play_and_invariants_hold():
    from vmmemviz.model.config import scenario
    tl = Timeline(scenario.load("largepages"), keyframe_every=1500)
    tl.run_to_end()
    log = tl.log.rows()
    assert {LPM.apply_lp_back.code, LPM.apply_lp_break.code, tps.apply_share.code} <= set(log["kind"].tolist())
    ks = sorted({int(k) for k in np.random.default_rng(2).integers(0, len(tl) + 1, 25)} | {0, len(tl)})
    st = build_state(tl.sc)
    play = {0: st.digest()}
    for i in range(len(tl)):
        apply_rows(st, log[i:i + 1].copy())
        if i + 1 in ks:
            play[i + 1] = st.digest()
    invariants.check(st)
    for k in ks[::-1] + ks:
        tl.seek(k)
        assert tl.view.digest() == play[k], f"seek to {k}"


def test_runs_of_back_and_break_rows_apply_as_one_at_a_time():
    sim = sim_with([{"name": "a", "mb": 8}, {"name": "b", "mb": 8}], host_mb=24)
    for vm in sim.vms:
        sim.fault(vm, np.array([600, 1100, 1700]), np.zeros(3, bool))    # three ranges at once
    sim.state.host_state = states.CLEAR
    sim.mechanism(LPM.LargePages).tick()
    sim.state.host_state = states.HIGH         # set by hand above, not by an event
    log = sim.log.rows()
    assert np.count_nonzero(log["kind"] == LPM.apply_lp_back.code) == 6
    assert np.count_nonzero(log["kind"] == LPM.apply_lp_break.code) == 6
    one, many = build_state(sim.sc), build_state(sim.sc)
    for i in range(len(log)):
        apply_rows(one, log[i:i + 1].copy())
    apply_rows(many, log.copy())
    assert one.digest() == many.digest() == sim.state.digest()
    invariants.check(one)
