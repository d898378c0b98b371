"""The code trail (scene/codetrail.py): the page codes it gives at each anchor are those a
full build computes there, and frames built from it after far seeks equal full builds."""
import numpy as np
import pytest

from vmmemviz.model.config import scenario
from vmmemviz.model.core import events as E
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.scene import bands as B
from vmmemviz.scene.codetrail import SEGMENT, CodeTrail
from vmmemviz.scene import incremental as I
from vmmemviz.scene.incremental import BandBuilder

from test_incremental import assert_same


def trail_run(name: str, events: int, **kw):
    tl = Timeline(scenario.load(name))
    trail = CodeTrail(tl, **kw)
    tl.ensure(events)
    return tl, trail


def assert_codes_at(tl, trail, at: int) -> None:
    """The trail's codes at anchor ``at`` are those a full build computes there."""
    got = {k: np.full(len(v), 255, np.uint8) for k, v in trail.head.items()}
    trail.fill(at, got)
    tl.seek(at)
    want = B.page_codes(tl.view, {})
    assert got.keys() == want.keys()
    for k in want:
        assert np.array_equal(got[k], want[k]), (at, k, np.flatnonzero(got[k] != want[k])[:5])


@pytest.mark.parametrize("name,events", [("overcommit", 30000), ("tps", 5000), ("balloon", 9000)])
def test_the_codes_at_every_anchor_are_a_full_builds(name, events):
    tl, trail = trail_run(name, events, every=512)
    assert len(trail.anchors) > 8 and trail.cells > 0 and trail.whole_bytes > 0   # both kinds of keeping
    for at in trail.anchors[::-1]:                    # from the head back
        assert_codes_at(tl, trail, at)


def test_far_seeks_build_frames_from_the_trail_equal_to_full_builds():
    tl, trail = trail_run("overcommit", 40000, every=512)
    builder, used = BandBuilder(trail), []
    built = builder._from_trail
    builder._from_trail = lambda *a: used.append(built(*a)) or used[-1]
    rng = np.random.default_rng(3)
    for i, k in enumerate(rng.integers(0, len(tl), 40).tolist()):
        aspect = (0.8, 1.4, 2.3)[i % 3]
        tl.seek(k)
        bands, changes = builder.build(tl.view, tl.log, k, aspect)
        assert_same(bands, B.build_bands(tl.view, aspect))
        if used and used[-1] is not None:
            assert changes is None              # every band is new to the window
    assert sum(u is not None for u in used) >= 25    # most far seeks came from the trail


def test_a_power_on_starts_the_trail_again_after_it():
    tl, trail = trail_run("default", 3000, every=64)
    power_on = E.BY_NAME["POWER_ON"].code
    last = max(i for i in range(len(tl)) if tl.log[i]["kind"] == power_on)
    assert trail.anchors[0] > last
    assert trail.anchor_at(last) is None


def test_past_its_budget_the_trail_forgets_its_older_anchors_and_stays_exact():
    tl, trail = trail_run("overcommit", 30000, every=256, budget=20000)
    assert trail.nbytes() <= 20000
    first = trail.anchors[0]
    assert first > 20000                                # the older anchors are gone
    for at in (trail.anchors[0], trail.anchors[len(trail.anchors) // 2]):
        assert_codes_at(tl, trail, at)
    builder = BandBuilder(trail)
    tl.seek(first // 2)                                 # before the trail: built from scratch
    bands, changes = builder.build(tl.view, tl.log, first // 2)
    assert changes is None
    assert_same(bands, B.build_bands(tl.view))


def test_a_trail_frame_that_fails_halfway_leaves_the_next_build_exact(monkeypatch):
    tl, trail = trail_run("overcommit", 20000, every=512)
    builder = BandBuilder(trail)
    tl.seek(len(tl))
    builder.build(tl.view, tl.log, len(tl))
    k = trail.anchors[len(trail.anchors) // 2] + 100
    tl.seek(k)
    recompute = I.recompute

    def halfway(state, pages, flat, put):            # some cells written in place, then a failure
        def put_once(*a):
            put(*a)
            raise MemoryError("halfway")
        recompute(state, pages, flat, put_once)
    monkeypatch.setattr(I, "recompute", halfway)
    with pytest.raises(MemoryError):
        builder.build(tl.view, tl.log, k)
    monkeypatch.setattr(I, "recompute", recompute)
    back = k - 140                                    # just before the anchor the failed one began at:
    tl.seek(back)                                     # not built from its half-written bands
    bands, _ = builder.build(tl.view, tl.log, back)
    assert_same(bands, B.build_bands(tl.view))


def test_walks_while_the_run_goes_leave_the_segments_whole_and_exact():
    """A frame built from the trail between two anchors (as the window's worker does while it
    runs to the end) reads the anchors not yet in a segment without making them one: else a
    run cuts the trail into a segment per frame, each a scatter of its own at every seek."""
    tl, trail = trail_run("overcommit", 2000, every=256)
    for _ in range(3 * SEGMENT):
        tl.ensure(len(tl) + 256)
        assert_codes_at(tl, trail, trail.anchors[len(trail.anchors) // 2])
        tl.seek(len(tl))
    segs = max(len(s) for s in trail._segs.values())
    assert segs <= len(trail.anchors) // SEGMENT + 1, segs
    for at in trail.anchors[::37]:
        assert_codes_at(tl, trail, at)


def test_a_frame_built_from_the_trail_or_from_scratch_is_read_only():
    """The UI thread paints a frame's bands while the worker builds the next: bands from the
    trail and from scratch were writable (only the copies of a near step were frozen), so
    nothing stopped a later build from writing cells the window was painting."""
    from vmmemviz.engine.frame import build_frame
    tl, trail = trail_run("overcommit", 20000, every=512)
    builder = BandBuilder(trail)
    for k, how in ((len(tl), "scratch"), (3000, "trail"), (3010, "near")):
        bands = build_frame(tl, k, None, B.ASPECT, builder).bands
        assert all(not b.codes.flags.writeable for b in bands), how
        with pytest.raises(ValueError):
            bands[0].codes[0, 0] = 0
    assert not any(b.codes.flags.writeable for b in build_frame(tl, 100).bands)    # no builder
