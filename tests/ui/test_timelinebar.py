"""The timeline bar: marks where their bins are, and a moving playhead that does not paint
the chapters and marks again (it moves on every frame while playing)."""
import numpy as np
from PySide6 import QtGui

from vmmemviz.scene import palette as P
from vmmemviz.ui.timelinebar import CHAPTER_H, MARK_H, PAD, TimelineBar


def summary(marks):
    return {"total": 1000, "finished": True, "marks": np.asarray(marks, np.uint8),
            "groups": ("",) + P.GROUP_ORDER, "chapters": [(1, "Start", "the start")]}


def test_marks_are_drawn_in_their_group_colour_and_kept_while_the_playhead_moves(qtbot):
    bar = TimelineBar()
    qtbot.addWidget(bar)
    bar.resize(420, 60)
    swap = ("",) + P.GROUP_ORDER
    bar.set_summary(summary([0] * 50 + [swap.index("swap")] * 50))
    img = bar.grab().toImage()
    y = PAD + CHAPTER_H + MARK_H // 2
    right = img.pixelColor(PAD + 3 * (420 - 2 * PAD) // 4, y)
    assert right.name().upper() == P.GROUP_COLOURS["swap"].upper()
    left = img.pixelColor(PAD + (420 - 2 * PAD) // 4, y)
    assert left.name().upper() != P.GROUP_COLOURS["swap"].upper()
    back = bar._back[-1]
    for pos in (10, 500, 900):
        bar.set_position(pos)
        bar.grab()
    assert bar._back[-1] is back                     # painted once for this summary and size
    bar.set_summary(summary([1] * 100))
    bar.grab()
    assert bar._back[-1] is not back


def test_the_playhead_is_where_the_position_is(qtbot):
    bar = TimelineBar()
    qtbot.addWidget(bar)
    bar.resize(420, 60)
    bar.set_summary(summary([0] * 100))
    for pos in (0, 250, 1000):
        bar.set_position(pos)
        img = bar.grab().toImage()
        x = round(PAD + (420 - 2 * PAD) * pos / 1000)
        col = [img.pixelColor(min(x, 419), PAD + CHAPTER_H + 2).name().upper()]
        assert QtGui.QColor(P.THEMES["dark"]["highlight"]).name().upper() in col


def test_simulating_is_written_on_a_plate_over_the_marks(qtbot):
    bar = TimelineBar()
    qtbot.addWidget(bar)
    bar.resize(420, 60)
    swap = ("",) + P.GROUP_ORDER
    bar.set_summary({**summary([swap.index("swap")] * 100), "finished": False})
    img = bar.grab().toImage()
    y = PAD + CHAPTER_H + 1                          # the marks' top row, above the word
    edge = 420 - PAD - 2                             # inside the plate, right of the word
    assert img.pixelColor(edge, y).name().upper() == P.THEMES[bar.theme]["bg"].upper()
    assert img.pixelColor(PAD + 20, y).name().upper() == P.GROUP_COLOURS["swap"].upper()


def test_a_narrow_section_names_its_host_state_not_host_stat(qtbot):
    """At 1280 px the bar's sections read "Host stat…": a title that does not fit gives its
    short form (the states alone; an authored title's words before its colon) before eliding."""
    from vmmemviz.ui.timelinebar import fit_title
    bar = TimelineBar()
    qtbot.addWidget(bar)
    fm = QtGui.QFontMetricsF(bar.font())
    room = fm.horizontalAdvance("low ⇄ hard") + 1
    assert fit_title("Host state low ⇄ hard", room, fm) == "low ⇄ hard"
    assert fit_title("Host state soft", 1000, fm) == "Host state soft"
    assert fit_title("Low: VMs above target are blocked", fm.horizontalAdvance("Low") + 1, fm) == "Low"
    assert fit_title("Overcommitted", fm.horizontalAdvance("Over…") + 1, fm).endswith("…")
