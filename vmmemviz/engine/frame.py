"""Frame: everything the views need to paint one position of the timeline.

``build_frame(timeline, pos)`` makes one for any position (in the simulation thread, tests,
exports; the counters are computed in a thread of their own while the bands are built: both
only read the view, and numpy runs without the GIL). Immutable once built, so the UI thread
never reads arrays the simulation is changing. Panels take what they need:
``counters`` for the counters panel, ``history`` for the plots, ``event``/``narration``
for the caption and the event list, ``bands``/``arrows`` for the layer view.
Given a :class:`~vmmemviz.scene.incremental.BandBuilder`, the bands are built from the last
frame's and the pages that changed since (``changes``, which the view's downsampled grids
follow); while playing the worker may pass on the counters of an earlier frame
(``counters_pos``): the panels follow play at most a few times a second.
"""
from __future__ import annotations

import functools
from concurrent import futures
from dataclasses import dataclass, field

import numpy as np

from vmmemviz.model.core import events as E
from vmmemviz.model.core.timeline import Timeline
from ..scene import bands as B
from ..scene.arrows import event_arrows
from ..scene.incremental import BandBuilder


@dataclass(frozen=True)
class Frame:
    pos: int                    # events applied (0 = before the first)
    total: int                  # events known so far
    finished: bool              # the live simulation has reached the scenario's end
    tick: int                   # simulated second of the current event
    event: np.void | None       # the current event row (a copy), None at position 0
    kind: str | None            # its kind's NAME (events.KINDS)
    group: str | None           # its kind's group (core, access, guest, tps, balloon, swap, zip, state)
    narration: str              # one sentence about the current event
    chapter: object | None      # the scenario chapter (tours) the position is in
    vm_names: tuple
    counters: dict              # {"host": {...}, "vms": {name: {...}}}, esxtop names
    history: tuple              # per tick: {"tick", "events", "host", "vms"} up to now
    bands: tuple = field(default=())    # layer images, filled by the layer-view builder
    arrows: tuple = field(default=())   # arrows of the current event
    changes: dict | None = None         # {band key: flat indices, may repeat (None: all)} since base;
    base: int | None = None             # None: every band is new
    counters_pos: int | None = None     # the position ``counters`` describe (pos, or earlier while playing)
    rate: float | None = None           # events per second playing goes at here (the worker's speed, or auto's)


STEP_ARROWS_MAX = 4096     # a jump longer than this shows only the last event's arrows


@functools.cache
def _counting() -> futures.ThreadPoolExecutor:
    return futures.ThreadPoolExecutor(1, thread_name_prefix="vmmemviz-counters")


def chapter_at(scenario, tick: int):
    cur = None
    for c in scenario.chapters:
        if c.at <= tick:
            cur = c
    return cur


def build_frame(timeline: Timeline, pos: int, prev: int | None = None, aspect: float = B.ASPECT,
                builder: BandBuilder | None = None, counters: tuple | None = None, chapters=None) -> Frame:
    """The Frame at ``pos`` (seeks the timeline's view); arrows of the events prev..pos;
    bands laid out for a picture of about ``aspect`` (width / height), from ``builder``'s
    last ones when given; ``counters``: (position, counters) to pass on instead of computing
    them; ``chapters``: the timeline's ``engine.chapters.Chapters``, placed as far as its log
    goes, for the chapter as the window's chapter line names it (else the authored one)."""
    timeline.seek(pos)
    pos = timeline.pos
    state = timeline.view
    names = tuple(vm.name for vm in state.vms)
    row = timeline.current()
    kind = E.KINDS[int(row["kind"])] if row is not None else None
    base = builder.pos if builder is not None else None
    counting = _counting().submit(timeline.counters) if counters is None else None
    try:
        if builder is None:
            bands, changes = B.build_bands(state, aspect), None
        else:
            bands, changes = builder.build(state, timeline.log, pos, aspect)
    finally:                # the view must not move while the counters read it
        if counting is not None:
            futures.wait([counting])
    counters_pos, counts = counters or (pos, counting.result())
    for b in bands:         # the UI thread paints them while the worker builds the next frame
        b.codes.setflags(write=False)
    lo = prev if prev is not None and 0 <= pos - prev <= STEP_ARROWS_MAX else pos - 1
    arrows = event_arrows(timeline.log.rows(max(lo, 0), pos), state, bands) if pos else ()
    tick = int(row["tick"]) if row is not None else 0
    if chapters is not None:
        chapters.update(timeline.log)
    return Frame(
        pos=pos, total=len(timeline), finished=timeline.finished(), tick=tick,
        event=row.copy() if row is not None else None,
        kind=kind.name if kind else None, group=kind.group if kind else None,
        narration=E.narrate(row, names) if row is not None else
        f"{timeline.sc.name}: press Space to play, Right to step one event.",
        chapter=chapter_at(timeline.sc, tick) if chapters is None else chapters.at(pos), vm_names=names,
        counters=counts, counters_pos=counters_pos,
        history=tuple(h for h in timeline.history if pos and h["tick"] <= tick),
        bands=bands, arrows=arrows, changes=changes, base=base if changes is not None else None)
