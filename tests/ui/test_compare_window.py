"""Compare mode in the window, off-screen: two runs aligned by simulated time, counters A | B | Δ,
differing pages marked, and back to one run."""
import numpy as np
import pytest
from PySide6 import QtCore

from vmmemviz.cli import parser
from vmmemviz.model.config import compare as C
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.scene.compare import diff_frames, position_at
from vmmemviz.ui import compare
from vmmemviz.ui.comparestate import CompareState
from vmmemviz.ui.mainwindow import MainWindow


@pytest.fixture
def win(qtbot, tmp_path):
    """The tps tour at 1280x800, its own settings file."""
    w = MainWindow("tps", QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.setGeometry(0, 0, 1280, 800)
    w.show()
    qtbot.waitUntil(lambda: w.frame is not None, timeout=10000)
    yield w
    w.close()


def settle(qtbot, w, pos):
    """Run A at ``pos`` and run B aligned with it."""
    qtbot.waitUntil(lambda: w.frame.pos == pos and w.comparison.aligned()
                    and w.comparison.frame_b is not None, timeout=20000)


def from_cli(argv) -> CompareState:
    args = parser().parse_args(["gui", *argv])
    return CompareState.pair(SC.load(args.scenario), args.compare_set, args.compare)


def test_compare_set_opens_two_runs_aligned_by_time(qtbot, win):
    w = win
    cmp = compare.start(w, from_cli(["tps", "--compare-set", "Mem.ShareForceSalting=0"]))
    assert cmp.state.label == "Mem.ShareForceSalting = 0" and cmp.view_b.isVisible()
    # run A's head names the same setting, with its value in A (as the figures do)
    assert "A</b> Mem.ShareForceSalting = 1 ·" in cmp.head_a.text()
    assert "B</b> Mem.ShareForceSalting = 0 ·" in cmp.head_b.text()
    assert SC.parse(cmp.state.text_b).settings["Mem.ShareForceSalting"] == 0
    for pos in (400, 150):                      # forwards and back: B follows A's simulated second
        w.seek(pos)
        settle(qtbot, w, pos)
        fa, fb = w.frame, cmp.frame_b
        tick, share = compare.moment(w.state.log, fa)     # B: the same share of the same second
        tl = Timeline(cmp.state.scenario_b())
        end = position_at(tl, tick)
        start = int(np.searchsorted(tl.log.rows(0, end)["tick"], tick, side="left"))
        assert tick == fa.tick and 0 < share <= 1 and fb.pos == start + round(share * (end - start))
        assert fb.tick == fa.tick or fb.pos == start
        shown = {(r[0], r[1]): r[4] for r in cmp.counters.rows}
        want = C.delta(fa.counters, fb.counters)
        assert cmp.counters.delta == want
        assert all(shown[("host", k)] == v for k, v in want["host"].items())
        assert all(shown[(vm, k)] == v for vm, d in want["vms"].items() for k, v in d.items())
    w.step(1)
    settle(qtbot, w, 151)
    # salting 0 shares across VMs where salting 1 does not: pages differ, marked in both
    w.seek(800)
    settle(qtbot, w, 800)
    d = diff_frames(w.frame, cmp.frame_b)
    assert cmp.diff.pages == d.pages > 0 and f"{d.pages:,}</b> pages differ" in cmp.head_a.text()
    for view, masks in ((w.layer_view, d.a), (cmp.view_b, d.b)):      # outlined in both pictures
        assert set(view.picture.marks) == {k for k, m in masks.items() if m.count}
    assert cmp.counters.table.rowCount() > 0 and w.legend.marks       # the legend names the outline
    assert any(c.opts["pen"].style() == QtCore.Qt.PenStyle.DashLine for c in w.plots.other_curves.values())
    assert "B" in w.plots.legend.text()


def test_unchanged_copy_marks_nothing_and_closing_restores_one_run(qtbot, win):
    w = win
    sc = w.scenario
    cmp = compare.start(w, CompareState.of(sc, C.apply(sc.text, [C.parse_change("description=copy")]), "copy"))
    w.seek(300)
    settle(qtbot, w, 300)
    qtbot.waitUntil(lambda: bool(cmp.counters.rows), timeout=10000)
    assert cmp.frame_b.pos == w.frame.pos and cmp.diff.pages == 0
    assert not w.layer_view.picture.marks and not cmp.view_b.picture.marks
    assert all(d in (0, 0.0, None) for *_, d in cmp.counters.rows) and cmp.counters.table.rowCount() == 0
    qtbot.waitUntil(lambda: cmp.view_b.picture_rect() == w.layer_view.picture_rect(), timeout=10000)
    w.a_zin.trigger()                                                    # one zoom and pan for both
    cmp.view_b.horizontalScrollBar().setValue(cmp.view_b.horizontalScrollBar().value() + 7)
    assert cmp.view_b.transform() == w.layer_view.transform() and not cmp.view_b._fit
    assert abs(cmp.view_b.visible_rect().center().x() - w.layer_view.visible_rect().center().x()) < 0.5
    w.a_fit.trigger()                 # each fits its picture: the same once both are laid out alike
    qtbot.waitUntil(lambda: cmp.view_b._fit and cmp.view_b.picture_rect() == w.layer_view.picture_rect()
                    and cmp.view_b.transform() == w.layer_view.transform(), timeout=10000)
    assert cmp.split.orientation() == QtCore.Qt.Orientation.Horizontal     # side by side, or stacked
    w.a_compare_stacked.trigger()
    assert cmp.split.orientation() == QtCore.Qt.Orientation.Vertical
    w.a_close_compare.trigger()
    assert w.comparison is None and w.layer_view.isVisible()
    assert w.layer_view.parentWidget() is w.centralWidget() and not w.layer_view.picture.marks
    assert not w.legend.marks
    assert "dock_compare" not in [d.objectName() for d in w.findChildren(type(w.docks["events"])) if d.isVisible()]
    assert not w.plots.other_curves and "B" not in w.plots.legend.text().replace("&#", "")
    w.seek(10)
    qtbot.waitUntil(lambda: w.frame.pos == 10, timeout=10000)


def test_settings_dialog_compare_goes_through_compare_apply(qtbot, win):
    w = win
    vms = {vm.name: dict(vm.settings) for vm in w.scenario.vms}
    compare.with_settings(w, {**w.scenario.settings, "Mem.ShareForceSalting": 2}, vms)
    cmp = w.comparison
    assert cmp is not None and cmp.state.label == "Mem.ShareForceSalting = 2"
    assert cmp.state.text_b == C.apply_text(w.scenario.text, [C.parse_change("Mem.ShareForceSalting=2")])
    compare.with_settings(w, dict(w.scenario.settings), vms)     # nothing changed: a message, B stays
    assert w.comparison is cmp and "Change a setting first" in w.statusBar().currentMessage()
    w.apply_settings({**w.scenario.settings, "Mem.ShareForceSalting": 0}, vms)   # A re-run in place
    qtbot.waitUntil(lambda: "ShareForceSalting\" = 0" in cmp.state.text_a, timeout=10000)
    assert w.comparison is cmp and cmp.state.label == "Mem.ShareForceSalting = 2"


def test_a_compare_tour_opens_in_compare_mode(qtbot, win, tmp_path):
    tour = tmp_path / "salting.toml"
    tour.write_text(win.scenario.text + '\n[compare]\nset = ["Mem.ShareForceSalting=2"]\ntitle = "salting 2"\n')
    win.open_scenario(str(tour))
    assert win.comparison is not None and win.comparison.state.label == "salting 2"
    assert SC.parse(win.comparison.state.text_b).settings["Mem.ShareForceSalting"] == 2
    win.open_scenario("tps")                       # another scenario: back to one run
    assert win.comparison is None


def test_click_in_view_b_inspects_run_b(qtbot, win):
    """A page clicked in run B's view is run B's page in the inspector (titled "Run B", its
    chain highlighted in B's view); a page clicked in run A's view goes back to run A."""
    from vmmemviz.model.views.pageinfo import inspect

    w = win
    cmp = compare.start(w, from_cli(["tps", "--compare-set", "Mem.ShareForceSalting=0"]))
    w.seek(800)
    settle(qtbot, w, 800)
    qtbot.waitUntil(lambda: cmp.diff is not None and cmp.diff.pages > 0, timeout=10000)
    key, d = next((k, d) for k, d in cmp.diff.b.items() if k.startswith("gp.") and d.count)
    vm, page = int(key.split(".")[1]), int(np.flatnonzero(d.mask)[0])      # a page that differs
    ref = ("gp", vm, None, page)
    tl = Timeline(cmp.state.scenario_b())
    tl.seek(cmp.frame_b.pos)
    want = inspect(tl.view, tl.log.rows(0, tl.pos), ref, [v.name for v in tl.view.vms])
    qtbot.mouseClick(cmp.view_b.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=cmp.view_b.cell_center(key, page))
    qtbot.waitUntil(lambda: w.inspector.info.get("chain") == want["chain"], timeout=10000)
    assert w.inspector.title.text() == f"Run B: {want['what']}" and w.inspector.state.text() == f"State: {want['state']}"
    assert w.state.selection is None and cmp.selection_b == ref
    qtbot.waitUntil(lambda: bool(cmp.view_b.chain_item.arrows), timeout=10000)
    assert not w.layer_view.chain_item.arrows
    w.layer_view.pageClicked.emit(ref)                       # the same page of run A: A's own
    qtbot.waitUntil(lambda: w.inspector.other is None and w.inspector.info.get("chain", [None])[0] == ref
                    and not w.inspector.title.text().startswith("Run B"), timeout=10000)
    assert w.inspector.info != want and cmp.selection_b is None and not cmp.view_b.chain_item.arrows
