"""The main window off-screen: keys and controls drive the worker, stepping back lands on the
state playing gives, clicks inspect and highlight, settings re-run, themes are remembered."""
import tomllib

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from vmmemviz.engine.worker import build_frame
from vmmemviz.model.config import scenario
from vmmemviz.model.core import events as E
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.ui import help as H
from vmmemviz.ui.mainwindow import SPEEDS, MainWindow
from vmmemviz.ui.settingsdialog import apply_settings_text

Key = QtCore.Qt.Key


@pytest.fixture
def win(qtbot, tmp_path):
    s = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow("default", s)
    qtbot.addWidget(w)
    w.anim.setValue(0)
    w.show()
    qtbot.waitUntil(lambda: w.frame is not None, timeout=10000)
    yield w
    w.close()


def at(qtbot, w, pos):
    qtbot.waitUntil(lambda: w.frame.pos == pos, timeout=10000)


def key(qtbot, w, k, mod=QtCore.Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(w, k, mod)


@pytest.mark.slow
def test_keys_step_jump_and_play(qtbot, wait_worker, win):
    w = win
    assert w.frame.pos == 0 and "Space" in w.caption.text()
    key(qtbot, w, Key.Key_Right)
    at(qtbot, w, 1)
    assert w.frame.kind == "POWER_ON" and w.caption.full_text() == w.frame.narration
    key(qtbot, w, Key.Key_Right, QtCore.Qt.KeyboardModifier.ShiftModifier)
    at(qtbot, w, 11)
    key(qtbot, w, Key.Key_Left)
    at(qtbot, w, 10)
    key(qtbot, w, Key.Key_Left, QtCore.Qt.KeyboardModifier.ShiftModifier)
    at(qtbot, w, 0)
    key(qtbot, w, Key.Key_End)
    qtbot.waitUntil(lambda: w.frame.finished and w.frame.pos == w.frame.total > 1000, timeout=20000)
    assert "event" in w.status_pos.text() and "host state" in w.status_pos.text()
    key(qtbot, w, Key.Key_Home)
    at(qtbot, w, 0)
    w.set_speed_index(SPEEDS.index(200))
    key(qtbot, w, Key.Key_Space)
    assert w.playing and w.a_play.text() == "Pause"
    qtbot.waitUntil(lambda: w.frame.pos > 20, timeout=10000)
    key(qtbot, w, Key.Key_Space)
    assert not w.playing
    p = w.frame.pos
    with wait_worker(w.worker.described, timeout=10000):
        w.worker.describe(("mp", None, None, 0))      # served after the pause: the worker has stopped
    assert w.frame.pos <= p + 1                       # at most the one frame in flight
    p = w.frame.pos
    with wait_worker(w.worker.described, timeout=10000):
        w.worker.describe(("mp", None, None, 0))
    assert w.frame.pos == p
    w.a_start.trigger()
    at(qtbot, w, 0)
    w.a_step.trigger()
    at(qtbot, w, 1)
    w.timeline_bar.seekRequested.emit(123)
    at(qtbot, w, 123)
    assert w.timeline_bar.pos == 123


def test_step_back_lands_on_the_state_play_gives(qtbot, wait_worker, win):
    w = win
    for _ in range(6):
        key(qtbot, w, Key.Key_Right, QtCore.Qt.KeyboardModifier.ShiftModifier)
    at(qtbot, w, 60)
    for _ in range(3):
        key(qtbot, w, Key.Key_Left, QtCore.Qt.KeyboardModifier.ShiftModifier)
    key(qtbot, w, Key.Key_Left)
    at(qtbot, w, 29)
    got = {b.key: b.codes.reshape(-1)[:b.count] for b in w.frame.bands}    # whatever the layout
    with wait_worker(w.worker.described, timeout=10000):
        w.worker.describe(("mp", None, None, 0))       # the worker is idle at 29 once it answers
    digest = w.worker.timeline.view.digest()     # the worker is idle: safe to read here
    fresh = Timeline(scenario.load("default"))
    f = build_frame(fresh, 29)
    assert fresh.view.digest() == digest
    for b in f.bands:             # a store shows more or fewer of its slots as the view's shape asks
        n = min(b.count, len(got[b.key]))
        assert np.array_equal(got[b.key][:n], b.codes.reshape(-1)[:n]), b.key


def test_click_inspects_and_highlights_the_chain(qtbot, wait_worker, win):
    w = win
    w.seek(300)
    at(qtbot, w, 300)
    fresh = Timeline(scenario.load("default"))     # the worker's own state is its thread's
    fresh.seek(300)
    vm = fresh.view.vms[0]
    g = int(np.flatnonzero(vm.gp_state == 1)[0])
    m = int(vm.gp_loc[g])
    with wait_worker(w.worker.inspected, timeout=10000) as sig:
        w.layer_view.pageClicked.emit(("mp", None, None, m))
    info = sig.args[0]
    assert ("gp", 0, None, g) in info["chain"]
    qtbot.waitUntil(lambda: bool(w.layer_view.chain_item.arrows))
    joined = {(a.src, a.dst) for a in w.layer_view.chain_item.arrows}
    assert (("gp.0", g, g + 1), ("mp", m, m + 1)) in joined


def test_hover_asks_the_worker_for_a_tooltip(qtbot, wait_worker, win):
    w = win
    w.seek(300)
    at(qtbot, w, 300)
    with wait_worker(w.worker.described, timeout=10000) as sig:
        w.layer_view.pageHovered.emit(("mp", None, None, 0))
    assert sig.args[0] == ("mp", None, None, 0) and "MPN 0x0" in sig.args[1] and "hypervisor" in sig.args[1]


def test_settings_rerun_keep_the_position_and_are_saved(qtbot, win, tmp_path):
    w = win
    w.seek(200)
    at(qtbot, w, 200)
    old = w.worker.timeline
    w.apply_settings({"Mem.ShareScanGHz": 8}, {"web02": {"sched.mem.pshare.enable": False}})
    qtbot.waitUntil(lambda: w.worker.timeline is not old and w.frame.pos == 200, timeout=10000)
    assert w.worker.timeline.sim.settings["Mem.ShareScanGHz"] == 8
    out = tmp_path / "saved.toml"
    w.save_scenario(str(out))
    doc = tomllib.loads(out.read_text())
    assert doc["settings"] == {"Mem.ShareScanGHz": 8}      # the file's salting = 0 went back to the default
    web02 = next(v for v in doc["vm"] if v["name"] == "web02")
    assert web02["settings"]["sched.mem.pshare.enable"] is False
    assert [v["name"] for v in doc["vm"]] == ["web01", "web02", "win01"]
    assert w.qsettings.value("recent")[0] == str(out)


def test_an_unchanged_settings_dialog_does_not_rerun(win):
    from vmmemviz.ui.settingsdialog import SettingsDialog
    sc = win.scenario
    win.apply_settings(*SettingsDialog(sc, win).changed_settings())
    assert win.scenario is sc


def test_apply_settings_text_replaces_and_keeps_comments():
    text = scenario.load("default").text
    once = apply_settings_text(text, {"Mem.ShareForceSalting": 1}, {"win01": {"sched.mem.maxmemctl": 100}})
    twice = apply_settings_text(once, {"Mem.ShareForceSalting": 2}, {"win01": {"sched.mem.maxmemctl": 50}})
    sc = scenario.parse(twice)
    assert sc.settings["Mem.ShareForceSalting"] == 2
    assert sc.vms[2].settings == {"sched.mem.maxmemctl": 50}
    assert twice.count("Mem.ShareForceSalting") == 1 and twice.count("maxmemctl") == 1
    assert sc.description == scenario.load("default").description
    back = scenario.parse(apply_settings_text(twice, {"Mem.ShareForceSalting": None}, {"win01": {"sched.mem.maxmemctl": None}}))
    assert "Mem.ShareForceSalting" not in back.settings and back.vms[2].settings == {}


def test_theme_is_remembered_and_help_gets_the_kind(qtbot, win, monkeypatch):
    w = win
    w.a_light.trigger()
    assert w.qsettings.value("theme") == "light" and w.layer_view.theme == "light"
    w.seek(1)
    at(qtbot, w, 1)
    seen = []
    monkeypatch.setattr(H, "show_help", lambda kind, parent: seen.append(kind))
    key(qtbot, w, Key.Key_F1)
    assert seen == ["POWER_ON"]
    tours = next(m for m in w.menuBar().findChildren(QtWidgets.QMenu) if m.title() == "&Tours")
    assert all(a.text() for a in tours.actions())


def test_every_control_has_a_tooltip(win):
    tb = win.findChild(QtWidgets.QToolBar)
    for b in tb.findChildren(QtWidgets.QToolButton):
        if b.defaultAction() is not None:
            assert b.toolTip(), b.text()
    for wdg in (win.speed, win.anim, win.timeline_bar, win.legend, win.caption):
        assert wdg.toolTip()


def test_ctrl_e_opens_the_export_dialog_on_this_window(qtbot, win, monkeypatch):
    from vmmemviz.ui import exportdialog
    opened = []
    monkeypatch.setattr(exportdialog.ExportDialog, "exec", lambda self: opened.append(self) or 0)
    key(qtbot, win, Key.Key_E, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert len(opened) == 1 and opened[0].win is win


@pytest.mark.slow
def test_end_keeps_going_while_the_view_is_resized(qtbot, win):
    w = win
    key(qtbot, w, Key.Key_End)
    w.resize(w.width() - 200, w.height() - 100)         # the view asks for a new layout
    p = w.frame.pos
    qtbot.waitUntil(lambda: w.frame.pos > p, timeout=20000)
    w.resize(w.width() + 200, w.height() + 100)
    qtbot.waitUntil(lambda: w.frame.finished and w.frame.pos == w.frame.total > 1000, timeout=20000)


def test_a_tour_opens_from_the_tours_menu(qtbot, win):
    w = win
    tours = next(m for m in w.menuBar().findChildren(QtWidgets.QMenu) if m.title() == "&Tours")
    action = next(a for a in tours.actions() if a.text() == scenario.load("swap").name)
    action.trigger()
    qtbot.waitUntil(lambda: w.frame.vm_names == ("guest01", "nocache01") and w.frame.pos == 0, timeout=10000)
    assert "swap" in w.windowTitle().lower() or w.scenario.name in w.windowTitle()
    key(qtbot, w, Key.Key_Right)
    at(qtbot, w, 1)
    assert {b.key for b in w.layer_view.frame.bands} >= {"gp.0", "gp.1", "mp", "vswp.1"}


def test_file_menu_snapshots_a_live_process(qtbot, win):
    import os
    from vmmemviz.ui import realdata
    pw = realdata.snapshot_process(win, os.getpid())            # this test process, from /proc
    qtbot.addWidget(pw)
    assert pw.isVisible() and str(os.getpid()) in pw.windowTitle()
    names = [a.text() for a in win.menuBar().actions()[0].menu().actions()]
    assert {"Snapshot a process…", "Open esxtop capture…", "Scenario from guest images…"} <= set(names)


def test_playing_passes_counters_on_and_a_pause_sends_the_positions_own(qtbot, win):
    """While playing, the counters (a pass over every page) are computed at most every
    COUNTERS_EVERY_S; the frames between say whose they are, and a pause brings them up to date."""
    w = win
    seen = []
    w.worker.frameReady.connect(seen.append)
    w.set_speed_index(SPEEDS.index(1000))
    key(qtbot, w, Key.Key_Space)
    qtbot.waitUntil(lambda: sum(f.counters_pos < f.pos for f in seen) >= 3, timeout=20000)
    qtbot.waitUntil(lambda: "(at event" in w.status_pos.text(), timeout=10000)    # the status says so
    key(qtbot, w, Key.Key_Space)
    qtbot.waitUntil(lambda: w.frame.counters_pos == w.frame.pos, timeout=10000)
    assert "(at event" not in w.status_pos.text()
    assert all(f.counters_pos <= f.pos for f in seen)
    assert any(f.counters is g.counters for f, g in zip(seen, seen[1:]))    # passed on, not computed


def test_playing_shows_the_events_known_before_simulating_further(qtbot):
    from vmmemviz.engine.worker import SimWorker
    from vmmemviz.model.config import scenario
    w = SimWorker(scenario.load("default"))
    frames = []
    w.frameReady.connect(frames.append)
    w._serve()                                   # load
    tl = w.timeline
    n = tl.ensure(500)
    w.ack()
    w.playing, w._play_pos = True, float(n + 50)   # play has run past the log: a tick would be next
    w._play()
    assert len(tl) == n and frames[-1].pos == n    # the known events first, no tick yet
    w.ack()
    w._play()
    assert len(tl) > n                             # shown: now the simulation goes on


def test_the_plots_tab_draws_when_it_is_shown(qtbot, win):
    """The plots sit behind the counters' tab and draw nothing there; raised, they show the
    history up to the frame shown."""
    w = win
    w.seek(600)
    at(qtbot, w, 600)
    assert not w.plots.shown and w.docks["counters"].isVisible()
    qtbot.waitUntil(lambda: w.plots.frame is not None and w.plots.frame.pos == 600)
    w.docks["plots"].raise_()
    qtbot.waitUntil(lambda: w.plots.shown)
    x, _ = w.plots.free_curve.getOriginalDataset()
    assert list(x) == [h["tick"] for h in w.frame.history]
    w.docks["counters"].raise_()
    qtbot.waitUntil(lambda: not w.plots.shown)



def test_the_view_says_what_it_builds_until_the_first_frame(qtbot, tmp_path):
    """A host-scale scenario takes seconds to build: the view says what it builds, over the
    scenario it leaves (dimmed), until the new one's first frame."""
    s = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow("overcommit", s)
    qtbot.addWidget(w)
    w.show()
    assert w.layer_view.loading == "Building a 32 MiB host and 4 VMs (64 MiB of guest memory)…"
    qtbot.waitUntil(lambda: w.frame is not None, timeout=20000)
    assert w.layer_view.loading is None
    shown = w.layer_view.viewport().grab().toImage()
    w.show_scenario(scenario.load("default"))
    assert w.layer_view.loading.startswith("Building a ") and w.frame.vm_names[0] == "db01"
    dimmed = w.layer_view.viewport().grab().toImage()

    def spread(img):
        img = img.convertToFormat(QtGui.QImage.Format.Format_RGB32)
        return float(np.frombuffer(img.constBits(), np.uint8).reshape(-1, 4)[:, :3].astype(float).std())
    assert spread(dimmed) < 0.7 * spread(shown)
    qtbot.waitUntil(lambda: w.frame.vm_names != ("db01", "web01", "web02", "win01"), timeout=20000)
    assert w.layer_view.loading is None
    w.close()


def test_the_picture_stays_put_whatever_the_caption_and_chapter_say(qtbot, tmp_path):
    """The caption and the tour chapter keep their height: a chapter of four lines or none at
    all must not move the picture (a click aimed at a page would land on a heading); the chapter
    line makes room for the tour's longest chapter, so none is cut at 1280x800."""
    s = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow("overcommit", s)
    qtbot.addWidget(w)
    w.anim.setValue(0)
    w.resize(1280, 800)
    w.show()
    qtbot.waitUntil(lambda: w.frame is not None and len(w.timeline_bar.summary["chapters"]) > 8, timeout=30000)
    tops, lines = set(), set()
    lp_back = int(np.flatnonzero(w.state.log.rows(0, len(w.state.log))["kind"] == E.BY_NAME["LP_BACK"].code)[0]) + 1
    for p in [0, lp_back] + [c[0] for c in w.timeline_bar.summary["chapters"]][:10]:   # LP_BACK: 249 characters
        w.seek(p)
        qtbot.waitUntil(lambda: w.frame.pos == p, timeout=20000)
        qtbot.wait(50)
        tops.add(w.layer_view.mapTo(w, QtCore.QPoint(0, 0)).y())
        lines.add(w.chapter_label.lines)
        assert w.chapter_label.isVisible() and w.caption.text() == w.frame.narration    # 3 lines: whole here
        assert not w.chapter_label.text().endswith("…")
    assert len(tops) == 1 and len(lines) == 1 and lines.pop() > 2
    w.close()


def test_a_line_too_long_for_its_room_is_cut_at_a_word_and_whole_in_its_tooltip(qtbot):
    from vmmemviz.ui.lines import Lines
    label = Lines(2, "What it is")
    qtbot.addWidget(label)
    label.resize(220, label.height())
    label.show()
    tail = "word " * 60 + "end"
    label.set_parts("<b>Head</b> — ", tail)
    assert label.text().startswith("<b>Head</b> — ") and label.text().endswith("…")
    assert tail in label.toolTip() and label.toolTip().endswith("What it is")
    label.set_parts("", "short")
    assert label.text() == "short" and label.toolTip() == "What it is"


def test_the_tours_menu_groups_tours_comparisons_and_plain_scenarios(win):
    tours = next(m for m in win.menuBar().findChildren(QtWidgets.QMenu) if m.title() == "&Tours")
    groups, cur = {}, None
    for a in tours.actions():
        if a.isSeparator():
            cur = groups.setdefault(a.text(), [])
        else:
            cur.append(a.text())
    assert list(groups) == ["Guided tours (chapters)", "Two runs side by side", "Scenarios to explore"]
    assert all(g == sorted(g) for g in groups.values())
    assert all(t.startswith("Compare:") for t in groups["Two runs side by side"])
    assert {scenario.load(n).name for n in ("default", "hostscale", "datacenter")} <= set(groups["Scenarios to explore"])
    assert scenario.load("swap").name in groups["Guided tours (chapters)"]


def test_a_long_message_is_elided_in_the_status_bar_not_cut_under_the_position(qtbot, win):
    """The message strip has it whole; the status bar's copy ends in "…" left of the
    permanent position text (Qt cut it mid-word, flush against "event 0 / …")."""
    win.resize(900, 600)
    win.show()
    qtbot.waitUntil(lambda: win.status_pos.text() != "", timeout=20000)
    text = "Comparing A (this run, solid) with B (dashed). " * 6
    win.message(text)
    shown = win.statusBar().currentMessage()
    room = win.statusBar().width() - win.status_pos.width()
    assert shown.endswith("…") and shown.startswith("Comparing A")
    assert win.statusBar().fontMetrics().horizontalAdvance(shown) < room


def test_auto_speed_plays_each_second_alike_and_a_short_tour_event_by_event():
    """Was 4 events/s for every run: overcommit's 82,000 events took 6 hours, default's 5,200
    22 minutes. AUTO plays each simulated second in PLAY_S / duration seconds, at least
    AUTO_MIN events a second; estimating the run's length from its first seconds instead made
    balloon's boot burst play at 738 events/s for a run that averages 83."""
    from types import SimpleNamespace
    from vmmemviz.engine import worker as W
    from vmmemviz.model.config import scenario as S
    from vmmemviz.model.core.timeline import Timeline

    def played(name):
        """(seconds auto takes over the whole run, the rate at its first event), simulated to the end."""
        tl = Timeline(S.load(name))
        tl.run_to_end()
        ticks = tl.log.column("tick")
        counts = np.bincount(ticks)
        rates = np.maximum(W.AUTO_MIN, counts * tl.sc.duration / W.PLAY_S)
        tl.seek(0)
        first = W.SimWorker.auto_rate(SimpleNamespace(timeline=tl))
        for p in (len(tl) // 3, len(tl) - 1):
            tl.seek(p)
            assert W.SimWorker.auto_rate(SimpleNamespace(timeline=tl)) == pytest.approx(rates[ticks[p]])
        return float((counts[counts > 0] / rates[counts > 0]).sum()), first, rates
    took, first, rates = played("balloon")
    assert 100 < took < 160 and first == pytest.approx(rates[0]) and rates.max() > 20 * np.median(rates)
    took, first, _ = played("translation")
    assert first == W.AUTO_MIN                          # 151 events: each one animates


def test_a_new_window_plays_auto_and_the_brackets_step_the_speed(qtbot, win):
    w = win
    assert w.speed.currentText() == "auto" and w.worker.speed == 0
    key(qtbot, w, Key.Key_End)
    qtbot.waitUntil(lambda: w.frame.finished, timeout=20000)
    key(qtbot, w, Key.Key_Home)
    at(qtbot, w, 0)
    key(qtbot, w, Key.Key_Space)
    qtbot.wait(1500)
    key(qtbot, w, Key.Key_Space)
    assert w.frame.pos > 30 and w.frame.rate > 4                    # 4 events/s was 6
    rate = w.frame.rate                 # the frames carry it: the window reads nothing of the worker's
    key(qtbot, w, Key.Key_BracketRight)              # from auto: the next speed up
    up = min(s for s in SPEEDS[1:] if s > rate)
    assert SPEEDS[w.speed.currentIndex()] == up and w.qsettings.value("speed") in (up, str(up))
    i = w.speed.currentIndex()
    key(qtbot, w, Key.Key_BracketLeft)
    key(qtbot, w, Key.Key_BracketLeft)
    assert i - 2 >= 1 and w.speed.currentIndex() == i - 2
    qtbot.waitUntil(lambda: w.worker.speed == SPEEDS[i - 2], timeout=5000)     # posted, not written across
    w.step(1)
    qtbot.waitUntil(lambda: w.frame.rate == SPEEDS[i - 2], timeout=5000)
