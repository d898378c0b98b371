"""The side panels on real frames of the built-in "default" scenario (offscreen, pytest-qt)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from vmmemviz.engine.worker import build_frame
from vmmemviz.model.core import events as E
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.config import scenario
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.config import settings as S
from vmmemviz.model.core import vm as V
from vmmemviz.model.views.pageinfo import inspect
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.scene import palette as P
from vmmemviz.ui import help as H
from vmmemviz.ui.counters import CountersPanel, FreeGauge, fmt
from vmmemviz.ui.eventlist import EventList
from vmmemviz.ui.inspector import InspectorPanel
from vmmemviz.ui.plots import PlotsPanel
from vmmemviz.ui.settingsdialog import SettingsDialog

TICKS = 60


@pytest.fixture(scope="module")
def tl():
    t = Timeline(scenario.load("default"))
    t.advance(TICKS)
    return t


@pytest.fixture(scope="module")
def names(tl):
    return [vm.name for vm in tl.sc.vms]


def grant_mb(vm) -> float:
    """GRANT recomputed from the page states: mapped and shared guest pages, in MB."""
    n = np.count_nonzero((vm.gp_state == V.MAPPED) | (vm.gp_state == V.SHARED))
    return round(n / V.PAGES_PER_MB, 2)


# -- counters -------------------------------------------------------------------------------
@pytest.mark.parametrize("pos", [1, 700, -1])
def test_counters_table_shows_the_frames_values(qtbot, tl, pos):
    pos = len(tl) if pos == -1 else pos
    panel = CountersPanel()
    qtbot.addWidget(panel)
    f = build_frame(tl, pos)
    panel.show_frame(f)
    m = panel.model
    assert m.names == list(f.vm_names)
    assert set(m.columns) == set(f.counters["vms"][f.vm_names[0]])
    for r, vm in enumerate(m.names):
        for c, key in enumerate(m.columns):
            assert m.data(m.index(r, c)) == fmt(f.counters["vms"][vm][key])
    g = m.columns.index("GRANT")
    for r, vm in enumerate(tl.view.vms):
        assert m.data(m.index(r, g)) == fmt(grant_mb(vm))
    assert panel.host_values["free_mb"].text() == f"{f.counters['host']['free_mb']:,.2f} MB"
    assert panel.state_label.text().strip() == f.counters["host"]["state"]


def test_counters_group_new_and_unknown_columns(qtbot, tl):
    panel = CountersPanel()
    qtbot.addWidget(panel)
    f = build_frame(tl, 300)
    vms = {n: {"FOO/s": 1.5, **c} for n, c in f.counters["vms"].items()}
    panel.show_frame(dataclasses.replace(f, counters={**f.counters, "vms": vms}))
    cols, groups = panel.model.columns, panel.header.groups
    assert cols[0] == "MEMSZ" and "FOO/s" == cols[-1] and groups[-1] == "other"
    assert groups == sorted(groups, key=["mem", "tps", "mctl", "swap", "zip", "mmu", "other"].index)
    i = cols.index("MCTLSZ")
    assert groups[i] == "mctl"
    assert "balloon" in panel.model.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert panel.model.headerData(i, Qt.Orientation.Horizontal) == "MCTLSZ\nMB"
    assert panel.model.headerData(cols.index("FOO/s"), Qt.Orientation.Horizontal) == "FOO/s\nMB/s"
    g = cols.index("GRANT")         # figures that grow widen their column (and it never shrinks back)
    narrow = panel.table.columnWidth(g)
    big = {n: {**c, "GRANT": 12345.67} for n, c in vms.items()}
    panel.show_frame(dataclasses.replace(f, counters={**f.counters, "vms": big}))
    wide = panel.table.columnWidth(g)
    assert wide > narrow and wide >= panel.table.fontMetrics().horizontalAdvance("12,345.67")
    panel.show_frame(dataclasses.replace(f, counters={**f.counters, "vms": vms}))
    assert panel.table.columnWidth(g) == wide


@pytest.mark.parametrize("model", ["esxi6", "esx4"])
def test_gauge_thresholds_are_the_model_states(qtbot, tl, model):
    panel = CountersPanel()
    qtbot.addWidget(panel)
    panel.set_settings({"Sim.StateModel": model})
    f = build_frame(tl, 500)
    panel.show_frame(f)
    managed = f.counters["host"]["managed_mb"]
    minfree = states.minfree_mb(managed)
    expect = states.thresholds_mb(model, managed, minfree)
    lines = dict(panel.gauge.lines)
    if model == "esxi6":
        assert [lines[s] for s in ("clear", "soft", "hard", "low")] == pytest.approx(expect)
        assert lines["high"] == pytest.approx(4 * minfree)
    else:
        assert "clear" not in lines
        assert [lines[s] for s in ("soft", "hard", "low")] == pytest.approx(expect[1:])
    assert panel.gauge.free == f.counters["host"]["free_mb"]
    # the thresholds sit left to right in falling order on the gauge
    xs = [panel.gauge.x_of(mb) for _, mb in panel.gauge.lines]
    assert xs == sorted(xs, reverse=True)


# -- plots ----------------------------------------------------------------------------------
def test_plots_one_point_per_tick_and_incremental(qtbot, tl, names):
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    curves = None
    for pos in (200, 900, len(tl)):
        f = build_frame(tl, pos)
        panel.show_frame(f)
        n = len(f.history)
        x, y = panel.free_curve.getOriginalDataset()
        assert len(x) == n and list(x) == [h["tick"] for h in f.history]
        assert list(y) == [h["host"]["free_mb"] for h in f.history]
        for vm in names:
            gx, gy = panel.curves[("Consumed", vm)].getOriginalDataset()
            assert len(gx) == n and list(gy) == [h["vms"][vm]["GRANT"] for h in f.history]
        assert all(c.value() == f.tick for c in panel.cursors)
        if curves is not None:   # the items made for the first frame are kept
            assert all(panel.curves[k] is c for k, c in curves.items())
        curves = dict(panel.curves)
    f = build_frame(tl, 200)    # a seek back: the frame's history ends at its tick
    panel.show_frame(f)
    assert len(panel.free_curve.getOriginalDataset()[0]) == len(f.history)
    assert all(panel.curves[k] is c for k, c in curves.items())


def dark_palette() -> QtGui.QPalette:
    pal = QtGui.QPalette()
    for role, colour in ((QtGui.QPalette.ColorRole.Window, "#23272E"), (QtGui.QPalette.ColorRole.Base, "#1B1E23"),
                         (QtGui.QPalette.ColorRole.WindowText, "#E6E8EB"), (QtGui.QPalette.ColorRole.Text, "#E6E8EB")):
        pal.setColor(role, QtGui.QColor(colour))
    return pal


def test_plots_follow_a_new_run_and_the_palette(qtbot, tl):
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    f = build_frame(tl, 600)
    panel.show_frame(f)
    rerun = tuple({**h, "host": {**h["host"], "free_mb": 1.0}} for h in f.history)   # same names, new dicts
    panel.show_frame(dataclasses.replace(f, history=rerun))
    assert set(panel.free_curve.getOriginalDataset()[1]) == {1.0}
    panel.setPalette(dark_palette())
    assert panel.view.backgroundBrush().color().name() == "#1b1e23"
    assert panel.free_curve.opts["pen"].color().name() == "#e6e8eb"
    assert len(panel.free_curve.getOriginalDataset()[0]) == len(rerun)


def test_plots_read_out_the_figures_under_the_pointer(qtbot, tl, names):
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    f = build_frame(tl, len(tl))
    panel.show_frame(f)
    h = next(h for h in f.history if h["tick"] == 30)
    panel._hover(panel.plots["Consumed"].vb.mapViewToScene(QtCore.QPointF(30.2, 1)))
    text = panel.readout.text()
    assert text.startswith("t = 30 s · Consumed")
    assert all(f"{vm} <b>{h['vms'][vm]['GRANT']:,.2f}</b>" in text for vm in names)
    panel._hover(panel.host_plot.vb.mapViewToScene(QtCore.QPointF(29.8, 1)))
    assert f"free <b>{h['host']['free_mb']:,.2f}</b> MB" in panel.readout.text()


def test_plots_threshold_lines(qtbot, tl):
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    f = build_frame(tl, 400)
    panel.show_frame(f)
    managed = f.counters["host"]["managed_mb"]
    minfree = states.minfree_mb(managed)
    got = [(line.toolTip().split(":")[0], line.value()) for line in panel._threshold_items]
    assert [n for n, _ in got] == ["high", "clear", "soft", "hard", "low"]
    assert [v for _, v in got] == pytest.approx([4 * minfree] + states.thresholds_mb("esxi6", managed, minfree))


def test_plots_show_a_metric_once_it_is_nonzero(qtbot, tl):
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    f = build_frame(tl, len(tl))
    zero = tuple({**h, "vms": {v: {**c, "SWCUR": 0.0} for v, c in h["vms"].items()}} for h in f.history)
    panel.show_frame(dataclasses.replace(f, history=zero[:-1]))
    assert "Swapped" not in panel.plots and "Consumed" in panel.plots
    some = zero[:-1] + ({**zero[-1], "vms": {v: {**c, "SWCUR": 0.5} for v, c in zero[-1]["vms"].items()}},)
    panel.show_frame(dataclasses.replace(f, history=some))
    _, y = panel.curves[("Swapped", f.vm_names[0])].getOriginalDataset()
    assert len(y) == len(some) and y[-1] == 0.5 and not y[:-1].any()


# -- event list -----------------------------------------------------------------------------
def test_event_list_follows_frames_and_seeks(qtbot, tl, names):
    w = EventList()
    qtbot.addWidget(w)
    w.resize(900, 400)
    w.show()
    w.set_source(tl.log, names)
    f = build_frame(tl, 120)
    w.show_frame(dataclasses.replace(f, total=150))   # the log as the simulation had it
    assert w.model.rowCount() == 150
    assert w.view.currentIndex().row() == 119
    f = build_frame(tl, 1000)
    w.show_frame(f)
    assert w.model.rowCount() == f.total == len(tl)
    assert w.view.currentIndex().row() == 999
    assert w.view.selectionModel().isRowSelected(999, QtCore.QModelIndex())
    ix = w.model.index(995, 3)
    assert ix.data() == E.narrate(tl.log[995], names)
    assert w.model.index(995, 2).data() == E.KINDS[int(tl.log[995]["kind"])].name
    with qtbot.waitSignal(w.seekRequested) as sig:
        qtbot.mouseClick(w.view.viewport(), Qt.MouseButton.LeftButton, pos=w.view.visualRect(ix).center())
    assert sig.args == [996]


def test_event_list_filters(qtbot, tl, names):
    w = EventList()
    qtbot.addWidget(w)
    w.set_source(tl.log, names)
    f = build_frame(tl, 800)
    w.show_frame(dataclasses.replace(f, total=1200))     # the log as far as the simulation had it
    kinds = tl.log.rows(0, len(tl))["kind"]
    access = E.BY_NAME["ACCESS"].code
    w.buttons["access"].setChecked(False)
    assert w.model.rowCount() == int(np.count_nonzero(kinds[:1200] != access)) > 0
    assert all(w.model.index(r, 2).data() != "ACCESS" for r in range(0, w.model.rowCount(), 7))
    cur = w.view.currentIndex().row()    # the nearest shown event at or before the current one
    assert w.model.log_index(cur) <= 799 < w.model.log_index(cur + 1)
    w.show_frame(f)                      # the log grew while the filter is on: new rows are filtered too
    assert w.model.rowCount() == int(np.count_nonzero(kinds != access))
    w.search.setText("win01")
    w._filter_changed()
    qtbot.waitUntil(lambda: w.model.scanned == w.model.total, timeout=10000)
    expect = [i for i in range(f.total) if kinds[i] != access and "win01" in E.narrate(tl.log[i], names)]
    assert [w.model.log_index(r) for r in range(w.model.rowCount())] == expect
    assert f"{len(expect):,} of" in w.status.text()
    w.buttons["access"].setChecked(True)
    w.search.setText("")
    w._filter_changed()
    assert w.model.rowCount() == f.total


# -- inspector ------------------------------------------------------------------------------
def test_inspector_chain_content_and_history(qtbot, tl, names):
    tl.seek(len(tl))
    vm = tl.view.vms[0]
    proc = vm.procs[0]
    gvpn = int(np.flatnonzero(proc.pt_state == G.RESIDENT)[0])
    gppn = int(proc.pt[gvpn])
    assert vm.gp_state[gppn] in (V.MAPPED, V.SHARED)      # a page we know is backed
    mpn = int(vm.gp_loc[gppn])
    info = inspect(tl.view, tl.log.rows(0, tl.pos), ("gv", 0, 0, gvpn), names)
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    panel.set_source(tl.log, names)
    hidden = (panel.sharers_label, panel.history_label, panel.history)
    assert not any(w.isVisibleTo(panel) for w in hidden)        # no page: no "Not shared", no history
    panel.show_inspection(info)
    assert all(w.isVisibleTo(panel) for w in hidden)
    assert [b.text() for b in panel.links] == [f"GVPN 0x{gvpn:x}", f"GPPN 0x{gppn:x}", f"MPN 0x{mpn:x}"]
    theme = "dark" if panel.palette().color(QtGui.QPalette.ColorRole.Window).lightnessF() < 0.5 else "light"
    colour = P.colour(P.SHARED if vm.gp_state[gppn] == V.SHARED else
                      P.vm_code(0, info["content_class"] == "zero"), theme).lower()
    assert all(f"solid {colour}" in b.styleSheet().lower() for b in panel.links)   # as the layer view
    assert info["content_class"] in panel.content.text() and info["hash"] in panel.content.text()
    with qtbot.waitSignal(panel.referenceClicked) as sig:
        qtbot.mouseClick(panel.links[2], Qt.MouseButton.LeftButton)
    assert sig.args == [("mp", None, None, mpn)]
    assert panel.history.count() == len(info["history"]) > 0
    first = info["history"][0]
    item = panel.history.item(0)
    assert E.narrate(tl.log[first], names) in item.text()
    with qtbot.waitSignal(panel.seekRequested) as sig:
        panel.history.itemClicked.emit(item)
    assert sig.args == [first + 1]
    panel.setPalette(dark_palette())     # a theme change: links drawn again in the new colours
    assert "#e6e8eb" in panel.links[0].styleSheet() and len(panel.links) == 3


def test_inspector_sharers(qtbot, tl, names):
    tl.seek(len(tl))
    vm = next(v for v in tl.view.vms if np.any(v.gp_state == V.SHARED))
    gppn = int(np.flatnonzero(vm.gp_state == V.SHARED)[0])
    info = inspect(tl.view, tl.log.rows(0, tl.pos), ("gp", vm.index, None, gppn), names)
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    panel.set_source(tl.log, names)
    panel.show_inspection(info)
    assert panel.sharers.count() == len(info["sharers"]) >= 2
    assert all(f"solid {P.colour(P.SHARED).lower()}" in b.styleSheet().lower() for b in panel.links)
    it = panel.sharers.item(1)
    with qtbot.waitSignal(panel.referenceClicked) as sig:
        panel.sharers.itemClicked.emit(it)
    v, g = info["sharers"][1]
    assert sig.args == [("gp", v, None, g)] and f"0x{g:x}" in it.text()


# -- settings dialog ------------------------------------------------------------------------
def test_settings_dialog_round_trip_and_reset(qtbot):
    sc = scenario.load("default")
    sc.vms[1].settings["sched.mem.maxmemctl"] = 2
    d = SettingsDialog(sc)
    qtbot.addWidget(d)
    names = [vm.name for vm in sc.vms]
    assert {n for _, n in d.host.editors} == set(S.HOST_SETTINGS)
    assert d.changed_settings() == ({"Mem.ShareForceSalting": 0},
                                    {"web01": {}, "web02": {"sched.mem.maxmemctl": 2}, "win01": {}})
    item, ed = d.host.editors[("Mem", "Mem.IdleTax")]
    assert not item.font(0).bold()
    ed.set_value(50)
    assert item.font(0).bold()
    d.vms.editors[("win01", "sched.mem.pshare.enable")][1].set_value(False)
    d.vms.editors[("web02", "sched.mem.maxmemctl")][1].set_value(None)     # back to unset
    d.host.editors[("Mem", "Mem.ShareForceSalting")][1].set_value(S.HOST_SETTINGS["Mem.ShareForceSalting"][0])
    host, vms = d.changed_settings()
    assert host == {"Mem.IdleTax": 50}
    assert vms == {"web01": {}, "web02": {}, "win01": {"sched.mem.pshare.enable": False}}
    # what it returns is valid for the scenario parser
    for k, v in host.items():
        S.check(S.HOST_SETTINGS, k, v, "test")
    d.reset()
    assert d.changed_settings() == ({}, {n: {} for n in names})
    assert not item.font(0).bold()


# -- help -----------------------------------------------------------------------------------
def _plain(html: str) -> str:
    doc = QtGui.QTextDocument()
    doc.setHtml(html)
    return " ".join(doc.toPlainText().split())


def test_help_reaches_every_guide_paragraph(qtbot):
    d = H.HelpDialog(None)
    qtbot.addWidget(d)
    assert d.pages[0][0] == "Overview"
    pages = [_plain(h) for _, h in d.pages]
    paras = [" ".join(p.split()) for p in H.GUIDE.read_text(encoding="utf-8").splitlines() if p.strip()]
    assert len(paras) > 50
    missing = [p for p in paras if not any(p in page for page in pages)]
    assert missing == []
    assert d.list.count() == len(d.pages) == 1 + len(H.SECTIONS)


def test_help_on_a_kind(qtbot):
    d = H.show_help("BALLOON_PIN", None)
    qtbot.addWidget(d)
    title, html = d.pages[0]
    assert title == "Event: BALLOON_PIN"
    text = _plain(html)
    assert _plain(E.BY_NAME["BALLOON_PIN"].help) in text
    assert "Provided VMware tools is installed" in text          # the guide's ballooning section
    assert "Mem.CtlMaxPercent" in text and "MCTLSZ" in text       # the knob and the counter
    assert d.browser.toPlainText().startswith("■ BALLOON_PIN")
    # every kind maps to a section; unknown kinds give the overview
    assert all(H.sections_of(k) for k in E.KINDS.values())
    assert H.HelpDialog("NO_SUCH_KIND").pages[0][0] == "Overview"


def test_help_keeps_one_window_per_parent(qtbot):
    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    first = H.show_help("ACCESS", parent)
    second = H.show_help(None, parent)
    assert not first.isVisible() and second.isVisible()
    assert [w for w in parent.findChildren(H.HelpDialog) if w.isVisible()] == [second]


def test_threshold_labels_stay_off_the_curves(qtbot, tl):
    """The state names are on the host plot's right axis, not text drawn over the curves;
    thresholds closer than a line of text share one label."""
    import pyqtgraph as pg
    p = PlotsPanel()
    qtbot.addWidget(p)
    p.resize(500, 700)
    p.show()
    p.show_frame(build_frame(tl, 1000))
    inside = [i for i in p.host_plot.vb.allChildren() if isinstance(i, (pg.TextItem, pg.InfLineLabel))]
    assert inside == []
    ticks = p.host_plot.getAxis("right")._tickLevels[0]
    named = "…".join(label for _, label in ticks).split("…")
    assert set(named) <= {name for name, _ in p._thresholds} and "high" in named and len(ticks) >= 2
    widths = {plot.getAxis("right").width() for plot in p.plots.values()}
    assert len(widths) == 1                 # the time axes line up
    p._label_thresholds(1e6)            # a huge range: every threshold within a pixel, one label
    assert len(p.host_plot.getAxis("right")._tickLevels[0]) == 1


def test_plots_in_a_hidden_tab_draw_when_shown(qtbot, tl):
    """Behind another tab the plots keep the history but draw no curves; shown, they draw."""
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    panel.show_frame(build_frame(tl, 300))
    panel.set_shown(False)
    f = build_frame(tl, 900)
    panel.show_frame(f)
    assert len(panel.free_curve.getOriginalDataset()[0]) < len(f.history)      # not drawn
    panel.set_shown(True)
    x, y = panel.free_curve.getOriginalDataset()
    assert list(x) == [h["tick"] for h in f.history] and list(y) == [h["host"]["free_mb"] for h in f.history]


def test_the_gauge_always_shows_minfree_under_clear(qtbot):
    """At host scale the thresholds crowd the gauge's low end; clear's value, minFree, is the
    one that keeps its room (the others are shares of it), and large values are whole MB."""
    g = FreeGauge()
    qtbot.addWidget(g)
    g.resize(480, 64)
    for managed in (32.0, 4096.0, 65536.0, 262144.0):
        minfree = states.minfree_mb(managed)
        lines = [("high", 4 * minfree)] + list(zip(("clear", "soft", "hard", "low"),
                                                 states.thresholds_mb("esxi6", managed, minfree)))
        g.set_values(managed / 2, managed, lines, "high")
        shown = {name: text for name, text, _ in g.values()}
        assert shown["clear"] == (f"{minfree:,.0f}" if minfree >= 100 else f"{minfree:,.2f}")
        assert len(shown) >= 3
        left = sorted(x for _, _, x in g.values())
        assert all(b - a > 10 for a, b in zip(left, left[1:]))     # no two overlap


def test_host_figures_are_whole_mb_from_1000_mb():
    from vmmemviz.ui.counters import mb_text
    assert [mb_text(v) for v in (262144.0, 3235.0, 1000.0, 999.5, 1.92, 7)] == \
        ["262,144", "3,235", "1,000", "999.50", "1.92", "7"]


def test_a_256_gib_hosts_block_fits_the_panels_least_width(qtbot, tl):
    """The datacenter's host figures (262,144 MB managed and free, minfree 3,235 MB, max
    298,189 MB) fit the counters' host block into the panels' least width, with room for the
    dock's margins and scroll bar: none is cut at the panel's edge."""
    from vmmemviz.ui.mainwindow import PANELS_MIN_W
    panel = CountersPanel()
    qtbot.addWidget(panel)
    f = build_frame(tl, len(tl))
    big = {"managed_mb": 262144.0, "free_mb": 262144.0, "minfree_mb": 3235.0, "memctl_max_mb": 298189.0}
    host = {k: (big.get(k, 1000.0 * v + 123456.78) if isinstance(v, float) else v)
            for k, v in f.counters["host"].items()}
    panel.show_frame(dataclasses.replace(f, counters={**f.counters, "host": host}))
    box = panel.layout().itemAt(0).widget()
    assert box.minimumSizeHint().width() <= PANELS_MIN_W - 24


def test_compare_and_rerun_name_host_counters_as_esxtop_does(qtbot):
    """The compare panel and a re-run's message name a host counter by its esxtop block and
    label (PMEM/MB free, PSHARE/MB shared), not by its key (host free_mb)."""
    from vmmemviz.ui.compare import CompareCounters
    from vmmemviz.ui.settingsdialog import changes_html
    panel = CompareCounters()
    qtbot.addWidget(panel)
    a = {"host": {"free_mb": 10.62, "pshare_shared_mb": 0.18}, "vms": {"lin01": {"SHRD": 0.06}}}
    b = {"host": {"free_mb": 10.57, "pshare_shared_mb": 0.11}, "vms": {"lin01": {"SHRD": 0.04}}}
    panel.show_counters(a, b)
    names = [panel.table.item(i, 0).text() for i in range(panel.table.rowCount())]
    assert names == ["PMEM/MB free", "PSHARE/MB shared", "lin01 SHRD"]
    text = changes_html(["Mem.ShareForceSalting=2"], [("host", "free_mb", 10.62, 10.57)], 5)
    assert "PMEM/MB free" in text and "free_mb" not in text
