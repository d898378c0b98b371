"""A tour's chapters (``engine.chapters``): a host flapping between two states reads as one
chapter, in the window's list, its chapter line and the export alike; the timeline bar still
marks every change."""
import numpy as np
import pytest

from vmmemviz.engine.chapters import FLAP_S, Chapters, _episodes
from vmmemviz.engine.worker import timeline_summary
from vmmemviz.export import render
from vmmemviz.model.config import scenario
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.reclaim.freestates import apply_host_state


@pytest.mark.parametrize("ticks, states, episodes", [
    # overcommit's pattern: five seconds in low, hard for a second or two, again and again; the
    # last stay in hard (ten seconds) is a chapter of its own
    ([110, 115, 116, 118, 119, 120, 130], [4, 3, 4, 3, 4, 3, 1], [(0, 4), (5, 5), (6, 6)]),
    # an excursion of FLAP_S or more ends the episode (17 s in state 1): the return is not a flap
    ([0, 1, 2, 3, 20, 21], [0, 1, 0, 1, 0, 1], [(0, 2), (3, 5)]),
    # balloon's: long stays in clear, a second in soft each time: every return is a flap
    ([10, 15, 16, 20, 21, 24, 25], [1, 2, 1, 2, 1, 2, 1], [(0, 6)]),
    # stays of FLAP_S or more each: a chapter each (overcommit's ballooning in soft at 105 s)
    ([92, 105, 108], [3, 2, 3], [(0, 0), (1, 1), (2, 2)]),
    # a descent and a quick return through a third state: two states an episode, never three
    ([61, 61, 61, 65, 67, 67], [3, 4, 3, 2, 3, 2], [(0, 2), (3, 5)]),
])
def test_episodes_are_returns_within_flap_s(ticks, states, episodes):
    assert FLAP_S == 3 and _episodes(ticks, states) == episodes


@pytest.fixture(scope="module")
def overcommit():
    tl = Timeline(scenario.load("overcommit"))
    ch = Chapters(tl.sc)
    while not tl.finished():          # as the window places them: while the log grows
        tl.advance()
        ch.update(tl.log.snapshot())
    return tl, ch


def test_the_overcommit_flaps_are_one_chapter(overcommit):
    tl, ch = overcommit
    assert ch.placed == Chapters.of(tl).placed              # the same whether placed live or at the end
    rows = tl.log.rows()
    changes = np.flatnonzero(rows["kind"] == apply_host_state.code)
    titles = [t for _, t, _ in ch.summary()]
    assert len(changes) == 17 and len(titles) == 11          # 19 without episodes: two of 5 changes each
    k = titles.index("Host state low ⇄ hard")
    start, _, text = ch.summary()[k]
    assert "4 changes from 110 s to 120 s" in text and "VMs above target are blocked" in text
    inside = [int(i) + 1 for i in changes if start <= i + 1 < ch.summary()[k + 1][0]]
    assert len(inside) == 5 and inside[0] == start
    assert titles[k + 1] == "Host state hard"                 # then hard, left for soft: a chapter of its own
    assert {ch.at(p).title for p in inside} == {"Low: VMs above target are blocked · Host state low ⇄ hard"}
    summary = timeline_summary(tl, ch)                       # the bar: a section, and a mark per change
    assert [t for _, t, _ in summary["chapters"]] == titles
    marks, state = summary["marks"], summary["groups"].index("state")
    assert all(marks[i * len(marks) // len(tl)] == state for i in changes)
    chapter, end = render.find_chapter(tl, "host state low ⇄ hard")      # the export: the same episode
    assert chapter.text == text and end == ch.summary()[k + 1][0] - 1
    assert ch.at(end).title.endswith("low ⇄ hard") and not ch.at(end + 1).title.endswith("low ⇄ hard")


def test_the_chapter_line_makes_room_for_an_episode():
    longest = Chapters.longest(scenario.load("overcommit"))
    assert len(longest) == 2 * 2                 # each authored chapter in one state, and in an episode
    for one, episode in zip(longest[::2], longest[1::2]):
        assert "⇄" in episode.title and "9999 changes" in episode.text and len(episode.text) > len(one.text)
