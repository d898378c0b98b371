"""The counters computed once per call and shared (core/tally.py, the mechanisms' vm_values /
host_values) equal the plain way of computing each: a pass over the VM's arrays or a mask over
the tick's rows per counter, on random positions of scenarios that reach every mechanism."""
import numpy as np
import pytest

from vmmemviz.assets import asset
from vmmemviz.model.config import scale, scenario
from vmmemviz.model.core import content as C
from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import reading, writing
from vmmemviz.model.core.store import EMPTY
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import COMPRESSED, MAPPED, SHARED, SWAPPED
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.guest import guestswap
from vmmemviz.model.reclaim import allocation, compression, hostcache, swap, tps


def rate(recent, vm, *codes) -> float:
    return mb(np.count_nonzero((recent["vm"] == vm.index) & np.isin(recent["kind"], codes)))


def swap_target(state, vm) -> int:
    out = int(np.count_nonzero(vm.gp_state >= SWAPPED)) - int(np.count_nonzero(vm.gp_state == SWAPPED))
    return max(0, int(state.extra[swap.TARGET][vm.index]) - out)


def plain_vm(state, vm, recent) -> dict:
    st = vm.gp_state
    m = vm.gp_loc[st == SHARED].astype(np.int64)
    refs = state.host.mpn_refs[m]
    mapped = np.flatnonzero(st[:vm.n // H.LARGE_PAGES * H.LARGE_PAGES] == MAPPED)
    cnsm = (int(np.count_nonzero(st == MAPPED)) + int(np.sum(1.0 / np.maximum(refs, 1)))
            + sum(s.frames(state, vm) for s in state.stores.values()))
    mine = recent[recent["vm"] == vm.index]
    cache_reads = np.count_nonzero(np.isin(mine["kind"], reading("hostcache")))
    vswp_reads = np.count_nonzero(np.isin(mine["kind"], reading("vswp")))
    return {
        "GRANT": mb(int(np.count_nonzero((st == MAPPED) | (st == SHARED)))),
        "OVHD": mb(int(np.count_nonzero((state.host.mpn_state == H.HV) & (state.host.mpn_owner == vm.index)))),
        "GSWCUR": mb(int(np.count_nonzero(vm.gswap != EMPTY))),
        "GSWR/s": rate(recent, vm, guestswap.apply_guest_pagein.code),
        "GSWW/s": rate(recent, vm, guestswap.apply_guest_pageout.code),
        "CACHEUSD": round(int(np.count_nonzero(vm.zip_size != compression.FREE)) / 1024, 2),
        "ZIP/s": rate(recent, vm, compression.apply_zip.code),
        "UNZIP/s": rate(recent, vm, compression.apply_unzip.code),
        "ZERO": mb(int(np.count_nonzero(state.host.mpn_content[m] == C.ZERO_CID))),
        "SHRD": mb(len(m)),
        "SHRDSVD": mb(float(np.sum(1.0 - 1.0 / np.maximum(refs, 1)))),
        "COW/s": int(np.count_nonzero((recent["kind"] == tps.apply_cow.code) & (recent["vm"] == vm.index))),
        "MCTLSZ": mb(int(np.count_nonzero(vm.gp_guest == G.BALLOON))),
        "SWCUR": mb(int(np.count_nonzero(st == SWAPPED))),
        "SWTGT": mb(swap_target(state, vm)),
        "SWR/s": rate(recent, vm, *reading("vswp")),
        "SWW/s": rate(recent, vm, *writing("vswp")),
        "LLSWR/s": rate(recent, vm, *reading("hostcache")),
        "LLSWW/s": rate(recent, vm, *writing("hostcache")),
        "%SWPWT": round(min(100.0, float(hostcache.VSWP_READ_MS * (vswp_reads + hostcache.CACHE_READ_COST
                                                                  * cache_reads)) / 10), 2),
        "LPAGE": mb(int(np.count_nonzero(state.host.mpn_flags[vm.gp_loc[mapped]] & H.LARGE))),
        "CNSM": mb(cnsm),
        "MEMWAIT/s": mb(int(mine["aux"][mine["kind"] == allocation.apply_mem_wait.code].sum())),
    }


def plain_host(state) -> dict:
    def total(gp_state):
        return sum(int(np.count_nonzero(vm.gp_state == gp_state)) for vm in state.vms)
    zipped = total(COMPRESSED)
    used = sum(int(np.count_nonzero(vm.zip_size != compression.FREE)) for vm in state.vms)
    shared, common = total(SHARED), int(np.count_nonzero(state.host.mpn_state == H.SHARED))
    return {
        "zip_zipped_mb": mb(zipped), "zip_saved_mb": round(zipped / 256 - used / 1024, 2),
        "pshare_shared_mb": mb(shared), "pshare_common_mb": mb(common), "pshare_saving_mb": mb(shared - common),
        "memctl_curr_mb": mb(sum(int(np.count_nonzero(vm.gp_guest == G.BALLOON)) for vm in state.vms)),
        "swap_curr_mb": mb(total(SWAPPED)),
        "swap_rclmtgt_mb": mb(sum(swap_target(state, vm) for vm in state.vms)),
    }


def scaled(name, factor):
    return scenario.parse(scale.scaled(open(asset(f"scenarios/{name}.toml")).read(), factor), name)


# each run, and the counters it must show above 0 at some of the positions compared
RUNS = {
    "hostscale/64": (lambda: scaled("hostscale", 64), (
        "LPAGE", "LLSWW/s", "ZIP/s", "COW/s", "SHRDSVD", "ZERO", "MCTLSZ", "CACHEUSD", "SWTGT", "OVHD",
        "zip_saved_mb", "pshare_saving_mb", "memctl_curr_mb", "swap_rclmtgt_mb")),
    "overcommit": (lambda: scenario.load("overcommit"), (
        "GSWCUR", "GSWR/s", "GSWW/s", "MEMWAIT/s", "UNZIP/s", "SWR/s", "SWW/s", "SWCUR", "%SWPWT", "swap_curr_mb")),
    "hostcache": (lambda: scenario.load("hostcache"), ("LLSWR/s", "%SWPWT", "SWCUR")),
    "compression": (lambda: scenario.load("compression"), ("ZIP/s", "UNZIP/s", "CACHEUSD", "zip_zipped_mb")),
    "swap": (lambda: scenario.load("swap"), ("SWCUR", "SWR/s", "GSWW/s", "swap_curr_mb")),   # swapped, none compressed
}


@pytest.mark.parametrize("name", RUNS)
def test_every_shared_count_equals_its_plain_count(name):
    make, must_see = RUNS[name]
    tl = Timeline(make())
    tl.run_to_end()
    rng = np.random.default_rng(8)
    seen = set()
    rows = tl.log.rows(0, len(tl))
    # and, per kind, the end of the tick with most rows of it: every rate is compared above 0
    # however the run's events fall
    busiest = [np.bincount(rows["tick"][rows["kind"] == k]).argmax() for k in np.unique(rows["kind"])]
    ends = np.searchsorted(rows["tick"], busiest, side="right")
    for pos in sorted(set(rng.integers(1, len(tl) + 1, 10).tolist()) | set(ends.tolist()) | {len(tl)}):
        tl.seek(pos)
        recent = tl.tick_rows(tl.pos)
        got = tl.counters()
        for vm in tl.view.vms:
            want = plain_vm(tl.view, vm, recent)
            mine = {k: got["vms"][vm.name][k] for k in want}
            assert mine == want, (name, pos, vm.name)
            assert [type(v) for v in mine.values()] == [type(v) for v in want.values()]
            seen.update(k for k, v in mine.items() if v)
        want = plain_host(tl.view)
        assert {k: got["host"][k] for k in want} == want, (name, pos)
        seen.update(k for k, v in want.items() if v)
    assert set(must_see) - seen == set()        # those were not compared at 0 only
