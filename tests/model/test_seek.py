"""Seeking with block-tracked keyframes: restores write back only the blocks that differ,
and any seek, forwards or back, gives the state a fresh run to that position gives."""
import numpy as np
import pytest

from vmmemviz.model.config import scenario
from vmmemviz.model.core import modelstate
from vmmemviz.model.core.events import apply_rows
from vmmemviz.model.core.host import FREE
from vmmemviz.model.core.simulator import build_state
from vmmemviz.model.core.timeline import Timeline


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 256 bytes, so small scenarios have many and a missed mark shows."""
    monkeypatch.setattr(modelstate, "BLOCK", 256)


def tracked(n=4096, dtype=np.uint32):
    st = build_state(scenario.load("balloon"))
    st.extra["t"] = np.zeros(n, dtype)
    st.track(st.snapshot())
    first = next(b for name, _, b in modelstate.layout(st)[0] if name == "t")
    return st.extra["t"], st.dirty[first:first + 64]


@pytest.mark.parametrize("write, blocks", [
    (lambda a: a.__setitem__(70, 1), [1]),
    (lambda a: a.__setitem__(-1, 1), [63]),
    (lambda a: a.__setitem__(slice(60, 140), 1), [0, 1, 2]),
    (lambda a: a.__setitem__(np.array([5, 200, 201, 4000]), 1), [0, 3, 62]),
    (lambda a: a.__setitem__(np.arange(4096) == 3000, 1), [46]),
    (lambda a: a[640:1280].__setitem__(np.array([0, 300]), 1), [10, 14]),
    (lambda a: a.view(np.uint8).__setitem__(4 * 2000, 1), [31]),
    (lambda a: np.add.at(a, np.array([64, 65]), 1), [1]),
    (lambda a: np.add(a[:10], 1, out=a[:10]), [0]),
    (lambda a: a[128:192].fill(1), [2]),
])
def test_every_write_path_marks_its_blocks(small_blocks, write, blocks):
    a, dirty = tracked()
    write(a)
    assert np.flatnonzero(dirty).tolist() == blocks
    assert type(a + 1) is np.ndarray and type(a.sum()) is not modelstate.Tracked


def blocks_written(monkeypatch) -> set:
    """The blocks restores write from now on (each read whole or patched to its wanted blob)."""
    out, real = set(), modelstate.Blobs.patch
    monkeypatch.setattr(modelstate.Blobs, "patch", lambda self, w, blocks, blobs: out.update(
        blocks.tolist()) or real(self, w, blocks, blobs))
    return out


def test_a_restore_writes_back_only_what_differs(small_blocks, monkeypatch):
    tl = Timeline(scenario.load("balloon"), keyframe_every=300)
    tl.run_to_end()
    tl.seek(len(tl) // 2)
    written = blocks_written(monkeypatch)
    tl.seek(len(tl) // 2 - 1)          # back one event: the keyframe before it, few blocks differ
    total = len(tl.keyframes[0][1].src)
    assert 0 < len(written) < total // 4


def test_random_seeks_match_a_fresh_run(small_blocks):
    tl = Timeline(scenario.load("swap"), keyframe_every=500)
    tl.run_to_end()
    rows = tl.log.rows()
    rng = np.random.default_rng(7)
    targets = [int(k) for k in rng.integers(0, len(tl) + 1, 12)]
    targets += [targets[-1] + 3, targets[-1] + 700, 0, len(tl)]       # near ahead, far ahead, ends
    for k in targets:
        k = min(k, len(tl))
        tl.seek(k)
        fresh = build_state(tl.sc)
        apply_rows(fresh, rows[:k])
        assert tl.view.digest() == fresh.digest(), f"seek to {k}"
        assert tl.view.host.free_count() == fresh.host.free_count() == np.count_nonzero(
            fresh.host.mpn_state == FREE), f"free frames at {k}"
    assert len(tl.keyframes) > 3


def test_a_tick_run_in_parts_is_the_tick_run_whole():
    """advance_for leaves ticks part-way (the window serves its user between parts); seeking
    mid-tick and finishing later gives the log, the state and the history of whole ticks."""
    sc = scenario.load("overcommit")
    whole = Timeline(sc)
    whole.run_to_end()
    parts, calls = Timeline(sc), 0
    while not parts.finished():
        parts.advance_for(0.0)
        calls += 1
        if calls % 7 == 0:
            parts.seek(len(parts) // 2)            # the view moves while a tick is unfinished
    assert calls > 4 * sc.duration                   # the ticks really were cut
    assert np.array_equal(parts.log.rows(), whole.log.rows())
    assert parts.history == whole.history
    whole.seek(len(whole))
    parts.seek(len(parts))
    assert parts.view.digest() == whole.view.digest()


def fresh_digest(tl, k):
    fresh = build_state(tl.sc)
    apply_rows(fresh, tl.log.rows(0, k))
    return fresh.digest()


def test_the_view_shares_the_live_state_until_either_writes(small_blocks):
    """The view starts as the live state's copy-on-write twin: no block copied, and the live
    state writing on keeps the view where it was."""
    tl = Timeline(scenario.load("balloon"), keyframe_every=300)
    tl.advance(10)
    view = tl.view
    assert tl.pos == len(tl) and view.buf.shares(tl.sim.state.buf)
    assert view.digest() == tl.sim.state.digest() == fresh_digest(tl, tl.pos)
    at = tl.pos
    tl.advance(10)                       # the live state writes blocks the view shares
    assert tl.pos == at and view.digest() == fresh_digest(tl, at)
    tl.seek(at // 2)
    assert view.digest() == fresh_digest(tl, at // 2)
    assert tl.sim.state.digest() != view.digest()


def test_a_view_forked_between_tick_parts_is_the_replayed_state():
    """The window's worker builds the view between parts of a tick: the live state there is
    what replaying the log gives."""
    tl, forks = Timeline(scenario.load("overcommit")), 0
    while tl.sim.now < 6:
        tl.advance_for(0.0)
        if len(tl) and forks < 40:
            tl._fork()
            forks += 1
            assert tl.view.digest() == fresh_digest(tl, tl.pos), f"fork at {tl.pos}"


def test_the_first_seek_writes_only_what_differs(small_blocks, monkeypatch):
    """The view starts at the live state, so its first seek writes the blocks that differ
    from the keyframe it restores, not every block the run touched (a view built from
    event 0 wrote those)."""
    tl = Timeline(scenario.load("balloon"), keyframe_every=300)
    tl.run_to_end()
    live, k = tl.sim.state, len(tl) - 400
    snap = max((kf for kf in tl.keyframes if kf[0] <= k), key=lambda kf: kf[0])[1]
    differ = np.count_nonzero(live.dirty | (live.src != snap.src))
    touched = np.count_nonzero(live.dirty | (live.src != tl.keyframes[0][1].src))
    written = blocks_written(monkeypatch)
    tl.seek(k)
    assert 0 < len(written) == differ < touched // 2
    assert tl.view.digest() == fresh_digest(tl, k)


def test_a_keyframe_of_a_clean_state_compresses_nothing():
    st = build_state(scenario.load("balloon"))
    st.track()
    first = st.snapshot()
    again = st.snapshot()
    assert first.nbytes > 0 and again.nbytes == 0 and np.array_equal(first.src, again.src)
    st.vms[0].gp_flags[5] = 1
    one = st.snapshot()
    assert np.count_nonzero(one.src != again.src) == 1


HOST = """name = 'a small host'
seed = 1
duration = 6
[host]
memory_mb = 2048
[[vm]]
name = 'vm{:02d}'
count = 2
memory_mb = 2048
[[vm.process]]
name = 'java'
size_mb = 1024
start_mb = 128
alloc_mb = 8
working_set_mb = 256
touches = 200
write_fraction = 0.3
"""


def test_the_view_holds_only_the_blocks_it_does_not_share():
    """Memory, not just values: the view's own pages are the blocks either side wrote since
    the fork, and going back to the live end gives them up."""
    tl = Timeline(scenario.parse(HOST, "host.toml"), keyframe_every=300)
    tl.advance(2)
    view, src = tl.view, tl.sim.state.src
    assert view.buf.private_bytes() == 0
    tl.advance(2)                       # the live state writes: the view copies those blocks
    copied = view.buf.private_bytes()
    written = tl.sim.state.dirty | (tl.sim.state.src != src)
    assert 0 < copied <= np.count_nonzero(written) * modelstate.BLOCK
    assert copied < view.buf.size // 4
    tl.seek(len(tl) // 3)
    assert tl.view.digest() == fresh_digest(tl, len(tl) // 3)
    tl.seek(len(tl))
    assert tl.view is not view and tl.view.buf.private_bytes() == 0
    assert tl.view.digest() == fresh_digest(tl, len(tl))


def test_a_dropped_timeline_gives_its_shared_memory_back():
    import gc
    import os
    gc.collect()                        # the earlier tests' timelines
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        tl = Timeline(scenario.load("balloon"))
        tl.advance(3)
        tl.seek(len(tl) // 2)           # a view mapping the live state's memfd
        del tl
        gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


def test_thinned_keyframes_stay_evenly_spaced():
    """Over its budget the timeline drops every other keyframe and takes new ones as far apart:
    the start of a long run keeps keyframes as close as its end (halving alone left event 0 and
    then only the last few, so a seek into the first half replayed most of the run)."""
    tl = Timeline(scenario.load("swap"), keyframe_every=200, keyframe_budget=1 << 17)
    tl.run_to_end()
    at = np.array([a for a, _ in tl.keyframes])
    assert tl.keyframe_every > 200 and len(at) > 3           # it was thinned
    assert np.diff(at).max() <= 2 * tl.keyframe_every
    assert tl.history_bytes() <= 1 << 17


def test_a_budget_below_one_copy_still_keeps_evenly_spaced_keyframes():
    """At host scale one compressed copy of the state is bigger than the budget: the budget
    bounds the history beyond the live state's blobs, so keyframes stay many and even (a
    budget on all blobs kept two: event 0 and one near the end)."""
    tl = Timeline(scenario.parse(HOST, "host.toml"), keyframe_every=50, keyframe_budget=1 << 19)
    tl.run_to_end()
    at = np.array([a for a, _ in tl.keyframes])
    assert tl.keyframe_bytes() > 2 * tl.keyframe_budget > 2 * tl.history_bytes()
    assert tl.keyframe_every > 50 and len(at) > 3                # thinned, not collapsed
    assert np.diff(at).max() <= 2 * np.median(np.diff(at))
    for k in (at[2] + 7, len(tl) - 30):
        tl.seek(int(k))
        assert tl.view.digest() == fresh_digest(tl, int(k))


def test_delta_blobs_give_back_the_exact_bytes():
    """A block rewritten with a few changed bytes is stored as a small XOR delta against its
    family's whole blob (never against another delta: a read decompresses one whole blob);
    bytes equal to the last blob name it again; a block rewritten whole gets a whole blob;
    a block patched from one blob of a family to another gets the other's bytes."""
    B = modelstate.BLOCK
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 4, 4 * B, dtype=np.uint8)          # compressible, like state arrays
    blobs = modelstate.Blobs()
    blocks = np.arange(4)
    src = blobs.add(raw, blocks)
    versions = [raw.copy()]
    for step in range(6):
        raw[rng.integers(0, 4 * B, 5)] += 1                   # a few bytes of every block
        if step == 3:
            raw[2 * B:3 * B] = rng.integers(0, 256, B)        # one block rewritten whole
        src = blobs.add_versions(raw, blocks, src)
        versions.append((raw.copy(), src.copy()))
        assert (blobs.base[blobs.base >= 0] < len(blobs.data)).all()
        assert (blobs.base[blobs.base[blobs.base >= 0]] == -1).all()     # deltas of whole blobs only
        out = np.empty(B, np.uint8)
        for b in range(4):
            blobs.read(src[b], out)
            assert np.array_equal(out, raw[b * B:(b + 1) * B])
    deltas = np.flatnonzero(blobs.base >= 0)
    assert len(deltas) > 10 and blobs.size[deltas].max() < blobs.size[:4].min() // 4
    assert blobs.base[versions[4][1][2]] == -1                # the rewritten block: whole
    assert np.array_equal(blobs.add_versions(raw, blocks, src), src)     # unchanged: same numbers
    (_, old), (new, want) = versions[2], versions[6]
    buf = np.empty(4 * B, np.uint8)
    for b in range(4):
        blobs.read(old[b], buf[b * B:(b + 1) * B])
    near = blobs.family(old) == blobs.family(want)
    assert near.tolist() == [True, True, False, True]
    blobs.patch(buf.view(np.uint64), blocks[near], old[near])
    blobs.patch(buf.view(np.uint64), blocks[near], want[near])
    assert np.array_equal(buf.reshape(4, B)[near], new.reshape(4, B)[near])
    blobs.keep(versions[2][1])                                # an old keyframe: it and its bases
    out = np.empty(B, np.uint8)
    for b in range(4):
        blobs.read(versions[2][1][b], out)
        assert np.array_equal(out, versions[2][0][b * B:(b + 1) * B])
    assert blobs.nbytes(versions[2][1]) == blobs.size.sum()



def test_unpacking_whole_blobs_gives_what_reading_them_does(small_blocks, monkeypatch):
    """Whole blobs decompressed straight into a state's blocks (or, without liblz4's entry
    point, read one by one) are the bytes :meth:`Blobs.read` gives, in their blocks and
    nowhere else."""
    B, n = modelstate.BLOCK, 200
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 4, n * B, dtype=np.uint8)
    blobs = modelstate.Blobs()
    src = blobs.add(raw, np.arange(n))
    blocks = rng.permutation(2 * n)[:n]                 # into a larger state, out of order
    want = np.full(2 * n * B, 7, np.uint8)
    for b, i in zip(blocks.tolist(), src.tolist()):
        blobs.read(i, want[b * B:(b + 1) * B])
    assert modelstate._LZ4_SAFE is not None
    for fn in (modelstate._LZ4_SAFE, None):
        monkeypatch.setattr(modelstate, "_LZ4_SAFE", fn)
        out = np.full(2 * n * B, 7, np.uint8)
        blobs.unpack(out, blocks, src)
        assert np.array_equal(out, want)


def test_uniform_blocks_are_fills_and_read_back_exactly(monkeypatch):
    """A block of one repeated word is a fill, one with a few other words a delta against a
    fill, any other block an LZ4 blob; reading, unpacking and patching each gives its bytes."""
    B = modelstate.BLOCK
    rng = np.random.default_rng(3)
    raw = np.zeros(4 * B, np.uint8)
    raw.view(np.uint32)[:B // 4] = 0xFFFFFFFF                       # an unused part of gp_loc
    raw[B:2 * B] = 7                                                # a uniform gp_state
    raw.view(np.uint64)[B // 8 + rng.choice(B // 8, 20, replace=False)] = 9   # a few exceptions
    raw[2 * B:3 * B] = rng.integers(0, 256, B)                      # no pattern
    raw[3 * B:].view(np.uint64)[:] = 0x0101010102020202             # a repeated 8-byte word
    blobs = modelstate.Blobs()
    src = blobs.add(raw, np.arange(4))
    fill = modelstate.FILL
    assert blobs.base[src].tolist()[0] == fill and blobs.base[src[3]] == fill
    assert blobs.base[blobs.base[src[1]]] == fill and blobs.size[src[1]] == 20 * modelstate.DELTA.itemsize
    assert blobs.base[src[2]] == -1
    assert blobs.size[src[[0, 3]]].tolist() == [8, 8]
    out = np.empty(B, np.uint8)
    for b in range(4):
        blobs.read(src[b], out)
        assert np.array_equal(out, raw[b * B:(b + 1) * B])
    for fn in (modelstate._LZ4_SAFE, None):       # a fill, then the delta XORed over it
        monkeypatch.setattr(modelstate, "_LZ4_SAFE", fn)
        got = np.full(5 * B, 5, np.uint8)
        at = np.array([4, 0, 2, 1])
        blobs.write(got, at, src, np.full(4, -1))
        for b, dst in zip(range(4), at.tolist()):
            assert np.array_equal(got[dst * B:(dst + 1) * B], raw[b * B:(b + 1) * B])
        assert (got[3 * B:4 * B] == 5).all()       # a block not named is not written
    raw[B + 100] ^= 1                                # a new version of the uniform block
    new = blobs.add_versions(raw, np.array([1]), src[[1]])
    assert blobs.family(new) == blobs.family(src[[1]])      # near: a restore patches words
    blobs.read(new[0], out)
    assert np.array_equal(out, raw[B:2 * B])


@pytest.mark.parametrize("twin", [False, True])
def test_a_finished_run_hands_its_live_state_to_the_view_untracked(small_blocks, twin):
    """The first seek after the run finished makes its live state the view, with plain arrays
    (no write tracking on replays; a twin the view was gives up its copies); seeks from
    there, back and forth, equal a fresh run."""
    tl = Timeline(scenario.load("swap"), keyframe_every=500)
    if twin:
        tl.ensure(3000)
        tl.seek(2000)                       # the view: a twin, with copies of its own
    tl.run_to_end()
    tl.seek(len(tl) // 3 if twin else len(tl))
    assert tl.view is tl.sim.state and tl.sim.state.tr is None
    assert not any(isinstance(a, modelstate.Tracked) for _, a in tl.view.arrays())
    rows = tl.log.rows()
    rng = np.random.default_rng(11)
    for k in [int(k) for k in rng.integers(0, len(tl) + 1, 8)] + [len(tl), len(tl) - 1, 0, len(tl)]:
        tl.seek(k)
        fresh = build_state(tl.sc)
        apply_rows(fresh, rows[:k])
        assert tl.view.digest() == fresh.digest(), f"seek to {k}"
