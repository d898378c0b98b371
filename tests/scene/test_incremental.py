"""Bands built from the pages that changed (scene/incremental.py) equal bands built from
scratch, on random walks forwards, backwards and by seeks over every kind of event."""
import numpy as np
import pytest

from vmmemviz.model.config import scenario
from vmmemviz.model.core import events as E
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.scene import bands as B
from vmmemviz.scene.incremental import HANDLED, BandBuilder


def assert_same(got, want):
    assert [b.key for b in got] == [b.key for b in want]
    for a, b in zip(got, want):
        assert (a.title, a.count, a.cols, a.x, a.y, a.total, a.slot_kib) == \
            (b.title, b.count, b.cols, b.x, b.y, b.total, b.slot_kib), a.key
        assert np.array_equal(a.codes, b.codes), (a.key, np.flatnonzero(a.codes.ravel() != b.codes.ravel())[:8])
        assert a.badges == b.badges and a.outlines == b.outlines, a.key
        assert (a.owners is None) == (b.owners is None)
        assert a.owners is None or np.array_equal(a.owners, b.owners)


@pytest.mark.parametrize("name,events", [("balloon", 10000), ("compression", 7000), ("hostcache", 5500),
                                         ("largepages", 6000)])
def test_a_walk_of_incremental_bands_equals_full_builds(name, events):
    tl = Timeline(scenario.load(name))
    n = tl.ensure(events)
    rng = np.random.default_rng(5)
    builder, pos, kinds, incremental, aspect = BandBuilder(), 0, set(), 0, B.ASPECT
    for i in range(70):
        r = rng.random()
        step = int(rng.integers(-60, 400)) if r < 0.75 else int(rng.integers(-3, 4))
        new = int(rng.integers(0, n)) if r > 0.93 else max(0, min(n, pos + step))
        if i % 9 == 8:                                  # the view changed shape
            aspect = float(rng.choice([0.8, 1.4, 2.3]))
        tl.seek(new)
        before = builder.bands if aspect == builder.aspect else ()
        bands, changes = builder.build(tl.view, tl.log, new, aspect)
        assert_same(bands, B.build_bands(tl.view, aspect))
        if changes is not None and before:
            incremental += 1
            kinds |= {E.KINDS[int(k)].name for k in np.unique(tl.log.rows(min(pos, new), max(pos, new))["kind"])}
            old = {b.key: b for b in before}
            for b in bands:                  # a band not in changes is the last frame's, untouched
                assert (b.key in changes) or b.codes is old[b.key].codes
                assert b.key not in changes or b.codes is not old[b.key].codes
        pos = new
    assert incremental > 40
    assert len(kinds & HANDLED) >= 7            # the walk went over many kinds of event


def test_a_kind_without_pages_listed_builds_every_band():
    tl = Timeline(scenario.load("default"))
    tl.ensure(400)
    builder = BandBuilder()
    builder.build(tl.view, tl.log, 0)
    power_on = E.BY_NAME["POWER_ON"].code
    first = next(i for i in range(len(tl)) if tl.log[i]["kind"] == power_on)
    tl.seek(first + 1)
    bands, changes = builder.build(tl.view, tl.log, first + 1)
    assert changes is None
    assert_same(bands, B.build_bands(tl.view))


def test_outlines_kept_from_frame_to_frame_equal_outlines_made_anew():
    """A few large pages come and go a frame, sometimes all change: the tuple edited from the last
    one is the tuple made from the starts."""
    rng = np.random.default_rng(0)
    builder = BandBuilder()
    starts = np.sort(rng.choice(100000, 3000, replace=False)) * 512
    for k in range(200):
        if k % 9 == 0:
            starts = np.sort(rng.choice(100000, int(rng.integers(0, 3000)), replace=False)) * 512
        else:
            kept = starts[rng.random(len(starts)) > 0.002]
            starts = np.unique(np.concatenate([kept, rng.choice(100000, int(rng.integers(0, 8))) * 512]))
        assert builder._outlines(starts) == B.outlines_of(starts), k


def test_a_new_shape_of_the_view_shows_as_many_store_slots_as_a_full_build():
    """A store's band shows more slots than it uses (a power of two, at least 256), and the
    layout places bands by those: wrapped again for the view's new shape, stores keep the
    slots a full build gives them (they once took the count of the old layout's band)."""
    tl = Timeline(scenario.load("overcommit"))
    tl.ensure(26300)
    builder = BandBuilder()
    tl.seek(26211)
    builder.build(tl.view, tl.log, 26211, 1.4)
    tl.seek(26285)                      # rows that leave the stores as they are
    bands, _ = builder.build(tl.view, tl.log, 26285, 0.8)
    assert_same(bands, B.build_bands(tl.view, 0.8))
