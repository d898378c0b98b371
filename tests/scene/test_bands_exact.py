"""A full build of the bands (scene/bands.py: chunked passes, state tables looked up two
pages per take, the page below added in) gives exactly the codes of the plain formulation
below, at random positions of host-scale, overcommitted and teaching scenarios; the
builder's far seeks and the code functions on a few pages (the incremental path) too."""
import functools

import numpy as np
import pytest

from vmmemviz.assets import asset
from vmmemviz.model.config import scale, scenario
from vmmemviz.model.core import content as C
from vmmemviz.model.core import host as H
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.guest import guestos as G
from vmmemviz.scene import bands as B
from vmmemviz.scene import palette as P
from vmmemviz.scene.incremental import BandBuilder


def plain_mp(state) -> np.ndarray:
    h = state.host
    codes = np.full(h.n_mpn, P.FREE, np.uint8)
    for s, code in B.MP_CODES.items():
        codes[h.mpn_state == s] = code
    private = h.mpn_state == H.PRIVATE
    owner = h.mpn_owner[private].astype(np.int64)
    codes[private] = P.VM_BASE + 2 * (owner % P.VM_SLOTS) + (h.mpn_content[private] == C.ZERO_CID)
    return codes


def plain_gp(state, vm, mp) -> np.ndarray:
    codes = np.full(vm.n, P.FREE, np.uint8)
    for s, code in B.GP_CODES.items():
        codes[vm.gp_state == s] = code
    for store in state.stores.values():
        if store.page_state is not None:
            codes[vm.gp_state == store.page_state] = B.store_code(store)
    mapped = vm.gp_state == V.MAPPED
    codes[mapped] = mp[vm.gp_loc[mapped]]
    return codes


def plain_gv(proc, gp) -> np.ndarray:
    codes = np.full(proc.vpages, P.UNMAPPED, np.uint8)
    res = proc.pt_state == G.RESIDENT
    codes[res] = gp[proc.pt[res]]
    codes[proc.pt_state == G.GSWAPPED] = P.GSWAP
    return codes


def plain_codes(state) -> dict:
    """Band key -> every page's code, by the plain formulation."""
    out = {"mp": plain_mp(state)}
    for i, vm in enumerate(state.vms):
        out[f"gp.{i}"] = gp = plain_gp(state, vm, out["mp"])
        for j, p in enumerate(vm.procs):
            out[f"gv.{i}.{j}"] = plain_gv(p, gp)
    return out


def mismatches(state, bands) -> list:
    """Keys of the memory bands whose codes (or padding) differ from the plain formulation."""
    want = plain_codes(state)
    bad = [b.key for b in bands if b.key in want and not (
        b.codes.shape == (b.rows, b.cols) and np.array_equal(b.codes.ravel()[:b.count], want[b.key])
        and (b.codes.ravel()[b.count:] == P.BG).all())]
    return bad + sorted(set(want) - {b.key for b in bands})


@functools.cache
def timeline(name: str, factor: int = 1) -> Timeline:
    sc = scenario.load(name) if factor == 1 else \
        scenario.parse(scale.scaled(open(asset(f"scenarios/{name}.toml")).read(), factor), name)
    tl = Timeline(sc)
    tl.run_to_end()
    return tl


@pytest.fixture(scope="module", params=[("hostscale", 64), ("datacenter", 64), ("overcommit", 1),
                                        ("hostcache", 1)], ids=lambda p: p[0])
def run(request):
    return timeline(*request.param)


def test_full_builds_equal_the_plain_formulation(run):
    rng = np.random.default_rng(11)
    builder = BandBuilder()
    for k in rng.integers(0, len(run), 7):
        run.seek(int(k))
        assert mismatches(run.view, B.build_bands(run.view, 1.6)) == [], int(k)
        far = int(rng.integers(0, len(run)))      # the builder's far seeks build every band
        run.seek(far)
        bands, changes = builder.build(run.view, run.log, far, 1.6)
        assert mismatches(run.view, bands) == [], far


def test_codes_of_a_few_pages_equal_the_plain_formulation(run):
    """The incremental path computes the pages the events named: any count, even or odd."""
    rng = np.random.default_rng(12)
    run.seek(int(rng.integers(len(run) // 2, len(run))))
    state = run.view
    want = plain_codes(state)
    for n in (1, 2, 7, 1000, 4097):
        idx = rng.integers(0, state.host.n_mpn, n)
        assert np.array_equal(B.mp_codes(state, idx), want["mp"][idx])
        for i, vm in enumerate(state.vms[:3]):
            g = rng.integers(0, vm.n, n)
            assert np.array_equal(B.gp_codes(state, vm, want["mp"], g), want[f"gp.{i}"][g])
            for j, p in enumerate(vm.procs):
                v = rng.integers(0, p.vpages, n)
                assert np.array_equal(B.gv_codes(p, want[f"gp.{i}"], v), want[f"gv.{i}.{j}"][v])


def test_the_comparison_sees_a_broken_fast_path(monkeypatch):
    """Each part of the fast path, broken, shows as a band that differs."""
    tl = timeline("hostscale", 64)       # (the run the fixture made)
    tl.seek(len(tl) * 2 // 3)
    state = tl.view
    assert mismatches(state, B.build_bands(state, 1.6)) == []
    pairs = B._pairs.__wrapped__

    def off_by_one(table):                       # the second page of a pair gets the wrong code
        out = pairs(table).copy()
        out[np.arange(1 << 16) >> 8 == V.MAPPED] ^= 1 << 8
        return out
    with monkeypatch.context() as m:
        m.setattr(B, "_pairs", off_by_one)
        assert mismatches(state, B.build_bands(state, 1.6))
    with monkeypatch.context() as m:           # the page below not added in
        m.setattr(B, "_below", lambda codes, here, below, at: None)
        assert mismatches(state, B.build_bands(state, 1.6))
    with monkeypatch.context() as m:           # the last chunk of a layer left out
        m.setattr(B, "_parts", lambda n, idx: ((slice(0, n - 1),) * 2,) if idx is B.ALL else ((B.ALL, idx),))
        assert mismatches(state, B.build_bands(state, 1.6))
