"""Pages that differ between two runs' frames at the same simulated time (scene/compare.py)."""
import numpy as np
import pytest
import tomlkit

from vmmemviz.engine.frame import build_frame
from vmmemviz.model.config import compare as C
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.scene import compare as D
from vmmemviz.scene import palette as P

TICK = 60


def frames(a, b, tick=TICK):
    ta, tb = Timeline(a), Timeline(b)
    return build_frame(ta, D.position_at(ta, tick)), build_frame(tb, D.position_at(tb, tick))


@pytest.fixture(scope="module")
def salting():
    a, b, _ = C.pair(SC.load("tps"), ["Mem.ShareForceSalting=2"])
    return frames(a, b)


def test_unchanged_copy_differs_nowhere():
    sc = SC.load("tps")
    fa, fb = frames(sc, C.apply(sc.text, [C.parse_change("description=copy")]))
    d = D.diff_frames(fa, fb)
    assert d.pages == 0 and not any(x.count for x in d.b.values())
    assert set(d.a) == {b.key for b in fa.bands} and not d.only_a and not d.only_b


def test_salting_differs_where_codes_differ(salting):
    fa, fb = salting
    assert fa.tick <= TICK and fb.tick <= TICK
    d = D.diff_frames(fa, fb)
    assert d.pages > 0 and d.summary()["layers"]["mp"] > 0
    for band in fa.bands:           # same shape: each mask is exactly where the codes differ
        other = next(b for b in fb.bands if b.key == band.key)
        n = band.count
        want = band.codes.ravel()[:n] != other.codes.ravel()[:n]
        assert np.array_equal(d.a[band.key].mask, want) and np.array_equal(d.b[band.key].mask, want)
        assert d.a[band.key].count == int(want.sum())
    grid = D.grid_mask(fa.bands[0], d.a[fa.bands[0].key].mask)
    assert grid.shape == fa.bands[0].codes.shape and grid.sum() == d.a[fa.bands[0].key].count


def test_other_vms_pair_by_name():
    """B drops win01 (A's first VM): the rest pair by name although their indices moved."""
    sc = SC.load("tps")
    doc = tomlkit.parse(sc.text)
    del doc["vm"][0]
    b = SC.parse(tomlkit.dumps(doc), "no-win01")
    fa, fb = frames(sc, b, 30)
    d = D.diff_frames(fa, fb)
    assert d.only_a == ("win01",) and d.only_b == ()
    only = [x for x in d.a.values() if x.only]
    assert only and all(x.ident[1] == "win01" and x.count == len(x.mask) for x in only)
    # lin01 is VM 1 in A and VM 0 in B: its private pages have other codes, marked only
    # where they are not both lin01's
    ga = next(x for x in fa.bands if x.key == "gp.1")
    gb = next(x for x in fb.bands if x.key == "gp.0")
    assert ga.title == gb.title == "lin01"
    ca, cb = ga.codes.ravel()[:ga.count], gb.codes.ravel()[:gb.count]
    both_private = (ca == P.vm_code(1)) & (cb == P.vm_code(0))
    assert both_private.sum() > 0 and not d.a["gp.1"].mask[both_private].any()
    assert d.a["gp.1"].count < int((ca != cb).sum())


def test_vm_lut_maps_b_codes_to_a_names():
    lut = D.vm_lut(("x", "y"), ("y", "z"))
    assert lut[P.vm_code(0)] == P.vm_code(1) and lut[P.vm_code(0, True)] == P.vm_code(1, True)
    assert lut[P.vm_code(1)] not in (P.vm_code(0), P.vm_code(1))      # z: no page of A has it
    assert lut[P.SHARED] == P.SHARED


def test_position_at_counts_events_up_to_the_tick():
    tl = Timeline(SC.load("tps"))
    pos = D.position_at(tl, 20)
    ticks = tl.log.rows(0, len(tl))["tick"]
    assert pos > 0 and ticks[pos - 1] <= 20 and (pos == len(tl) or ticks[pos] > 20)
