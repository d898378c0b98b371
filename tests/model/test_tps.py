"""Transparent page sharing: hashing real bytes, hints, sharing, zero pages, copy on write,
pshare.enable, salting, share before swap, counters, and seek = play with it all on."""
import numpy as np
import pytest
from read_after_write import Writes

from vmmemviz.model.core import content as C
from vmmemviz.model.views import counters
from vmmemviz.model.core import events
from vmmemviz.model.core import host as H
from vmmemviz.model.views import invariants
from vmmemviz.model.config import scenario
from vmmemviz.model.reclaim import tps
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.events import apply_rows
from vmmemviz.model.core.simulator import Simulator, build_state
from vmmemviz.model.core.tally import Tally
from vmmemviz.model.core.timeline import Timeline

VM = """
[[vm]]
name = "{name}"
memory_mb = {mb}
guest_os = "{os}"
mmu = "{mmu}"
{extra}
"""
APP = """
[[vm.process]]
name = "app"
size_mb = {size}
start_mb = {size}
touches = {touches}
write_fraction = {wf}
content = {content}
"""


def tps_of(sim):
    """The simulator's page-sharing mechanism."""
    return sim.mechanism(tps.PageSharing)


def make(vms, duration=40, host_mb=16, settings=None, seed=5):
    """A scenario: ``vms`` is a list of dicts (name, mb, os, mmu, salt, pshare, app)."""
    s = {"Mem.ShareForceSalting": 0, "Mem.ShareScanTime": 10, "Sim.TimeScale": 30,
         "Mem.AllocGuestLargePage": 0} | (settings or {})
    text = f"seed = {seed}\nduration = {duration}\n[host]\nmemory_mb = {host_mb}\n[settings]\n"
    text += "".join(f'"{k}" = {v}\n' for k, v in s.items())
    for v in vms:
        extra = ""
        vs = {}
        if "salt" in v:
            vs["sched.mem.pshare.salt"] = v["salt"]
        if v.get("pshare") is False:
            vs["sched.mem.pshare.enable"] = "false"
        if vs:
            extra = "[vm.settings]\n" + "".join(f'"{k}" = {x}\n' for k, x in vs.items())
        text += VM.format(name=v["name"], mb=v.get("mb", 2), os=v.get("os", "linux"), mmu=v.get("mmu", "ept"),
                          extra=extra)
        if "app" in v:
            a = {"size": 0.5, "touches": 0, "wf": 0.0, "content": '{ text = 1.0 }'} | v["app"]
            text += APP.format(**a)
    return scenario.parse(text, "test.toml")


def run(sc):
    sim = Simulator(sc)
    sim.run()
    return sim


def rows_of(sim, code):
    r = sim.log.rows()
    return r[r["kind"] == code]


def test_hash_is_of_the_page_bytes():
    import hashlib
    cid = int(C.unique_cid(C.TEXT, 12345))
    want = int.from_bytes(hashlib.blake2b(C.page_bytes(cid), digest_size=8).digest(), "little")
    assert tps.content_hash(cid) == want
    assert tps.page_hashes([cid, 0, cid])[0] == want
    assert tps.same_bytes([cid, 0], [cid, cid]).tolist() == [True, False]


def test_hash_table_finds_every_living_entry_across_its_merges():
    t = tps.ShareTable()
    rng = np.random.default_rng(0)
    want = {}
    for step in range(120):                       # 12000 entries: recent merges into main
        keys = rng.integers(0, 3000, 100).astype(np.uint64)
        refs = np.arange(step * 100, step * 100 + 100)
        t.add(keys, 0, 1, refs, 0)
        for k, r in zip(keys.tolist(), refs.tolist()):
            want.setdefault(k, set()).add(r)
        q = rng.integers(0, 3000, 40).astype(np.uint64)
        if step % 5 == 0:                         # drop every entry of a few keys
            _, e = t.lookup(q[:4])
            t.kill(e)
            for k in q[:4].tolist():
                want[k] = set()
        qi, e = t.lookup(q)
        got = t.get("ref", e)
        for j, k in enumerate(q.tolist()):
            assert set(got[qi == j].tolist()) == want.get(k, set())
    assert len(t.main["key"]) > len(t.recent["key"]) > 0
    assert len(t) == sum(len(v) for v in want.values())


def test_identical_kernels_are_shared_across_vms_and_frames_freed():
    sim = run(make([{"name": "a"}, {"name": "b"}], duration=40))
    invariants.check(sim.state)
    a, b = sim.vms
    k = 32                                   # 2 MB guest: kernel is 1/16 = 32 pages
    assert (a.gp_state[:k] == V.SHARED).all() and (b.gp_state[:k] == V.SHARED).all()
    assert (a.gp_loc[:k] == b.gp_loc[:k]).all()
    m = a.gp_loc[:k].astype(np.int64)
    assert (sim.state.host.mpn_refs[m] == 2).all()
    assert (sim.state.host.mpn_owner[m] == H.NO_VM).all()
    # 2 x 32 kernel pages now take 32 frames: 32 went back to the free pool
    used = np.count_nonzero(sim.state.host.mpn_state != H.FREE)
    assert used == sum(vm.cfg.overhead_pages() for vm in sim.vms) + k
    share = rows_of(sim, tps.apply_share.code)
    assert len(share) == k and (share["slot"] != events.NONE).all()
    text = events.narrate(share[0], ["a", "b"])
    assert "hold identical bytes" in text and "2 references" in text and "freed MPN" in text


def test_first_page_becomes_a_hint_and_a_later_match_shares_with_it():
    sim = run(make([{"name": "a"}, {"name": "b"}], duration=2, settings={"Sim.TimeScale": 1}))
    a, b = sim.vms
    # kernel pages 4-11, page by page: first a's copies are hinted, then b's match them
    g = np.arange(4, 12)
    assert not (a.tps_flags[g] & tps.HINT).any() and (a.gp_state[g] == V.MAPPED).all()
    assert tps_of(sim).share_pages(a, g).tolist() == [False] * 8
    assert (a.tps_flags[g] & tps.HINT).all() and (a.gp_state[g] == V.MAPPED).all()
    assert tps.PageSharing.vm_values(sim.state, a, sim, Tally(sim.state))["COWH"] == counters.mb(8)
    hinted = a.gp_loc[g].copy()
    assert tps_of(sim).share_pages(b, g).all()
    assert (a.gp_state[g] == V.SHARED).all() and (b.gp_state[g] == V.SHARED).all()
    assert (a.gp_loc[g] == hinted).all() and (b.gp_loc[g] == hinted).all()   # the hints' frames
    assert not (a.tps_flags[g] & tps.HINT).any()


def test_a_stale_hint_is_rehashed_and_not_shared():
    sim = run(make([{"name": "a"}, {"name": "b"}], duration=2, settings={"Sim.TimeScale": 1}))
    a, b = sim.vms
    g = np.array([7])
    tps_of(sim).share_pages(a, g)
    assert a.tps_flags[7] & tps.HINT and a.gp_state[7] == V.MAPPED
    # the guest overwrites the hinted page (hints are not write-protected: no fault)
    sim.state.host.mpn_content[a.gp_loc[7]] = C.unique_cid(C.TEXT, 999)
    assert tps_of(sim).share_pages(b, g).tolist() == [False]
    assert a.gp_state[7] == V.MAPPED and b.gp_state[7] == V.MAPPED
    assert b.tps_flags[7] & tps.HINT                      # b's page is the hint now


def test_zero_pages_collapse_onto_one_shared_zero_page():
    sim = run(make([{"name": "w", "os": "windows", "mb": 1}], duration=40))
    invariants.check(sim.state)
    w = sim.vms[0]
    zero = np.flatnonzero(w.gp_state == V.SHARED)
    assert len(zero) == w.n - 16                          # all but the kernel (1/16)
    frames = np.unique(w.gp_loc[zero])
    assert len(frames) == 1 and sim.state.host.mpn_content[frames[0]] == C.ZERO_CID
    assert sim.state.host.mpn_refs[frames[0]] == len(zero)
    c = counters.all_counters(sim.state, sim)["vms"]["w"]
    assert c["ZERO"] == c["SHRD"] == counters.mb(len(zero))


def test_copy_on_write_gives_the_writer_a_private_copy():
    sim = Simulator(make([{"name": "a", "app": {"size": 0.25}}, {"name": "b", "app": {"size": 0.25}}],
                         duration=30))
    sim.run()
    a = sim.vms[0]
    proc = a.procs[0]
    # the app allocated memory but never touched it: read 8 pages, backed as zero pages
    gv = np.arange(8)
    sim.access(a, proc, gv, np.zeros(8, bool), np.zeros(8, np.uint32))
    sim.run(40)
    g = proc.pt[gv].astype(np.int64)
    assert (a.gp_state[g] == V.SHARED).all()
    zero = int(a.gp_loc[g[0]])
    refs = int(sim.state.host.mpn_refs[zero])
    cids = C.unique_cid(C.TEXT, np.arange(500, 508))
    sim.access(a, proc, gv[:3], np.ones(3, bool), cids[:3])
    cow = rows_of(sim, tps.apply_cow.code)
    assert len(cow) == 3 and (cow["slot"] == zero).all()
    assert (a.gp_state[g[:3]] == V.MAPPED).all() and (a.gp_loc[g[:3]] != zero).all()
    assert sim.state.host.mpn_refs[zero] == refs - 3
    assert "copy on write" in events.narrate(cow[0], ["a", "b"])
    for v, c in zip(gv[:3], cids[:3]):
        assert invariants.guest_content(sim.state, a, proc, [v])[0] == c
    assert invariants.guest_content(sim.state, a, proc, gv[3:]).tolist() == [0] * 5
    assert counters.all_counters(sim.state, sim, cow)["vms"]["a"]["COW/s"] == 3
    invariants.check(sim.state)


def test_cow_of_the_last_reference_makes_the_frame_private_again():
    sim = run(make([{"name": "a"}, {"name": "b"}], duration=40))
    a, b = sim.vms
    m = int(a.gp_loc[3])
    assert sim.state.host.mpn_refs[m] == 2
    sim.fault(a, np.array([3]), np.array([True]))
    sim.fault(b, np.array([3]), np.array([True]))
    cow = rows_of(sim, tps.apply_cow.code)
    assert cow["aux"].tolist() == [1, 0]
    assert b.gp_loc[3] == m and sim.state.host.mpn_state[m] == H.PRIVATE and a.gp_loc[3] != m
    assert "last reference" in events.narrate(cow[1], ["a", "b"])
    invariants.check(sim.state)


def test_pshare_disabled_vm_is_never_scanned_or_shared():
    sim = run(make([{"name": "a"}, {"name": "b", "pshare": False}, {"name": "c"}], duration=40))
    b = sim.vms[1]
    assert not (b.gp_state == V.SHARED).any() and not b.tps_flags.any()
    assert (sim.vms[0].gp_state[:32] == V.SHARED).all()
    assert tps_of(sim).before_swap(b, np.arange(4), False).tolist() == [0, 1, 2, 3]


def frames_shared_across_vms(sim):
    st = sim.state.host
    return int(np.count_nonzero((st.mpn_state == H.SHARED) & (st.mpn_owner == H.NO_VM)))


@pytest.mark.parametrize("salting,salts,cross", [
    (0, (None, None, 5), 3),          # everybody shares
    (1, (None, None, 5), 2),          # a and b (salt 0) share; c (salt 5) does not
    (1, (5, None, 5), 2),             # a and c share (salt 5)
    (2, (None, None, None), 0),       # uuid salt: only inside a VM
    (2, (4, 4, None), 2),             # an explicit equal salt shares again
])
def test_salting(salting, salts, cross):
    vms = [{"name": n} | ({"salt": s} if s is not None else {}) for n, s in zip("abc", salts)]
    sim = run(make(vms, duration=40, settings={"Mem.ShareForceSalting": salting}))
    invariants.check(sim.state)
    refs = sim.state.host.mpn_refs[sim.vms[0].gp_loc[:32].astype(np.int64)]
    sharing_with_a = int(refs.max()) if (sim.vms[0].gp_state[:32] == V.SHARED).any() else 1
    if cross == 0:
        assert frames_shared_across_vms(sim) == 0
        assert not any((vm.gp_state[:32] == V.SHARED).any() for vm in sim.vms)
    else:
        assert frames_shared_across_vms(sim) == 32
        assert max(int(sim.state.host.mpn_refs[vm.gp_loc[0]]) for vm in sim.vms) == cross
    assert sharing_with_a <= cross or cross == 0


def test_share_before_swap_returns_what_was_not_shared():
    sim = Simulator(make([{"name": "a", "app": {"size": 0.25}}, {"name": "b"}], duration=2,
                         settings={"Sim.TimeScale": 1}))
    sim.run()
    a, b = sim.vms
    proc = a.procs[0]
    gv = np.arange(6)
    cids = np.array([0, 0, C.unique_cid(C.TEXT, 77), C.os_cid("linux", 3), 0, C.unique_cid(C.TEXT, 78)],
                    np.uint32)
    sim.access(a, proc, gv, np.ones(6, bool), cids)
    g = proc.pt[gv].astype(np.int64)
    tps_of(sim).share_pages(a, [3])              # kernel page 3 was scanned: its hash is a hint
    left = tps_of(sim).before_swap(a, g, False)
    # zeros collapse; the OS page matches the hint of kernel page 3; the text pages stay
    assert sorted(left.tolist()) == sorted(g[[2, 5]].tolist())
    assert not a.tps_flags[g[[2, 5]]].any()              # no hints for pages about to leave
    invariants.check(sim.state)


def test_scan_rate_follows_the_esxi_knobs():
    sim = Simulator(make([{"name": "a", "mb": 6}], settings={"Sim.TimeScale": 1}))
    a = sim.vms[0]
    assert tps.scan_rate(sim, a, 1) == pytest.approx(a.n / 600)     # ShareScanTime 10 min
    sim.settings["Mem.ShareScanTime"] = 60
    assert tps.scan_rate(sim, a, 1) == pytest.approx(a.n / 3600)
    sim.settings["Mem.ShareRateMax"] = 0
    assert tps.scan_rate(sim, a, 1) == 0
    sim.settings["Mem.ShareRateMax"] = 1024
    sim.state.host_state = 1                                          # clear: called actively
    assert tps.scan_rate(sim, a, 1) == 1024
    sim.settings["Mem.ShareScanGHz"] = 1
    sim.settings["Sim.HostGHz"] = 2
    assert tps.scan_rate(sim, a, 4) == pytest.approx(2 * 256 / 4)      # 2 MB/s over 4 VMs


def test_scanner_visits_every_page_once_per_pass():
    sim = Simulator(make([{"name": "a", "mb": 1}]))
    live, a = tps_of(sim).live, sim.vms[0]
    seen = live.next_pages(a, a.n)
    assert sorted(seen.tolist()) == list(range(a.n))
    assert live.cursor[0] == 0 and not np.array_equal(seen, np.arange(a.n))


def test_counters_saving_is_shared_minus_common():
    sim = run(make([{"name": "a"}, {"name": "b"}, {"name": "w", "os": "windows", "mb": 1}], duration=40))
    c = counters.all_counters(sim.state, sim)
    h = c["host"]
    assert h["pshare_shared_mb"] > h["pshare_common_mb"] > 0
    assert h["pshare_saving_mb"] == pytest.approx(h["pshare_shared_mb"] - h["pshare_common_mb"], abs=0.011)
    assert sum(v["SHRDSVD"] for v in c["vms"].values()) == pytest.approx(h["pshare_saving_mb"], abs=0.03)


def busy():
    return make([{"name": "a", "app": {"size": 0.5, "touches": 20, "wf": 0.4,
                                       "content": "{ zero = 0.4, os = 0.3, text = 0.3 }"}},
                 {"name": "b", "app": {"size": 0.5, "touches": 20, "wf": 0.4,
                                       "content": "{ zero = 0.4, os = 0.3, text = 0.3 }"}},
                 {"name": "w", "os": "windows", "mb": 1}], duration=50)


def test_a_read_returns_the_bytes_last_written_through_share_and_cow():
    sim = Simulator(busy())
    writes = Writes(sim)
    sim.run()
    assert len(rows_of(sim, tps.apply_share.code)) > 100 and len(rows_of(sim, tps.apply_cow.code)) > 10
    writes.check(sim.state, set())


def test_every_event_keeps_the_invariants_and_seek_equals_play():
    tl = Timeline(busy(), keyframe_every=300)
    tl.run_to_end()
    ks = sorted({int(k) for k in np.random.default_rng(1).integers(0, len(tl) + 1, 30)} | {0, len(tl)})
    st = build_state(tl.sc)
    play = {0: st.digest()}
    for i in range(len(tl)):
        apply_rows(st, tl.log.rows(i, i + 1).copy())
        invariants.check(st)
        if i + 1 in ks:
            play[i + 1] = st.digest()
    assert st.digest() == tl.sim.state.digest()
    for k in ks[::-1] + ks:
        tl.seek(k)
        assert tl.view.digest() == play[k], f"seek to {k}"


def test_runs_of_share_and_cow_rows_apply_as_one():
    sim = run(busy())
    log = sim.log.rows()
    one, many = build_state(sim.sc), build_state(sim.sc)
    for i in range(len(log)):
        apply_rows(one, log[i:i + 1].copy())
    apply_rows(many, log.copy())
    assert one.digest() == many.digest() == sim.state.digest()


def test_narration_of_tps_kinds():
    sim = run(busy())
    names = [vm.name for vm in sim.vms]
    for code in (tps.apply_hint.code, tps.apply_share.code, tps.apply_cow.code):
        r = rows_of(sim, code)
        assert len(r)
        for row in r[:50]:
            s = events.narrate(row, names)
            assert s.endswith(".") and s.count(". ") <= 1 and "0x" in s
