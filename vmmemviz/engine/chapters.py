"""Chapters of a tour: the scenario's own (``[[chapter]]``) placed on the event log as it
grows, and one at every host state change (HOST_STATE), so a long run of reclamation is cut
where the host's behaviour changes. No Qt: the window's simulation thread (``engine.worker``)
and the headless export (``export --chapter``) name the same chapters.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.config.scenario import Chapter
from vmmemviz.model.core.events import LogSnapshot
from vmmemviz.model.reclaim.freestates import STATE_NAMES, WHAT_RUNS, apply_host_state, free_text


def _both(story: Chapter, state: Chapter) -> Chapter:
    """An authored chapter in a host state: named after both."""
    return Chapter(at=state.at, title=f"{story.title} · {state.title}", text=f"{story.text} Now {state.text}")


class Chapters:
    """A scenario's chapters placed on the event log as it grows: ``(index of the first event,
    Chapter)``. Tours also get one at every host state change (HOST_STATE), so a long run
    of reclamation is cut where the host's behaviour changes."""

    def __init__(self, scenario):
        self.authored = sorted(scenario.chapters, key=lambda c: c.at)
        self.auto = bool(scenario.chapters)
        self.placed: list[tuple[int, int, Chapter]] = []     # (index, 0 state / 1 authored, chapter)
        self.scanned = 0
        self._next = 0                                       # authored chapters placed so far

    @classmethod
    def of(cls, timeline) -> "Chapters":
        """The chapters of ``timeline`` as far as it has been simulated."""
        chapters = cls(timeline.sc)
        chapters.update(timeline.log.snapshot())
        return chapters

    def update(self, log: LogSnapshot) -> bool:
        """Place the chapters the rows since the last call reach; True if any was added."""
        n = len(log)
        if n <= self.scanned:
            return False
        rows = log.rows(self.scanned, n)
        added = []
        if self.auto:
            for i in np.flatnonzero(rows["kind"] == apply_host_state.code):
                r = rows[i]
                state = int(r["aux"])
                added.append((self.scanned + int(i), 0, Chapter(
                    at=int(r["tick"]), title=f"Host state {STATE_NAMES[state]}",
                    text=f"free memory {free_text(r)}: {WHAT_RUNS[state]}.")))
        while self._next < len(self.authored) and int(rows["tick"][-1]) >= self.authored[self._next].at:
            c = self.authored[self._next]
            added.append((self.scanned + int(np.searchsorted(rows["tick"], c.at, side="left")), 1, c))
            self._next += 1
        self.scanned = n
        self.placed = sorted(self.placed + added, key=lambda x: x[:2])
        return bool(added)

    def positions(self) -> list[int]:
        """The position that shows each chapter's first event."""
        return [i + 1 for i, _, _ in self.placed]

    def at(self, pos: int):
        """The chapter of position ``pos``: the authored chapter begun by then and the host state
        the host is in, named after both. Position 0 (no event yet) shows the first event's: a
        tour opens on what it is about, not on the empty room kept for its chapters."""
        story = state = None
        for i, authored, c in self.placed:
            if i >= max(pos, 1):
                break
            if authored:
                story = c
            else:
                state = c
        if state is None:
            return story
        if story is None:
            return state
        return _both(story, state)

    @staticmethod
    def longest(scenario) -> list:
        """Each authored chapter of ``scenario`` as ``at`` names it in the host state whose
        text is longest (what the window makes room for)."""
        state = Chapter(at=0, title="Host state clear",
                        text=f"free memory 9,999.99 MB: {max(WHAT_RUNS, key=len)}.") if scenario.chapters else None
        return [_both(c, state) for c in scenario.chapters]

    def summary(self) -> list[tuple[int, str, str]]:
        """The chapter list (the timeline bar's sections): (position of its first event, title, text)."""
        return [(i + 1, c.title, c.text) for i, _, c in self.placed]

    def spans(self, total: int) -> list[tuple[int, int, Chapter]]:
        """Every chapter the window names, with the positions that show it: (first, last,
        chapter), by first position. Each chapter of the list lasts until the next of its kind
        (authored, host state; the last until position ``total``), and where an authored
        chapter and a host state overlap, the two named as one (the chapter line's title)."""
        kinds = [[(i, c) for i, k, c in self.placed if k == kind] for kind in (0, 1)]
        own = [[(i + 1, nxt[0], c) for (i, c), nxt in zip(mine, mine[1:] + [(total, None)])] for mine in kinds]
        both = [(max(s0, a0), min(s1, a1), _both(a, s)) for s0, s1, s in own[0] for a0, a1, a in own[1]
                if max(s0, a0) <= min(s1, a1)]
        return sorted(own[0] + own[1] + both, key=lambda x: x[0])
