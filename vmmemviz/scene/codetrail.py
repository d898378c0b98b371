"""Code trail: the page bands' codes kept along the run, so the frame after a far seek is
built from the codes of a nearby position rather than from scratch.

Between two random positions of a host-scale run only a few percent of the pages change
colour, though most change machine frame or content: computing every code again costs
more than the seek itself (115 ms of 71 M cells at 64 GiB). So, as the live simulation
runs, every ``EVERY`` events (an *anchor*) the trail brings its copy of the live state's
codes (``head``: one uint8 per MPN, GPPN and GVPN, as ``bands.page_codes`` computes them)
forward by the incremental pass over the rows since the last anchor
(``incremental.recompute``), and keeps the cells that changed with their codes before
(newest anchor first, in segments of ``SEGMENT`` anchors joined as the run goes).
The codes at an earlier anchor are the head's with those old codes written back, newest
first, so each cell ends with the code it had there (``fill``); the BandBuilder then brings
them from the anchor to the event as it does while playing.

Rows the incremental pass cannot follow (a VM's power-on), or naming more than half the
machine pages (boot), compute the head from scratch and start the trail again there: a seek
before it builds from scratch, as without a trail. The cells kept are bounded
(``budget`` bytes): past it the older half of the anchors is dropped.
An anchor that rewrites more than an eighth of a band, or more than a 64th when that is
smaller (a VM filling its memory: its band is long runs of one code), keeps that band's old
codes whole instead, LZ4-compressed; going back past it starts from them rather than from
the head.
"""
from __future__ import annotations

import lz4.block
import numpy as np

from . import bands as B
from . import incremental as I
from . import parallel

EVERY = 4096                # events between anchors: a seek replays at most as many rows' pages
SEGMENT = 64                # anchors whose cells are joined into one segment as the run goes
CELL_BYTES = 9              # a kept cell: int64 index (numpy scatters int32 ones at half the
#                             speed: it widens them first) and uint8 old code
WHOLE = 8                   # a band whose anchor rewrites more than 1/WHOLE of it is kept whole,
TRY_WHOLE = 64              # ... and one rewriting more than 1/TRY_WHOLE when smaller so


class CodeTrail:
    """The page codes of a timeline's anchors (attach with ``CodeTrail(timeline)``)."""

    def __init__(self, timeline, every: int = EVERY, budget: int = 128 << 20):
        self.every, self.budget, self.log = every, budget, timeline.log
        self.head = None        # {band key: flat codes} of the live state at the last anchor
        self._start(len(timeline.log), timeline.sim.state)
        timeline.watchers.append(self._emitted)

    def _start(self, n: int, state) -> None:
        """The trail begins again at event ``n`` with the codes of ``state`` (computed anew)."""
        self.head = B.page_codes(state, {} if self.head is None else self.head)
        self.anchors, self.first = [n], 0    # positions; the number of anchors[0]
        self._new = {k: [] for k in self.head}   # {key: [segments of the anchors since the last _join, oldest first]}
        self._segs = {k: [] for k in self.head}      # {key: [joined segment, newest first]} (_join)
        self._whole = {k: {} for k in self.head}     # {key: {anchor number: its old codes, compressed}}
        self.cells = self.whole_bytes = 0

    def nbytes(self) -> int:
        """What the trail holds beyond the head: kept cells and whole bands."""
        return self.cells * CELL_BYTES + self.whole_bytes

    def _emitted(self, n: int, state) -> None:
        if n - self.anchors[-1] >= self.every:
            self._anchor(n, state, self.log.rows(self.anchors[-1], n))

    def _anchor(self, n: int, state, rows) -> None:
        """The head brought to event ``n`` (``state``) by ``rows``, the cells that changed kept."""
        if I.followable(state, rows, True, share=2) is None:
            self._start(n, state)
            return
        head, num = self.head, self.first + len(self.anchors)

        def put(key, idx, new):
            old = head[key][idx]
            diff = old != new
            if not diff.any():
                return
            at = idx[diff]
            blob = None
            if len(at) * TRY_WHOLE > len(head[key]):
                blob = lz4.block.compress(head[key], store_size=False)
            if blob is not None and (len(at) * WHOLE > len(head[key]) or len(blob) < len(at) * CELL_BYTES):
                self._whole[key][num] = blob
                self.whole_bytes += len(blob)
            else:
                self._new[key].append((np.array([num], np.int64), np.zeros(1, np.int64), at.astype(np.int64), old[diff]))
                self.cells += len(at)
            head[key][at] = new[diff]
        I.recompute(state, I.named_pages(state, rows), head.__getitem__, put)
        self.anchors.append(n)
        if len(self.anchors) % SEGMENT == 0:       # a segment of the last anchors' cells
            for key in self.head:
                self._join(key)
        if self.nbytes() > self.budget:
            self._drop(len(self.anchors) // 2)

    @staticmethod
    def _merged(parts: list) -> tuple:
        """One segment of the segments ``parts``, oldest first. A segment: (anchor numbers,
        newest first; where each one's cells start; cell indices and old codes, the newest
        anchor's first). A walk back takes slices from the start: numpy scatters contiguous
        indices twice as fast as a reversed view."""
        parts = parts[::-1]
        at = np.cumsum([0] + [len(p[2]) for p in parts[:-1]])
        return tuple(np.concatenate(a) for a in ([p[0] for p in parts], [p[1] + o for p, o in zip(parts, at)],
                                                 [p[2] for p in parts], [p[3] for p in parts]))

    def _join(self, key: str) -> list:
        """The segments of band ``key``, newest first, the cells not yet in one joined into a
        new one (only they are copied)."""
        if self._new[key]:
            self._segs[key].insert(0, self._merged(self._new[key]))
            self._new[key] = []
        return self._segs[key]

    def _segments(self, key: str) -> list:
        """The segments of band ``key`` for a walk, newest first: the anchors since the last
        ``_join`` merged into one piece that later anchors add to, not made a segment for
        good (a frame built from the trail while the run goes would cut the trail into
        thousands of small segments, each a scatter call of its own at every far seek)."""
        new = self._new[key]
        if len(new) > 1:
            new[:] = [self._merged(new)]
        return new + self._segs[key]

    def _cells(self, key: str, lo: int, hi: int) -> list:
        """[(cell indices, old codes)] of band ``key`` kept at the anchors numbered above ``lo``
        and below ``hi``, the newest anchor's first."""
        out = []
        for nums, starts, idx, old in self._segments(key):
            first = int(np.searchsorted(-nums, -hi, "right"))     # the parts numbered hi or above
            end = int(np.searchsorted(-nums, -lo, "left"))        # ... and above lo
            a, b = (int(starts[i]) if i < len(nums) else len(idx) for i in (first, end))
            if a < b:
                out.append((idx[a:b], old[a:b]))
        return out

    def _drop(self, count: int) -> None:
        """Forget the first ``count`` anchors and the cells only they needed (the oldest: the
        last ones kept)."""
        self.first += count
        self.anchors = self.anchors[count:]
        self.cells = self.whole_bytes = 0
        for key in self.head:
            whole = self._whole[key] = {m: b for m, b in self._whole[key].items() if m > self.first}
            self.whole_bytes += sum(map(len, whole.values()))
            kept = []
            for nums, starts, idx, old in self._join(key):
                s = int(np.searchsorted(-nums, -self.first, "left"))   # anchors numbered above the first
                cut = int(starts[s]) if s < len(nums) else len(idx)
                if s:
                    kept.append((nums[:s], starts[:s], idx[:cut], old[:cut]))
                self.cells += cut
            self._segs[key] = kept

    def anchor_at(self, pos: int) -> int | None:
        """The last anchor at or before event ``pos`` (None: none is)."""
        j = int(np.searchsorted(self.anchors, pos, "right")) - 1
        return self.anchors[j] if j >= 0 else None

    def fill(self, at: int, out: dict) -> None:
        """The codes at anchor ``at`` into ``out`` ({band key: flat uint8 array of its pages}):
        the head's, or the first whole band kept after it, with the old codes of the anchors
        after it (and before that) written back, newest first; the bands in two shares of
        about equal size (parallel.py: writing the old codes back is a scatter bound by
        memory latency, which numpy does without the GIL)."""
        num = self.first + self.anchors.index(at)
        parallel.run(lambda keys: self._fill(num, keys, out), parallel.balanced(out, lambda k: len(out[k])))

    def _fill(self, num: int, keys: list, out: dict) -> None:
        """``fill`` for anchor number ``num``, the bands ``keys`` of ``out``."""
        for key in keys:
            flat = out[key]
            whole = min((m for m in self._whole[key] if m > num), default=None)
            if whole is None:
                flat[:] = self.head[key]
            else:
                flat[:] = np.frombuffer(lz4.block.decompress(self._whole[key][whole], uncompressed_size=len(flat)), np.uint8)
            for idx, old in self._cells(key, num, self.first + len(self.anchors) if whole is None else whole):
                flat[idx] = old               # numpy assigns in order: the oldest anchor's last
