"""Chapters of a tour: the scenario's own (``[[chapter]]``) placed on the event log as it
grows, and one at every host state change (HOST_STATE), so a long run of reclamation is cut
where the host's behaviour changes. No Qt: the window's simulation thread (``engine.worker``)
and the headless export (``export --chapter``) name the same chapters.

A host that flaps, leaving a state for another and coming back within FLAP_S simulated
seconds again and again (overcommit: low for seconds at a time, hard for a second or two,
from 110 s), gets one chapter for the episode, "Host state low ⇄ hard", whose text says how
many changes it saw; the timeline bar's marks still show every change. Its stays in the state
it comes back to may be long; a stay of FLAP_S or more in the other state ends the episode
and keeps its own chapter: the shortest stays the built-in tours narrate last 3 s
(overcommit's ballooning in soft from 105 s, hostcache's "Hard state" from 81 s). The state
model's hysteresis (``Sim.StateModel`` esxi6: low is left for hard only above 32% of minFree,
entered below 16%) makes each flap a real round trip, not a threshold jitter.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.config.scenario import Chapter
from vmmemviz.model.core.events import LogSnapshot
from vmmemviz.model.reclaim.freestates import STATE_NAMES, WHAT_RUNS, apply_host_state, free_text

HOST_STATE = "Host state "     # the title of a host state's chapter begins so
FLAP_S = 3          # a state left and entered again in less than this (simulated seconds): a flap


def _both(story: Chapter, state: Chapter) -> Chapter:
    """An authored chapter in a host state: named after both."""
    return Chapter(at=state.at, title=f"{story.title} · {state.title}", text=f"{story.text} Now {state.text}")


def _state_chapter(at: int, states: tuple, free: tuple, changes: str = "") -> Chapter:
    """One host state (``free``: its free memory in words), or an episode of flaps between two
    (``free``: the lowest and highest free memory at its changes; ``changes``: how many, when)."""
    names = [STATE_NAMES[s] for s in states]
    if len(states) == 1:
        return Chapter(at=at, title=HOST_STATE + names[0], text=f"free memory {free[0]}: {WHAT_RUNS[states[0]]}.")
    runs = " and ".join(f"{n} ({WHAT_RUNS[s]})" for n, s in zip(names, states))
    return Chapter(at=at, title=HOST_STATE + " ⇄ ".join(names),
                   text=f"free memory {free[0]} to {free[1]}, {changes}: {runs} in turn.")


def _episodes(ticks: list, states: list) -> list[tuple[int, int]]:
    """(first, last) of each run of host state changes that reads as one chapter: a change
    alone, or an episode: a change into a state (its home) and then excursions to one other
    state, each back home within FLAP_S (its stays at home may be long). Only the last
    episode may still grow as the log does."""
    out, i = [], 0
    while i < len(states):
        last, k = i, i + 2
        while k < len(states) and states[k] == states[i] and states[k - 1] == states[i + 1] and \
                ticks[k] - ticks[k - 1] < FLAP_S:
            last, k = k, k + 2
        out.append((i, last))
        i = last + 1
    return out


class Chapters:
    """A scenario's chapters placed on the event log as it grows: ``placed``, (index of the
    first event, 0 host state / 1 authored, Chapter). Tours also get one at every host state
    change (HOST_STATE), and one for each episode of flaps (FLAP_S)."""

    def __init__(self, scenario):
        self.authored = sorted(scenario.chapters, key=lambda c: c.at)
        self.auto = bool(scenario.chapters)
        self.placed: list[tuple[int, int, Chapter]] = []
        self.scanned = 0
        self._next = 0                                       # authored chapters placed so far
        self._stories: list[tuple[int, int, Chapter]] = []   # the authored ones placed
        self._changes: list[tuple[int, np.void]] = []        # (index, HOST_STATE row) of every change

    @classmethod
    def of(cls, timeline) -> "Chapters":
        """The chapters of ``timeline`` as far as it has been simulated."""
        chapters = cls(timeline.sc)
        chapters.update(timeline.log.snapshot())
        return chapters

    def update(self, log: LogSnapshot) -> bool:
        """Place the chapters the rows since the last call reach (``log``: a snapshot, or the
        live EventLog in the thread that grows it); True if a state change or an authored
        chapter was added (a change may join the last episode: ``placed`` can shrink)."""
        n = len(log)
        if n <= self.scanned:
            return False
        rows = log.rows(self.scanned, n)
        added = 0
        if self.auto:
            for i in np.flatnonzero(rows["kind"] == apply_host_state.code):
                self._changes.append((self.scanned + int(i), rows[i].copy()))
                added += 1
        while self._next < len(self.authored) and int(rows["tick"][-1]) >= self.authored[self._next].at:
            c = self.authored[self._next]
            self._stories.append((self.scanned + int(np.searchsorted(rows["tick"], c.at, side="left")), 1, c))
            self._next += 1
            added += 1
        self.scanned = n
        if added:
            self.placed = sorted(self._stories + self._states(), key=lambda x: x[:2])
        return bool(added)

    def _states(self) -> list[tuple[int, int, Chapter]]:
        """The host state chapters: one a change, one an episode of flaps."""
        rows = [r for _, r in self._changes]
        out = []
        for first, last in _episodes([int(r["tick"]) for r in rows], [int(r["aux"]) for r in rows]):
            ep = rows[first:last + 1]
            t0, t1 = int(ep[0]["tick"]), int(ep[-1]["tick"])
            free = sorted(ep, key=lambda r: int(r["slot"]))
            when = f"at {t0} s" if t0 == t1 else f"from {t0} s to {t1} s"
            out.append((self._changes[first][0], 0, _state_chapter(
                t0, tuple(int(r["aux"]) for r in ep[:2]), (free_text(free[0]), free_text(free[-1])),
                f"{len(ep) - 1} changes {when}")))
        return out

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
        """Each authored chapter of ``scenario`` as ``at`` names it in the host state, and in the
        episode of flaps, whose text is longest (what the window makes room for)."""
        big, wordy = "9,999.99 MB", sorted(range(len(WHAT_RUNS)), key=lambda s: len(WHAT_RUNS[s]))
        states = (_state_chapter(0, wordy[-1:], (big,)),
                  _state_chapter(0, tuple(wordy[-2:]), (big, big), "9999 changes from 99999 s to 99999 s"))
        return [_both(c, s) for c in scenario.chapters for s in states]

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
