"""The export dialog's chapter picker: a tour's chapter as the animated range, the host-state
chapters the window lists too."""
from PySide6 import QtCore

from vmmemviz.engine.chapters import Chapters
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.ui.exportdialog import ExportDialog

from .test_dialog import Window, choose


def test_chapter_sets_the_range_from_its_start(qtbot, tmp_path):
    win = Window("translation", 20)
    qtbot.addWidget(win)
    d = ExportDialog(win)
    qtbot.addWidget(d)
    choose(d.format, "png")
    assert not d.chapter.isEnabled()              # a still draws what the window shows
    choose(d.format, "gif")
    sc = win.scenario
    ch = sc.chapters[3]
    d.chapter.setCurrentIndex(d.chapter.findText(ch.title, flags=QtCore.Qt.MatchFlag.MatchStartsWith))
    ticks = Timeline(sc)
    ticks.run_to_end()
    t = ticks.log.rows(0, len(ticks))["tick"]
    start, end = d.start.value(), d.end.value()
    assert start == int((t < ch.at).sum()) and end == int((t < sc.chapters[4].at).sum()) and start < end
    assert d.title.text() == ch.title
    d.fps.setValue(1)                             # no transition frames: one frame per event
    d.path.setText(str(tmp_path / "ch.gif"))
    d.export_btn.click()
    qtbot.waitUntil(lambda: d.job is None, timeout=60000)
    assert "Wrote" in d.status.text(), d.status.text()


def test_a_host_state_chapter_is_offered_as_the_window_lists_it(qtbot):
    """The picker offered only the authored chapters; the window's list has the host states too."""
    win = Window("balloon", 20)
    qtbot.addWidget(win)
    d = ExportDialog(win)
    qtbot.addWidget(d)
    choose(d.format, "gif")
    listed = Chapters.of(win.tl).summary()
    k = next(k for k, (_, title, _) in enumerate(listed) if title.startswith("Host state"))
    d.chapter.setCurrentIndex(d.chapter.findData(k))
    assert (d.start.value(), d.end.value()) == (listed[k][0] - 1, listed[k + 1][0] - 1)
    assert d.title.text() == listed[k][1] and d.chapter.count() == len(listed) + 1
