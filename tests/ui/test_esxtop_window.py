"""The esxtop capture window: VMs first, units, state pill and gauge agreeing, real time,
one sample drawn as points, every control inside 1280x800, calibration from the window."""
from __future__ import annotations

import tomllib

import pyqtgraph as pg
from PySide6 import QtCore

from tests.importers.test_esxtop import VMS6, field_capture
from vmmemviz.importers.esxtop import BANDS, fits, read_esxtop
from vmmemviz.model.reclaim.freestates import band
from vmmemviz.ui.esxtopwindow import CaptureWindow


def _window(qtbot, tmp_path, samples=3, **kw):
    p = tmp_path / "field.csv"
    field_capture(p, samples=samples, **kw)
    w = CaptureWindow(read_esxtop(p))
    qtbot.addWidget(w)
    return w


def test_vms_first_units_and_one_host_value_each(qtbot, tmp_path):
    w = _window(qtbot, tmp_path)
    names = [w.table.item(r, 0).text() for r in range(w.table.rowCount())]
    assert names[:6] == list(VMS6) and "hostd" in names[6:]
    heads = [w.table.horizontalHeaderItem(c).text() for c in range(w.table.columnCount())]
    assert "MEMSZ\nMB" in heads and "MEMBERS\ncount" in heads and "MCTL?\nY/N" in heads
    col = heads.index("MCTL?\nY/N")
    assert w.table.item(names.index("db01"), col).text() == "N"
    assert w.table.item(names.index("web01"), col).text() == "Y"
    assert list(w.host_values).count("free_mb") == 1 and "free" not in w.host_values
    assert w.host_values["system_mb"].text() == "268.00 MB"
    shown = [w.host_grid.itemAtPosition(i // 4, (i % 4) * 2).widget().text() for i in range(len(w.host_values))]
    assert {"VMKMEM minfree", "PSHARE/MB saving", "Machine"} <= set(shown)     # esxtop's words
    assert not any("_" in t for t in shown), shown
    assert w.vm_list.item(0).checkState() == QtCore.Qt.CheckState.Checked
    assert w.vm_list.item(6).checkState() == QtCore.Qt.CheckState.Unchecked
    assert "\n" not in w.windowTitle() and "6 VMs, 9 system groups" in w.windowTitle()


def test_pill_and_gauge_agree(qtbot, tmp_path):
    """The gauge tints the pill's state's zone, with the hysteresis of docs/fidelity.md: a 6.x
    host in clear at 146% of minFree (after reclamation) and at 80% (on the way down)."""
    for free, state, want in ((590.0, 1, "clear"), (322.0, 1, "clear"), (50.0, 4, "low"),
                              (300.0, 2, "soft"), (200.0, 3, "hard")):
        w = _window(qtbot, tmp_path, free=free, state=state)
        assert w.state_label.text().strip() == want
        g = w.gauge
        assert g.state == want and w.cap.esxi == "6.x"
        lo, hi = band(g.lines, want)           # the zone the gauge tints
        assert lo <= g.free < hi and fits("6.x", want, g.free, 403)
        assert [n for n, _ in g.lines] == [n for n, _ in BANDS["6.x"]]


def test_real_time_and_one_sample_as_points(qtbot, tmp_path):
    w = _window(qtbot, tmp_path, samples=1)
    assert isinstance(w.host_plot.getAxis("bottom"), pg.DateAxisItem)
    items = w.host_plot.listDataItems()
    assert items and all(i.opts["symbol"] is not None for i in items if i.name() != "minFree")
    x, y = items[0].getData()
    assert len(x) == 1 and x[0] == w.cap.times[0].astype("datetime64[s]").astype(int)
    lo, hi = w.host_plot.viewRange()[0]
    assert lo < x[0] < hi and hi - lo < 120
    assert len(w.vm_plot.listDataItems()) == 6            # the VMs, not the system groups


def test_every_control_on_screen(qtbot, tmp_path):
    w = _window(qtbot, tmp_path)
    w.show()
    qtbot.waitExposed(w)
    assert (w.width(), w.height()) == (1280, 800)
    for c in (w.slider, w.calibrate_button, w.vm_counter, w.vm_list, w.table, w.gauge):
        r = QtCore.QRect(c.mapTo(w, QtCore.QPoint(0, 0)), c.size())
        assert c.isVisible() and w.rect().contains(r), (c, r)


def test_calibrate_from_the_window(qtbot, wait_worker, tmp_path):
    """A small simulated capture calibrated from the window (one simulator run)."""
    from vmmemviz.cli import main

    cap = tmp_path / "run.csv"
    assert main(["run", "default", "--ticks", "20", "--esxtop", str(cap)]) == 0
    w = CaptureWindow(read_esxtop(cap))
    qtbot.addWidget(w)
    out = tmp_path / "cal.toml"
    with wait_worker(w._worker.done, timeout=120_000):
        w.calibrate(str(out), rounds=1)
    sc = tomllib.loads(out.read_text())
    assert [v["name"] for v in sc["vm"]] == list(w.cap.vms)
    assert w.calibrate_button.isEnabled() and "Saved" in w.status.text()
    assert "capture" in w.compare_text.toPlainText() and "web01 GRANT" in w.compare_text.toPlainText()


def test_file_export_esxtop_csv(qtbot, tmp_path, monkeypatch):
    """File > Export esxtop CSV… writes the run so far; it reads back as its counters."""
    from PySide6 import QtWidgets

    from vmmemviz.ui.mainwindow import MainWindow

    s = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow("default", s)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.frame is not None, timeout=10000)
    w.seek(400)
    qtbot.waitUntil(lambda: w.frame.pos == 400 and len(w.frame.history) >= 2, timeout=20000)
    out = tmp_path / "run.csv"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    act = next(a for a in w.menuBar().actions()[0].menu().actions() if a.text() == "Export esxtop CSV…")
    act.trigger()
    cap = read_esxtop(out)
    assert cap.samples == len(w.frame.history) and list(cap.vms) == list(w.frame.vm_names)
    last = w.frame.history[-1]
    assert cap.sample()["vms"]["web01"]["GRANT"] == last["vms"]["web01"]["GRANT"]
    w.close()


def test_calibrate_onto_a_folder_is_refused_before_the_search(qtbot, tmp_path):
    """Save calibrated scenario onto a folder: one line in the status bar, no search started."""
    w = _window(qtbot, tmp_path)
    assert w.calibrate(str(tmp_path), rounds=1) is None
    assert "Save calibrated scenario" in w.status.text() and "folder" in w.status.text()
    assert w.calibrate_button.isEnabled()


def test_calibration_kept_when_its_file_cannot_be_written(qtbot, wait_worker, tmp_path):
    """The target's folder gone during the search: the status says so in one line, the table
    shows, and Save scenario as… writes the same calibration elsewhere (the search is not lost)."""
    import shutil

    from vmmemviz.cli import main

    cap = tmp_path / "run.csv"
    assert main(["run", "default", "--ticks", "20", "--esxtop", str(cap)]) == 0
    w = CaptureWindow(read_esxtop(cap))
    qtbot.addWidget(w)
    gone = tmp_path / "gone"
    gone.mkdir()
    with wait_worker(w._worker.done, timeout=120_000):
        w.calibrate(str(gone / "cal.toml"), rounds=1)
        shutil.rmtree(gone)
    assert "cannot write" in w.status.text() and "Save scenario as" in w.status.text()
    assert not gone.exists() and "web01 GRANT" in w.compare_text.toPlainText()
    again = tmp_path / "again.toml"
    assert w.save_calibrated(str(again))
    assert tomllib.loads(again.read_text())["vm"] and "Saved" in w.status.text()
    before = cap.read_bytes()                     # Save scenario as… onto the capture: refused as Calibrate does
    assert not w.save_calibrated(str(cap)) and "is the input" in w.status.text() and cap.read_bytes() == before


def test_calibrate_onto_its_own_capture_is_refused(qtbot, tmp_path):
    """The capture chosen as the target would be overwritten after the search, as the CLI's
    calibrate --out refuses."""
    w = _window(qtbot, tmp_path)
    before = (tmp_path / "field.csv").read_bytes()
    assert w.calibrate(str(tmp_path / "field.csv"), rounds=1) is None
    assert "Save calibrated scenario" in w.status.text() and (tmp_path / "field.csv").read_bytes() == before


def test_the_host_plot_draws_each_mechanism_in_the_windows_colour():
    from vmmemviz.scene import palette as P
    from vmmemviz.ui.esxtopwindow import HOST_PLOT
    colour = {label: c for _, label, c, _ in HOST_PLOT}
    assert (colour["Memctl"], colour["Swap"], colour["PShare saving"]) == \
        (P.COMMON[P.BALLOON], P.COMMON[P.SWAP], P.COMMON[P.SHARED])
    assert colour["Zip"] == P.GROUP_COLOURS["zip"]


def test_a_long_capture_marks_each_series_with_its_own_symbol_not_every_sample(qtbot, tmp_path):
    """150 samples drew 150 symbols a series, one thick smear in which Memctl's amber and
    PShare's yellow read alike: each series has a symbol of its own, at most MARKS of them,
    and its line still goes through every sample; the legend shows line and symbol."""
    from vmmemviz.ui.esxtopwindow import MARKS
    w = _window(qtbot, tmp_path, samples=150)
    items = w.host_plot.listDataItems()
    lines = [i for i in items if i.opts["pen"] is not None and i.opts["symbol"] is None]
    marks = [i for i in items if i.opts["pen"] is None]
    assert {len(i.getData()[0]) for i in lines} == {150}
    assert marks and all(len(i.getData()[0]) <= MARKS for i in marks)
    symbols = [i.opts["symbol"] for i in marks]
    assert len(set(symbols)) == len(symbols)             # one shape a mechanism
    legend = {label.text: sample.item.opts["symbol"] for sample, label in w.host_plot.plotItem.legend.items}
    assert legend["Memctl"] != legend["PShare saving"] and legend["Memctl"] is not None
    assert all(len(i.getData()[0]) <= MARKS for i in w.vm_plot.listDataItems() if i.opts["symbol"] is not None)
