"""Sessions in the window: File > Save session gathers the view; the session drawn headless
gives the pixels of the window's own export of that view; opening it restores the view."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtCore

from vmmemviz.cli import main
from vmmemviz.model.config import session as SS
from vmmemviz.ui import session as SE
from vmmemviz.ui.appstate import Filters, groups
from vmmemviz.ui.exportdialog import ExportDialog
from vmmemviz.ui.mainwindow import MainWindow

REF = ("gp", 0, None, 3)


def make(qtbot, tmp_path, name="default"):
    s = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(name, s)
    qtbot.addWidget(w)
    w.anim.setValue(0)
    w.resize(1300, 850)
    w.show()
    qtbot.waitUntil(lambda: w.frame is not None, timeout=20000)
    return w


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))


def window_export(qtbot, w, path, region):
    """The window's own export of its picture (the export dialog, Ctrl+E)."""
    d = ExportDialog(w)
    qtbot.addWidget(d)
    d.format.setCurrentIndex(d.format.findData("png"))
    d.region.setCurrentIndex(d.region.findData(region))
    assert d.region.currentData() == region
    d.caption.setChecked(False)           # the session's figure defaults: legend, no caption, no title
    d.title.setText("")
    d.path.setText(str(path))
    d.export_btn.click()
    assert "Wrote" in d.status.text(), d.status.text()


@pytest.fixture
def shown(qtbot, wait_worker, tmp_path):
    """A window at event 40, light, a page inspected, zoomed in, filtered."""
    w = make(qtbot, tmp_path)
    w.set_theme("light")
    w.seek(40)
    qtbot.waitUntil(lambda: w.frame.pos == 40, timeout=20000)
    with wait_worker(w.worker.inspected, timeout=10000):
        w.state.select(REF)
    qtbot.waitUntil(lambda: bool(w.layer_view.chain), timeout=10000)
    w.state.set_filters(Filters(frozenset(groups()) - {"access"}, "share"))
    w.docks["plots"].toggleViewAction().trigger()          # close the plots
    yield w
    w.close()


@pytest.mark.parametrize("zoom", [False, True])
def test_a_saved_session_draws_the_pixels_of_the_window_s_export(qtbot, tmp_path, shown, zoom):
    w = shown
    if zoom:
        w.layer_view.zoom(2.5)
        w.layer_view.translate(40, -25)
    p = tmp_path / "view.vmmemviz"
    SE.save(w, p)
    s = SS.load(p)
    assert s.event == 40 and s.position["tick"] == w.frame.tick and s.view["theme"] == "light"
    assert s.ref == REF and s.filters == {"groups": sorted(set(groups()) - {"access"}), "text": "share"}
    assert "plots" not in s.view["panels"] and "events" in s.view["panels"]
    assert (s.region() is not None) == zoom
    window_export(qtbot, w, tmp_path / "window.png", "view" if zoom else None)
    assert main(["export", str(p), "--format", "png", "--out", str(tmp_path / "session.png")]) == 0
    a, b = pixels(tmp_path / "window.png"), pixels(tmp_path / "session.png")
    assert a.shape == b.shape and np.array_equal(a, b)


def test_opening_a_session_restores_the_view(qtbot, tmp_path, shown):
    w = shown
    w.layer_view.zoom(2.0)
    p = tmp_path / "view.vmmemviz"
    SE.save(w, p)
    saved = SS.load(p)
    other = make(qtbot, tmp_path, "allocation")
    other.set_theme("dark")
    said, say = [], other.message
    other.message = lambda rich, error=False: (said.append(rich), say(rich, error))
    other.open_scenario(str(p))
    qtbot.waitUntil(lambda: other.frame.pos == 40 and other.frame.vm_names == w.frame.vm_names, timeout=20000)
    # while it simulated up to the event the window said so; once there, that line is gone
    assert any("Opening the session at event 40:" in m for m in said)
    qtbot.waitUntil(lambda: not other.banner.isVisible(), timeout=10000)
    qtbot.waitUntil(lambda: not other.layer_view._fit and bool(other.layer_view.chain), timeout=10000)
    assert other.state.selection == REF and other.theme == "light"
    assert other.state.filters == w.state.filters and other.events.search.text() == "share"
    assert other.docks["plots"].isHidden() and not other.docks["events"].isHidden()
    assert other.windowTitle().startswith(w.scenario.name)
    again = SE.gather(other)
    assert again.position == saved.position and again.selection == saved.selection
    region, lv = saved.region(), other.layer_view

    def shown():
        """The saved region is in view and fills it along one axis (a view of another shape, as
        while the docks settle, shows more along the other; the edge of the scene may shift it)."""
        back = SE.gather(other).region()
        if back is None:
            return False
        (a0, b0, a1, b1), (c0, d0, c1, d1) = region, back
        inside = c0 < a0 + 0.02 and d0 < b0 + 0.02 and c1 > a1 - 0.02 and d1 > b1 - 0.02
        return inside and (abs((a1 - a0) - (c1 - c0)) < 0.02 or abs((b1 - b0) - (d1 - d0)) < 0.02)
    qtbot.waitUntil(shown, timeout=10000)

    def relaid(size):
        pic = lv.picture_rect()
        other.resize(*size)
        qtbot.waitUntil(lambda: lv.picture_rect() != pic, timeout=20000)
    # the view holds the region until the user moves it: a resize long after the window has
    # settled lays the picture out for a new shape, and the region shows again
    qtbot.wait(2000)
    relaid((1000, 850))
    qtbot.waitUntil(shown, timeout=10000)
    lv.zoom(1.5)                    # the user zooms: the hold ends, a new layout leaves the view be
    relaid((1300, 850))
    qtbot.wait(300)
    assert not shown()
    other.close()


def test_a_bad_session_is_one_line_in_a_message_box(qtbot, tmp_path, shown, monkeypatch):
    from PySide6 import QtWidgets
    said = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: said.append(a[2]))
    bad = tmp_path / "bad.vmmemviz"
    bad.write_text("format = 3\n")
    shown.open_scenario(str(bad))
    assert said == [f"{bad}: format: this session is format 3, written by a newer vmmemviz; "
                    "this one reads format 1 (update vmmemviz to open it)"]
    assert shown.frame.pos == 40


def test_compare_mode_is_saved_and_restored(qtbot, tmp_path, shown):
    from vmmemviz.ui import compare
    from vmmemviz.ui.comparestate import CompareState
    w = shown
    compare.start(w, CompareState.pair(w.scenario, ["Mem.ShareForceSalting=0"]))
    qtbot.waitUntil(lambda: w.comparison.frame_b is not None, timeout=20000)
    p = tmp_path / "cmp.vmmemviz"
    SE.save(w, p)
    s = SS.load(p)
    assert s.label == "Mem.ShareForceSalting = 0" and s.b.settings["Mem.ShareForceSalting"] == 0
    other = make(qtbot, tmp_path, "allocation")
    other.open_scenario(str(p))
    qtbot.waitUntil(lambda: other.comparison is not None and other.comparison.frame_b is not None
                    and other.frame.pos == 40, timeout=20000)
    assert other.comparison.state.label == w.comparison.state.label
    assert other.comparison.state.text_b == w.comparison.state.text_b
    assert main(["export", str(p), "--format", "png", "--out", str(tmp_path / "cmp.png")]) == 0
    assert pixels(tmp_path / "cmp.png").shape[1] == 1280
    other.close()


def test_vmmemviz_file_vmmemviz_opens_the_window_on_it(qtbot, tmp_path, monkeypatch):
    from PySide6 import QtWidgets
    p = tmp_path / "s.vmmemviz"
    assert main(["session", "default", "--at", "12", "--theme", "dark", "--out", str(p)]) == 0
    ini = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    monkeypatch.setattr(QtCore, "QSettings", lambda *a: ini)   # the window's settings, not the user's
    monkeypatch.setattr(QtWidgets.QApplication, "exec", lambda *a: 0)
    before = set(QtWidgets.QApplication.topLevelWidgets())
    assert main([str(p)]) == 0
    w = next(x for x in QtWidgets.QApplication.topLevelWidgets() if isinstance(x, MainWindow) and x not in before)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.frame is not None and w.frame.pos == 12, timeout=20000)
    assert w.theme == "dark" and w.scenario.path == str(p)
    w.close()


def test_a_bad_session_on_the_command_line_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.vmmemviz"
    bad.write_bytes(b"format = 1\n[scenario]\ntext = 7\n")
    assert main([str(bad)]) == 2
    assert capsys.readouterr().err == f"vmmemviz: {bad}: scenario.text: expected a string, got 7\n"


def test_a_session_that_cannot_be_saved_is_a_message_and_the_window_keeps_its_work(qtbot, tmp_path, monkeypatch):
    """File > Save session onto a folder, into a missing folder or under a name whose temp
    file is too long: a message box naming the file and what is wrong (out_file's line; it was
    "[Errno 21] Is a directory: '.taken.vmmemviz.1234abcd.part' -> ..."), nothing written, the
    window as it was."""
    from PySide6 import QtWidgets
    w = make(qtbot, tmp_path)
    w.seek(12)
    qtbot.waitUntil(lambda: w.frame.pos == 12, timeout=20000)
    (tmp_path / "taken.vmmemviz").mkdir()
    said = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: said.append(a[2]))
    for target, needle in (("taken.vmmemviz", "a folder is there"),
                           ("no/s.vmmemviz", f"no such folder {tmp_path / 'no'}"),
                           ("n" * 240 + ".vmmemviz", "File name too long")):
        path = str(tmp_path / target)
        monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, p=path: (p, SE.FILTER))
        SE.save_dialog(w)
        assert said == [f"Save session: cannot write {path}: {needle}"], said
        said.clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.ini", "taken.vmmemviz"]
    assert w.frame.pos == 12 and w.scenario.name
    w.close()
