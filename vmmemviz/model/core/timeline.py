"""Timeline: any event position, forwards or backwards, with exactly the state play gives.

The live :class:`Simulator` only moves forward and logs every event. The timeline keeps a
second state, the *view*, at position ``pos`` (the number of events applied). Seeking
forward applies logged rows; seeking backward, or further than a keyframe ahead, restores
the nearest keyframe at or before the target and applies the rows from there. Keyframes
are copies of the live state taken after the emit that carries it ``keyframe_every``
events past the last one (the state after any emit is what replaying the log to there
gives). Both states are tracked (modelstate.py): a keyframe compresses only the blocks
written since the previous one, and a restore writes back only the blocks where the view
differs from it, so both cost what changed, not the whole state. ``keyframe_budget`` bounds
the history: the bytes the keyframes hold beyond the blobs the live state names (one
compressed copy of the present, held whatever the budget, and at host scale bigger than it).
Past it every other keyframe is dropped (the first is always kept) and new ones are taken
twice as far apart, so they stay evenly spaced, about ``keyframe_every`` events apart wherever
a seek lands in a long run.

The view is built on first use as the live state's copy-on-write twin at the live state's
position: it costs no copy and, until either side writes, no memory, and its first seek
writes only the blocks that differ from the keyframe it restores. A far seek to the live
end makes a new twin, giving up the view's own copies. Once the live simulation has
finished, its state will not move again: at the next seek it becomes the view itself (a twin
gives up its copies), untracked (the keyframes' ``written`` marks tell what a replay can have
changed, as for a twin). A run that only ever looks at its last event (``run``, headless)
never needs a second state.
"""
from __future__ import annotations

import time

import numpy as np

from vmmemviz.model.views import counters
from vmmemviz.model.core.events import apply_rows
from vmmemviz.model.core.simulator import Simulator

KEYFRAME_EVERY = 2048     # events: replaying them takes ~20-50 ms, a keyframe a few ms


class Timeline:
    def __init__(self, scenario, keyframe_every: int | None = None, keyframe_budget: int = 256 << 20):
        self.sc = scenario
        self.sim = Simulator(scenario)
        self._view = None
        self._parts = None          # the tick in progress (advance_for leaves one part-way)
        self._base = None           # the view's base (see _may_differ)
        self.pos = 0
        self.keyframe_every = keyframe_every or KEYFRAME_EVERY
        self.keyframe_budget = keyframe_budget
        self.sim.state.track()
        self.keyframes = [(0, self.sim.state.snapshot())]
        self._kf_bytes = self.keyframes[0][1].nbytes
        self.sim.on_emit = self._emitted
        self.watchers = []  # called with (event count, live state) after each emit (scene/codetrail.py)
        self.history = []   # per tick: {"tick", "events", "host": {...}, "vms": {...}} (plots, JSON)

    # -- the live side -------------------------------------------------------------------
    @property
    def log(self):
        return self.sim.log

    def __len__(self) -> int:
        return len(self.sim.log)

    def finished(self) -> bool:
        return self._parts is None and self.sim.done()

    def advance(self, ticks: int = 1) -> int:
        """Run the live simulation ``ticks`` ticks further (the first one finishes a tick that
        :meth:`advance_for` left part-way); return the new event count."""
        for _ in range(ticks):
            if self.finished():
                break
            for _ in self._tick():
                pass
        return len(self.sim.log)

    def advance_for(self, seconds: float) -> int:
        """Run the live simulation for about ``seconds`` (at least one part of a tick, see
        :meth:`Simulator.tick_parts`), leaving a tick part-way when the time is up: the
        window's worker serves its user between calls however long a host-scale tick is."""
        stop = time.monotonic() + seconds
        while not self.finished():
            for _ in self._tick():
                if time.monotonic() >= stop:
                    return len(self.sim.log)
            if time.monotonic() >= stop:        # a tick's end (its counters) is a part too
                break
        return len(self.sim.log)

    def _tick(self):
        """The tick in progress, as parts (a new one when none is)."""
        if self._parts is None:
            self._parts = self._tick_parts()
        return self._parts

    def _tick_parts(self):
        yield from self.sim.tick_parts()
        n = len(self.sim.log)
        self.history.append({"tick": self.sim.now - 1, "events": n,
                             **counters.all_counters(self.sim.state, self.sim, self.tick_rows(n))})
        self._parts = None

    def _emitted(self, n: int) -> None:
        """The live state is at event ``n``: take a keyframe when due, tell the watchers."""
        if n - self.keyframes[-1][0] >= self.keyframe_every:
            snap = self.sim.state.snapshot()
            self.keyframes.append((n, snap))
            self._kf_bytes += snap.nbytes
            self._bound()
        for watch in self.watchers:
            watch(n, self.sim.state)

    def records(self):
        """Run to the end, yielding each tick's counters as ``{"tick", "host", "vms"}``."""
        while not self.finished():
            self.advance()
            h = self.history[-1]
            yield {"tick": h["tick"], "host": h["host"], "vms": h["vms"]}

    def ensure(self, n: int) -> int:
        """Run until at least ``n`` events exist or the scenario ends."""
        while len(self.sim.log) < n and not self.finished():
            self.advance()
        return len(self.sim.log)

    def run_to_end(self) -> int:
        while not self.finished():
            self.advance()
        return len(self.sim.log)

    def _bound(self) -> None:
        if len(self.keyframes) <= 2 or self._kf_bytes <= self.keyframe_budget:
            return
        while len(self.keyframes) > 2 and self.history_bytes() > self.keyframe_budget:
            for (_, gone), (_, nxt) in zip(self.keyframes[1:-1:2], self.keyframes[2::2]):
                nxt.written |= gone.written     # what a dropped one marked, the next one marks
            self.keyframes = [self.keyframes[0]] + self.keyframes[2::2] + (
                [self.keyframes[-1]] if len(self.keyframes) % 2 == 0 else [])
            self.keyframe_every *= 2        # new ones as far apart as the kept ones
        # the blob numbers the kept keyframes and the live state still name
        self.sim.state.blobs.keep(*(s.src for _, s in self.keyframes), self.sim.state.src)
        self._kf_bytes = self.history_bytes()

    def keyframe_bytes(self) -> int:
        """Bytes of the keyframes' blobs, each shared blob once."""
        return self.sim.state.blobs.nbytes(*(s.src for _, s in self.keyframes))

    def history_bytes(self) -> int:
        """Bytes the keyframes hold beyond the blobs of the live state (what the budget bounds)."""
        blobs, live = self.sim.state.blobs, self.sim.state.src
        return blobs.nbytes(*(s.src for _, s in self.keyframes), live) - blobs.nbytes(live)

    # -- the view side -------------------------------------------------------------------
    @property
    def view(self):
        """The state at position ``pos`` (built on first use as the live state's copy-on-write
        twin, at the live state's position)."""
        if self._view is None:
            self._fork()
        return self._view

    def _fork(self) -> None:
        """The view becomes a copy-on-write twin of the live state, at its position."""
        if self._view is not None and self._view is not self.sim.state:
            self.sim.state.unshare(self._view)
        self._view = None               # its mapping goes before the new one comes
        live = self.sim.state
        self._view, self.pos = live.fork(), len(self.sim.log)
        self._base = (self.pos, live.src, live.dirty.copy())

    def _take_over(self) -> None:
        """The live simulation has finished, so its state will not move again: it becomes the
        view, at the end, untracked (its writes are replays), and a twin gives up its own copies.
        Seeks then write into pages already there, where a twin's first seeks copied each page
        they wrote (copy-on-write faults: a fresh twin's first seek at 64 GiB took 0.5 s)."""
        live = self.sim.state
        if self._view is not None:
            live.unshare(self._view)
            self._view = None
        live.untrack()
        n = len(self.sim.log)
        self._view, self.pos, self._base = live, n, (n, live.src, None)

    def _may_differ(self) -> np.ndarray:
        """Per block, whether the view may differ from its base's blobs (``_base``: its
        position, blob numbers, and blocks known to differ): the blocks the live state wrote
        between the base and ``pos``, which the keyframes after the base up to the first at or
        after ``pos`` (or the live state) mark as written. Blob numbers cannot tell: a block
        written and written back names its old blob again."""
        at0, src, known = self._base
        out = np.zeros(len(src), bool) if known is None else known.copy()
        for at, snap in self.keyframes:
            if at > at0:
                out |= snap.written
                if at >= self.pos:
                    return out
        return out | self.sim.state.dirty

    def seek(self, k: int) -> None:
        """Put the view at position ``k`` (0 = before the first event)."""
        k = max(0, min(k, self.ensure(k)))
        if self.finished() and self._view is not self.sim.state:
            self._take_over()
        if self._view is None:
            self._fork()
        far = k < self.pos or k - self.pos > self.keyframe_every
        if far and k == len(self.sim.log) and self._view is not self.sim.state:
            self._fork()        # the live state is at k: share its blocks, drop the view's own
        elif far:
            at, snap = max((kf for kf in self.keyframes if kf[0] <= k), key=lambda kf: kf[0])
            if not (at <= self.pos <= k):
                self._view.restore(snap, np.where(self._may_differ(), -1, self._base[1]))
                self._base = (at, snap.src, None)
                self.pos = at
        if k > self.pos:
            apply_rows(self._view, self.sim.log.rows(self.pos, k))
        self.pos = k

    def tick_rows(self, pos: int):
        """Rows of the tick the event at ``pos - 1`` belongs to, up to ``pos`` (for rates)."""
        log = self.sim.log.snapshot()
        if pos == 0:
            return log.rows(0, 0)
        return log.rows(log.tick_index(int(log[pos - 1]["tick"]), hi=pos - 1), pos)

    def counters(self) -> dict:
        """The esxtop counters of the view."""
        return counters.all_counters(self.view, self.sim, self.tick_rows(self.pos))

    def step(self, n: int = 1) -> None:
        self.seek(self.pos + n)

    def current(self):
        """The event the view just applied (None at position 0)."""
        return self.sim.log[self.pos - 1] if self.pos else None
