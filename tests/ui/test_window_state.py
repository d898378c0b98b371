"""The window as users meet it (issue 13): the PID prompt, keys back to the picture, panels at
1280x800, a new scenario starting clean, stepping through the filtered events, chapters and
events of a kind, what a settings change did, worker failures shown in the window."""
import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from vmmemviz.errors import InputError
from vmmemviz.model.core import events as E
from vmmemviz.model.reclaim.freestates import STATE_NAMES, apply_host_state
from vmmemviz.ui import realdata
from vmmemviz.ui.appstate import AppState, Filters
from vmmemviz.ui.mainwindow import MainWindow

Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier


def make(qtbot, tmp_path, name="default"):
    s = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(name, s)
    qtbot.addWidget(w)
    w.anim.setValue(0)
    w.show()
    qtbot.waitUntil(lambda: w.frame is not None, timeout=20000)
    return w


@pytest.fixture
def win(qtbot, tmp_path):
    w = make(qtbot, tmp_path)
    yield w
    w.close()


def at(qtbot, w, pos):
    qtbot.waitUntil(lambda: w.frame.pos == pos, timeout=20000)


def focused_key(qtbot, w, k, mod=Mod.NoModifier):
    """A key as the user types it: to the widget that has the window's focus."""
    qtbot.keyClick(w.focusWidget() or w, k, mod)


def test_the_snapshot_menu_asks_for_the_pid(win, monkeypatch):
    asked = []
    monkeypatch.setattr(QtWidgets.QInputDialog, "getInt", lambda *a, **k: asked.append(a) or (0, False))
    menu = win.menuBar().actions()[0].menu()
    action = next(a for a in menu.actions() if a.text() == "Snapshot a process…")
    action.trigger()                      # triggered(checked=False): not a PID
    assert len(asked) == 1 and asked[0][2] == "Process ID:"
    assert realdata.snapshot_process(win, False) is None and len(asked) == 2


def test_keys_come_back_to_the_picture_after_the_search_box(qtbot, win):
    w = win
    search = w.events.search
    search.setFocus()
    qtbot.keyClicks(search, "BA")
    assert w.focusWidget() is search
    qtbot.keyClick(search, Key.Key_Right)      # still typing: the box keeps the key
    assert w.frame.pos == 0
    qtbot.mouseClick(w.layer_view.viewport(), QtCore.Qt.MouseButton.LeftButton)
    assert w.focusWidget() is w.centralWidget()
    focused_key(qtbot, w, Key.Key_Right)
    at(qtbot, w, 1)
    search.setFocus()
    qtbot.keyClick(search, Key.Key_Escape)
    assert w.focusWidget() is w.centralWidget()
    focused_key(qtbot, w, Key.Key_Space)
    assert w.playing
    focused_key(qtbot, w, Key.Key_Space)
    assert not w.playing
    search.setFocus()
    qtbot.mouseClick(w.timeline_bar, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(30, 30))
    assert w.focusWidget() is w.centralWidget()
    focused_key(qtbot, w, Key.Key_End)
    qtbot.waitUntil(lambda: w.frame.pos > 100, timeout=30000)


def test_a_single_letter_does_not_empty_the_list_and_home_scrolls_it(qtbot, win):
    w = win
    w.seek(3000)
    at(qtbot, w, 3000)
    qtbot.waitUntil(lambda: w.events.model.rowCount() >= 3000, timeout=20000)
    w.events.search.setText("q")
    qtbot.waitUntil(lambda: w.state.filters.text == "q", timeout=5000)
    assert w.events.model.rowCount() >= 3000 and "2 characters" in w.events.status.text()
    qtbot.waitUntil(lambda: w.events.view.verticalScrollBar().value() > 0, timeout=5000)
    focused_key(qtbot, w, Key.Key_Home)       # the focus is still in the box: Home moves its cursor
    w.focus_view()
    focused_key(qtbot, w, Key.Key_Home)
    at(qtbot, w, 0)
    qtbot.waitUntil(lambda: w.events.view.verticalScrollBar().value() == 0, timeout=5000)


@pytest.mark.parametrize("size", [(1280, 800), (1500, 950)])
def test_every_panel_is_usable(qtbot, win, size):
    w = win
    w.resize(*size)
    w._size_docks()
    qtbot.waitUntil(lambda: w.counters.table.model().rowCount() == 3, timeout=10000)
    for _ in range(3):
        QtWidgets.QApplication.processEvents()
    search = w.events.search
    dock = w.docks["events"].widget().viewport()
    top_left = search.mapTo(dock, QtCore.QPoint(0, 0))
    assert search.isVisible() and top_left.x() >= 0 and top_left.x() + search.width() <= dock.width()
    assert search.height() >= search.sizeHint().height() - 2          # not cut in half
    assert w.legend.height() >= w.legend.heightForWidth(w.legend.width())
    table = w.counters.table
    view = w.docks["counters"].widget().viewport()
    first_row = table.viewport().mapTo(view, QtCore.QPoint(0, table.rowViewportPosition(0)))
    assert 0 <= first_row.y() and first_row.y() + table.rowHeight(0) <= view.height(), "no VM row visible"
    assert w.events.view.height() >= 5 * w.events.view.verticalHeader().defaultSectionSize()
    # the whole event list fits its dock: the highlighted row and the "n of m events" line show
    assert w.docks["events"].widget().verticalScrollBar().maximum() == 0


def test_a_new_scenario_starts_clean_and_steps_follow_the_filters(qtbot, wait_worker, win):
    w = win
    w.seek(300)
    at(qtbot, w, 300)
    with wait_worker(w.worker.inspected, timeout=10000):
        w.layer_view.pageClicked.emit(("mp", None, None, 0))
    qtbot.waitUntil(lambda: w.inspector.title.text() != "No page inspected")
    w.events.buttons["access"].setChecked(False)
    assert w.state.filters.active()
    w.open_scenario("allocation")
    qtbot.waitUntil(lambda: w.frame.vm_names != ("web01", "web02", "win01") and w.frame.pos == 0, timeout=20000)
    assert w.state.selection is None and w.state.filters == Filters()
    assert w.inspector.title.text() == "No page inspected" and not w.layer_view.chain_item.arrows
    assert w.events.buttons["access"].isChecked() and w.events.search.text() == ""
    # stepping with a filter on visits only what the list shows, and the list highlights it
    w.state.set_filters(Filters(frozenset({"state"})))
    qtbot.waitUntil(lambda: w.events.model.rowCount() > 2, timeout=10000)
    shown = [w.events.model.log_index(r) for r in range(3)]
    for i in shown:
        focused_key(qtbot, w, Key.Key_Right)
        at(qtbot, w, i + 1)
        assert w.frame.group == "state"
        qtbot.waitUntil(lambda: w.events.model.log_index(w.events.view.currentIndex().row()) == i,
                        timeout=5000)           # the list follows the frame a pass later
    focused_key(qtbot, w, Key.Key_Left)
    at(qtbot, w, shown[1] + 1)


def test_chapters_and_events_of_a_kind(qtbot, tmp_path):
    w = make(qtbot, tmp_path, "allocation")
    tips = {a.toolTip() for a in (w.a_next_chapter, w.a_prev_chapter, w.a_next_kind, w.a_prev_kind)}
    assert all("(Page" in t or "(Ctrl+" in t for t in tips)
    sim = w.engine.worker
    qtbot.waitUntil(lambda: len(w.timeline_bar.summary["chapters"]) == 7, timeout=20000)
    starts = [c[0] for c in w.timeline_bar.summary["chapters"]]
    for p in starts[:3]:                        # from position 0, the first chapter is next
        focused_key(qtbot, w, Key.Key_PageDown)
        at(qtbot, w, p)
        assert w.chapter_label.isVisible() and "Chapter" in w.chapter_label.text()
    title = w.frame.chapter.title
    assert title in w.chapter_label.text()
    w.seek(0)
    at(qtbot, w, 0)
    w.worker.find_chapter(1)                    # two quick presses: none is lost to coalescing
    w.worker.find_chapter(1)
    at(qtbot, w, starts[1])
    w.seek(starts[2])
    at(qtbot, w, starts[2])
    focused_key(qtbot, w, Key.Key_PageUp)
    at(qtbot, w, starts[1])
    w.step(1)                                   # inside a chapter, Page Up goes to its start
    at(qtbot, w, starts[1] + 1)
    focused_key(qtbot, w, Key.Key_PageUp)
    at(qtbot, w, starts[1])
    # a click on a chapter's label goes to its start, not to the point clicked
    bar = w.timeline_bar
    x = int((bar._x(starts[4]) + bar._x(starts[5])) / 2)
    with qtbot.waitSignal(bar.seekRequested) as sig:
        qtbot.mouseClick(bar, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(x, 8))
    assert sig.args == [starts[4]]
    at(qtbot, w, starts[4])
    kind = w.frame.kind
    before = w.frame.pos
    focused_key(qtbot, w, Key.Key_Right, Mod.ControlModifier)
    qtbot.waitUntil(lambda: w.frame.pos > before, timeout=10000)
    assert w.frame.kind == kind and kind in w.a_next_kind.toolTip()
    rows = sim.timeline.log.rows(before, w.frame.pos - 1)       # the worker is idle: safe here
    assert not (rows["kind"] == E.BY_NAME[kind].code).any()     # none skipped on the way
    w.close()


def test_tours_get_a_chapter_at_every_host_state_change(qtbot, tmp_path):
    from vmmemviz.engine.chapters import Chapters
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.timeline import Timeline
    tl = Timeline(scenario.load("compression"))
    tl.run_to_end()
    ch = Chapters.of(tl)
    rows = tl.log.rows()
    changes = np.flatnonzero(rows["kind"] == apply_host_state.code)
    assert len(changes) > 3 and len(tl.sc.chapters) < len(ch.placed) < len(tl.sc.chapters) + len(changes)
    for i in changes:        # each change begins a chapter, or is one of an episode of flaps (test_chapters)
        state = ch.at(int(i) + 1).title.rpartition("Host state ")[2]
        assert STATE_NAMES[int(rows["aux"][i])] in state.split(" ⇄ ")
    assert ch.at(0) is not None and ch.at(0) == ch.at(1)     # before the first event: the tour's opening
    inside = ch.at(int(changes[2]) + 2)          # inside an authored chapter: named after both
    assert "Host state" in inside.title and "·" in inside.title and "Now free memory" in inside.text
    last_story = max(i for i, authored, _ in ch.placed if authored)
    state_then = [c for i, authored, c in ch.placed if not authored and i < last_story]
    assert state_then and ch.at(last_story + 1).title.endswith(state_then[-1].title)   # begun before, still shown


@pytest.mark.slow
def test_a_settings_change_says_what_changed(qtbot, win):
    w = win
    w.seek(2500)
    at(qtbot, w, 2500)
    old = w.worker.timeline
    w.apply_settings({"Mem.ShareForceSalting": 0, "Mem.ShareScanGHz": 0}, {})
    w.show_frame(w.frame)       # a frame of the old run at that position, still queued: not compared
    qtbot.waitUntil(lambda: w.worker.timeline is not old and w.frame.pos == 2500 and w.banner.isVisible(),
                    timeout=30000)
    text = w.banner.text.text()
    assert "Mem.ShareScanGHz = 0" in text and "→" in text and "2,500" in text and "They part at event" in text
    # the list reads the new run's log, not a snapshot of the old run that was still queued
    # (panels update a pass of the event loop after the frame: wait for the list's rows)
    reads_new = lambda: w.events.model.log is w.state.log and w.events.model.rowCount() >= 2500  # noqa: E731
    qtbot.waitUntil(reads_new, timeout=10000)
    qtbot.wait(300)             # and keeps reading it: no stale snapshot arrives after
    assert reads_new()


def test_a_worker_failure_is_shown_in_the_window(qtbot, win, monkeypatch):
    from vmmemviz.engine import worker as W

    def unreadable(sc):
        raise InputError("/tmp/guest.img: not an ELF core, raw image or .vmem (first bytes 7f 45)")
    w = win
    threads = []
    w.state.sourceChanged.connect(lambda _: threads.append(QtCore.QThread.currentThread()))
    w.open_scenario("swap")
    qtbot.waitUntil(lambda: bool(threads), timeout=20000)
    assert threads == [QtWidgets.QApplication.instance().thread()]     # the state changes in the UI thread
    monkeypatch.setattr(W, "Timeline", unreadable)
    w.open_scenario("allocation")
    qtbot.waitUntil(lambda: w.banner.isVisible(), timeout=10000)
    assert w.banner.error and "guest.img: not an ELF core" in w.banner.text.text()
    assert w.scenario.name in w.windowTitle() and w.scenario.vms[0].name == w.frame.vm_names[0]   # still swap
    monkeypatch.undo()
    w.seek(3)                                   # the thread still serves
    at(qtbot, w, 3)


def test_the_app_state_signals_only_changes(qtbot):
    st = AppState()
    seen = []
    st.filtersChanged.connect(seen.append)
    st.selectionChanged.connect(seen.append)
    st.set_filters(Filters())
    st.select(None)
    assert seen == []
    st.set_filters(Filters(text="web01"))
    st.select(["mp", None, None, 3])
    assert seen == [Filters(text="web01"), ("mp", None, None, 3)]
    assert not Filters(text="q").active() and Filters(text="qq").active()


def test_the_chapter_line_counts_the_chapters_of_a_summary_that_comes_after_its_frame(qtbot, tmp_path):
    """At the end of a run the last chapter's summary came after the last frame: the line said
    "Chapter 13 of 13" where the bar had 14. A summary with the same events but more chapters
    counts them on the line."""
    w = make(qtbot, tmp_path, "allocation")
    qtbot.waitUntil(lambda: len(w.timeline_bar.summary["chapters"]) == 7, timeout=20000)
    w.seek(w.timeline_bar.summary["chapters"][-1][0])
    qtbot.waitUntil(lambda: "of 7" in w.chapter_label.text(), timeout=20000)
    summary = dict(w.timeline_bar.summary, total=w.frame.total, finished=w.frame.finished)
    summary["chapters"] = list(summary["chapters"]) + [(w.frame.pos, "Host state low", "a late one")]
    w.engine.worker.timelineChanged.emit(summary)
    qtbot.waitUntil(lambda: "of 8" in w.chapter_label.text(), timeout=5000)
