"""The export dialog's chapter picker: a tour's chapter as the animated range."""
from vmmemviz.export import render
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
    d.chapter.setCurrentIndex(d.chapter.findData(3))
    ticks = Timeline(sc)
    ticks.run_to_end()
    t = ticks.log.rows(0, len(ticks))["tick"]
    start, end = d.start.value(), d.end.value()
    assert start == int((t < ch.at).sum()) and end == int((t < sc.chapters[4].at).sum()) and start < end
    assert d.title.text() == ch.title
    assert render.chapter_start(ticks, sc.chapters[0]) == 0
    d.path.setText(str(tmp_path / "ch.gif"))
    d.export_btn.click()
    qtbot.waitUntil(lambda: d.job is None, timeout=60000)
    assert "Wrote" in d.status.text(), d.status.text()
