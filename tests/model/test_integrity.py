"""Integrity across every path a page can take: a guest read returns the bytes last written.

What each process wrote to each GVPN is tracked from the ACCESS rows; after every tick each
GVPN is resolved through the page table -> gp_state / gp_loc -> MPN content, .vswp slot,
compression cache slot or guest swap slot, and its bytes compared with what was written.
The paths are: page sharing and copy on write, ballooning, guest-level paging, hypervisor
swap out and in, compression, eviction from the cache to the swap file, decompression.
Replaying the logged rows one at a time gives the same rows and the same state, and keeps
the model's invariants after every event; seeking anywhere gives the state play gave.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from vmmemviz.model.reclaim import compression as Z
from vmmemviz.model.core import events
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.core import host as H
from vmmemviz.model.views import invariants
from vmmemviz.model.config import scenario
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.events import apply_rows
from vmmemviz.model.core.store import EMPTY
from vmmemviz.model.core.simulator import Simulator, build_state
from vmmemviz.model.core.timeline import Timeline

from read_after_write import Writes


def check_stores(state) -> None:
    """Every store holds exactly the pages that say they are in it: .vswp slots and SWAPPED
    GPPNs, cache slots and COMPRESSED GPPNs (in held frames, owned by the VM), guest swap slots
    and GSWAPPED GVPNs; balloon pages are BALLOONED and back nothing."""
    for vm in state.vms:
        sw = np.flatnonzero(vm.gp_state == V.SWAPPED)
        slots = vm.gp_loc[sw].astype(np.int64)
        assert len(np.unique(slots)) == len(slots) and (vm.vswp[slots] != EMPTY).all()
        assert np.count_nonzero(vm.vswp != EMPTY) == len(sw)
        zp = np.flatnonzero(vm.gp_state == V.COMPRESSED)
        zs = vm.gp_loc[zp].astype(np.int64)
        assert np.isin(vm.zip_size[zs], (Z.ONE_K, Z.TWO_K)).all() and (vm.zip_gppn[zs] == zp).all()
        assert np.count_nonzero(np.isin(vm.zip_size, (Z.ONE_K, Z.TWO_K))) == len(zp)
        frames = vm.zip_frame[zs // Z.UNITS_PER_FRAME]
        assert (frames != events.NONE).all()
        held = vm.zip_frame[vm.zip_frame != events.NONE].astype(np.int64)
        assert (state.host.mpn_state[held] == H.ZIP).all() and (state.host.mpn_owner[held] == vm.index).all()
        gsw = sum(int(np.count_nonzero(p.pt_state == G.GSWAPPED)) for p in vm.procs)
        assert np.count_nonzero(vm.gswap != EMPTY) == gsw
        assert ((vm.gp_guest == G.BALLOON) == (vm.gp_state == V.BALLOONED)).all()
    assert np.count_nonzero(state.host.mpn_state == H.ZIP) == sum(
        int(np.count_nonzero(vm.zip_frame != events.NONE)) for vm in state.vms)


def run_checked(sc):
    """Play ``sc`` tick by tick, checking invariants and every tracked read after each tick."""
    sim = Simulator(sc)
    writes = Writes(sim)
    seen = set()
    while not sim.done():
        sim.step_tick()
        invariants.check(sim.state)
        check_stores(sim.state)
        writes.check(sim.state, seen)
    return sim, seen


def kinds_in(log) -> set:
    return {events.KINDS[int(k)].name for k in np.unique(log.rows()["kind"])}


def test_overcommit_reads_survive_every_path():
    sim, seen = run_checked(scenario.load("overcommit"))
    assert {"shared", "swapped", "compressed", "guest swap"} <= seen
    assert {"TPS_SHARE", "TPS_COW", "BALLOON_PIN", "GUEST_PAGEOUT", "GUEST_PAGEIN", "SWAP_OUT", "SWAP_IN",
            "ZIP", "ZIP_EVICT", "UNZIP"} <= kinds_in(sim.log)


@pytest.mark.parametrize("name,paths", [("balloon", {"guest swap", "shared"}), ("swap", {"guest swap", "swapped"}),
                                        ("compression", {"swapped", "compressed"})])
def test_tours_reads_survive(name, paths):
    _, seen = run_checked(scenario.load(name))
    assert paths <= seen


def replay_one_by_one(tl, check_every_event: bool):
    """Apply the log one row at a time to a fresh state: same rows, same final state;
    returns the digest after every event (when ``check_every_event``, also invariants)."""
    rows = tl.log.rows().copy()
    st_ = build_state(tl.sc)
    digests = [st_.digest()] if check_every_event else []
    for i in range(len(rows)):
        one = rows[i:i + 1].copy()
        apply_rows(st_, one)
        assert one[0] == rows[i], f"event {i} ({events.KINDS[int(rows[i]['kind'])].name}) differs alone"
        if check_every_event:
            invariants.check(st_)
            check_stores(st_)
            digests.append(st_.digest())
    assert st_.digest() == tl.sim.state.digest()
    return digests


@pytest.mark.parametrize("name", ["balloon", "swap", "compression"])
def test_tours_one_event_at_a_time_and_seek(name):
    tl = Timeline(scenario.load(name), keyframe_every=400)
    tl.run_to_end()
    digests = replay_one_by_one(tl, check_every_event=True)
    rng = np.random.default_rng(1)
    for k in list(rng.integers(0, len(tl) + 1, 25)) + [len(tl), 0]:
        tl.seek(int(k))
        assert tl.view.digest() == digests[int(k)], f"seek to {k}"


def test_overcommit_one_event_at_a_time_and_seek():
    """From the state at tick 85 (clear, before soft, hard, the burst into low and the full
    compression cache), the rows of ticks 85-121 applied one by one give the rows and the state
    play gave; seeking agrees."""
    tl = Timeline(scenario.load("overcommit"), keyframe_every=5000)
    tl.advance(85)
    start, snap = len(tl), tl.sim.state.snapshot()
    at_start = tl.sim.state.digest()
    tl.advance(37)
    rows = tl.log.rows(start).copy()
    st_ = build_state(tl.sc)
    st_.restore(snap)
    for i in range(len(rows)):
        one = rows[i:i + 1].copy()
        apply_rows(st_, one)
        assert one[0] == rows[i], f"event {start + i} ({events.KINDS[int(rows[i]['kind'])].name}) differs alone"
    assert st_.digest() == tl.sim.state.digest()
    kinds = {events.KINDS[int(k)].name for k in np.unique(rows["kind"])}
    assert {"BALLOON_PIN", "GUEST_PAGEOUT", "SWAP_OUT", "SWAP_IN", "ZIP", "UNZIP", "ZIP_EVICT"} <= kinds
    want = {len(tl): tl.sim.state.digest(), start: at_start, 0: build_state(tl.sc).digest()}
    for k in (len(tl), start, 0, len(tl), start):
        tl.seek(k)
        assert tl.view.digest() == want[k], f"seek to {k}"


# -- property test: random overcommitted hosts ----------------------------------------------
vm_strategy = st.fixed_dictionaries({
    "os": st.sampled_from(["linux", "windows"]),
    "mem": st.sampled_from([0.5, 1, 1.5]),
    "tools": st.booleans(),
    "res": st.sampled_from([0, 0.25]),
    "limit": st.sampled_from([None, 0.75]),
    "shares": st.sampled_from(["low", "normal", "high"]),
    "pshare": st.booleans(),
    "size": st.sampled_from([0.45, 0.8]),
    "alloc": st.sampled_from([0.01, 0.04]),
    "touches": st.integers(5, 80),
    "wf": st.sampled_from([0.3, 0.9]),
})


def build(seed, host_mb, vms, duration, zip_on, zip_pct, rate, model):
    text = (f"seed = {seed}\nduration = {duration}\n[host]\nmemory_mb = {host_mb}\n[settings]\n"
            f"'Mem.MemZipEnable' = {zip_on}\n'Mem.MemZipMaxPct' = {zip_pct}\n'Sim.BalloonRate' = {rate}\n"
            f"'Mem.SamplePeriod' = 5\n'Sim.StateModel' = '{model}'\n'Mem.ShareScanTime' = 10\n"
            f"'Sim.TimeScale' = 20\n")
    for i, v in enumerate(vms):
        text += (f"[[vm]]\nname = 'vm{i}'\nmemory_mb = {v['mem']}\nguest_os = '{v['os']}'\n"
                 f"tools = {str(v['tools']).lower()}\nreservation_mb = {v['res']}\nshares = '{v['shares']}'\n")
        if v["limit"] is not None:
            text += f"limit_mb = {v['limit']}\n"
        text += f"[vm.settings]\n'sched.mem.pshare.enable' = {str(v['pshare']).lower()}\n"
        text += (f"[[vm.process]]\nname = 'p'\nsize_mb = {v['size']}\nstart_mb = 0.1\nalloc_mb = {v['alloc']}\n"
                 f"touches = {v['touches']}\nwrite_fraction = {v['wf']}\n"
                 f"content = {{ text = 0.5, random = 0.3, zero = 0.2 }}\n"
                 f"[[vm.process.step]]\nat = 3\nop = 'write'\npages = 8\ncontent = 'zero'\n")
    return scenario.parse(text, "prop.toml")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), host_mb=st.sampled_from([2.5, 3]),
       vms=st.lists(vm_strategy, min_size=1, max_size=3), duration=st.integers(10, 40),
       zip_on=st.sampled_from([0, 1]), zip_pct=st.sampled_from([5, 10, 50]), rate=st.sampled_from([8, 64]),
       model=st.sampled_from(["esxi6", "esx4"]), seeks=st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_random_overcommitted_hosts(seed, host_mb, vms, duration, zip_on, zip_pct, rate, model, seeks):
    sc = build(seed, host_mb, vms, duration, zip_on, zip_pct, rate, model)
    sim, _ = run_checked(sc)
    tl = Timeline(build(seed, host_mb, vms, duration, zip_on, zip_pct, rate, model), keyframe_every=64)
    tl.run_to_end()
    assert np.array_equal(tl.log.rows(), sim.log.rows())
    digests = replay_one_by_one(tl, check_every_event=True)
    for f in seeks:
        k = int(round(f * len(tl)))
        tl.seek(k)
        assert tl.view.digest() == digests[k]
