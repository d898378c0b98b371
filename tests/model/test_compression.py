"""Memory compression: real LZ4 sizes and the 50% rule, 1 and 2 KiB slots, the cache made of
host frames (grown on demand, capped at Mem.MemZipMaxPct, shrunk when empty), eviction of the
oldest page to the swap file, decompression on access, Mem.MemZipEnable."""
import lz4.block
import numpy as np
import pytest

from vmmemviz.model.reclaim import compression as Z
from vmmemviz.model.core import content as C
from vmmemviz.model.core import events
from vmmemviz.model.core import host as H
from vmmemviz.model.config import scenario
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.events import NONE, apply_rows
from vmmemviz.model.core.simulator import Simulator, build_state
from vmmemviz.model.core.timeline import Timeline


@pytest.fixture(scope="module")
def tour():
    tl = Timeline(scenario.load("compression"))
    tl.run_to_end()
    return tl


def test_real_lz4_sizes_and_the_50_percent_rule():
    for cid in (C.ZERO_CID, int(C.unique_cid(C.TEXT, 7)), int(C.unique_cid(C.RANDOM, 7)), int(C.os_cid("linux", 3))):
        assert Z.compressed_size(cid) == len(lz4.block.compress(C.page_bytes(cid), store_size=False))
    assert list(Z.slot_class([26, 1024, 1025, 2048, 2049, 4114])) == [1, 1, 2, 2, 0, 0]
    assert Z.slot_class(Z.compressed_size(C.ZERO_CID)) == Z.ONE_K
    assert Z.slot_class(Z.compressed_size(int(C.unique_cid(C.TEXT, 7)))) == Z.TWO_K
    assert Z.slot_class(Z.compressed_size(int(C.unique_cid(C.RANDOM, 7)))) == 0


def test_compress_keeps_what_compresses_and_returns_the_rest():
    sim = Simulator(scenario.load("compression"))
    sim.run(20)
    vm = sim.vms[0]
    mapped = np.flatnonzero(vm.gp_state == V.MAPPED)
    cls = C.content_class(sim.state.host.mpn_content[vm.gp_loc[mapped]])
    # real text pages (the corpus): most LZ4 to 1-2 KiB, a good part to 1 KiB or less
    size = np.array([Z.compressed_size(int(c)) for c in sim.state.host.mpn_content[vm.gp_loc[mapped]]])
    text = mapped[(cls == C.TEXT) & (size > 1024)][:6]
    text1 = mapped[(cls == C.TEXT) & (size <= 1024)][:3]
    zero, rand = mapped[cls == C.ZERO][:5], mapped[cls == C.RANDOM][:4]
    assert len(text) == 6 and len(text1) == 3 and len(zero) == 5 and len(rand) == 4
    before = sim.state.host.free_count()
    rest = Z.compress(sim, vm, np.concatenate([text, text1, zero, rand]))
    assert sorted(rest.tolist()) == sorted(rand.tolist())
    assert (vm.gp_state[np.concatenate([text, text1, zero])] == V.COMPRESSED).all()
    assert (vm.zip_size[vm.gp_loc[text]] == Z.TWO_K).all() and (vm.gp_loc[text] % 2 == 0).all()
    assert (vm.zip_size[vm.gp_loc[text] + 1] == Z.TAIL).all()
    assert (vm.zip_size[vm.gp_loc[np.concatenate([text1, zero])]] == Z.ONE_K).all()
    # 6 x 2 KiB + 8 x 1 KiB = 20 units: five frames of four units, real host frames of the VM
    frames = vm.zip_frame[vm.zip_frame != NONE].astype(np.int64)
    assert len(frames) == 5 and Z.units_used(vm) == 20
    assert (sim.state.host.mpn_state[frames] == H.ZIP).all() and (sim.state.host.mpn_owner[frames] == 0).all()
    assert sim.state.host.free_count() == before + 14 - 5


def test_the_cache_never_passes_its_cap_and_gives_empty_frames_back(tour):
    for vm in tour.sim.vms:
        cap = Z.max_frames(tour.sim.settings, vm)
        assert cap == vm.n * 5 // 100
    logs01 = tour.sim.vms[0]
    cap = Z.max_frames(tour.sim.settings, logs01)
    assert max(h["vms"]["logs01"]["CACHESZ"] for h in tour.history) == round(cap / 256, 2)   # it fills up
    # replay: at the end of every tick no cache frame is empty (ZIP_SHRINK gave it back)
    st_ = build_state(tour.sc)
    rows = tour.log.rows()
    ends = np.flatnonzero(np.r_[rows["tick"][1:] != rows["tick"][:-1], True]) + 1
    start = 0
    for end in ends:
        apply_rows(st_, rows[start:end].copy())
        start = end
        for vm in st_.vms:
            used = (vm.zip_size != Z.FREE).reshape(-1, Z.UNITS_PER_FRAME).any(axis=1)
            assert not ((vm.zip_frame != NONE) & ~used).any()
            assert ((vm.zip_frame == NONE) & used).sum() == 0
            assert Z.frames_held(vm) <= Z.max_frames(tour.sim.settings, vm)


def test_when_full_the_oldest_page_is_evicted_to_the_swap_file(tour):
    """Replay: each run of ZIP_EVICT rows takes exactly the oldest compressed pages."""
    st_ = build_state(tour.sc)
    rows = tour.log.rows()
    evicted = 0
    for a, b in events.runs(rows):
        run = rows[a:b].copy()
        if run["kind"][0] == Z.apply_zip_evict.code:
            for v in np.unique(run["vm"]):
                vm = st_.vms[int(v)]
                live = np.flatnonzero((vm.zip_size == Z.ONE_K) | (vm.zip_size == Z.TWO_K))
                oldest = live[np.argsort(vm.zip_age[live])][:int(np.count_nonzero(run["vm"] == v))]
                assert sorted(run["slot"][run["vm"] == v].tolist()) == sorted(oldest.tolist())
            evicted += len(run)
        apply_rows(st_, run)
        if run["kind"][0] == Z.apply_zip_evict.code:
            for r in run:
                vm = st_.vms[int(r["vm"])]
                assert vm.gp_state[r["gppn"]] == V.SWAPPED and vm.vswp[r["aux"]] == r["content"]
    assert evicted > 10


def test_a_touch_decompresses_into_a_fresh_frame(tour):
    r = tour.log.rows()
    zipped = {}
    n = 0
    for row in r:
        key = (int(row["vm"]), int(row["gppn"]))
        if row["kind"] == Z.apply_zip.code:
            zipped[key] = int(row["content"])
        elif row["kind"] == Z.apply_unzip.code:
            assert zipped.pop(key) == int(row["content"])
            n += 1
        elif row["kind"] == Z.apply_zip_evict.code:
            zipped.pop(key)
    assert n > 50
    assert max(h["vms"]["logs01"]["UNZIP/s"] for h in tour.history) > 0
    assert max(h["host"]["zip_saved_mb"] for h in tour.history) > 0


def test_mem_zip_enable_0_means_no_compression():
    sc = scenario.load("compression")
    sc.settings["Mem.MemZipEnable"] = 0
    sim = Simulator(sc)
    sim.run()
    kinds = set(np.unique(sim.log.rows()["kind"]).tolist())
    assert Z.apply_zip.code not in kinds and Z.apply_zip_grow.code not in kinds
    assert events.BY_NAME["SWAP_OUT"].code in kinds
