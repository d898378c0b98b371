"""The main window: caption, layer view, legend and timeline; panels docked around them.

The model runs in the simulation thread (engine.worker); this window only sends commands
(play, step, seek, inspect) and shows what comes back through the application state
(:mod:`vmmemviz.ui.appstate`), which the panels observe. Keys: Space play/pause, Right/Left
step (through the events the filters show), Shift+Right/Left ten steps, ] / [ faster /
slower, Page Down/Up next / previous chapter, Ctrl+Right/Left next / previous event of the
current kind, Home/End, Ctrl+F search the events, Esc keys back to the picture, Ctrl+O open
(scenarios and sessions), Ctrl+S save, Ctrl+Shift+S save session, Ctrl+E export, F1 help.
"""
from __future__ import annotations

import collections
import dataclasses
import html
import importlib.util
import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ..errors import InputError
from vmmemviz.model.config import scenario as S
from vmmemviz.model.config import session as SS
from ..scene import palette as P
from . import realdata as R
from . import theme as T
from .about import app_icon, show_about
from .appstate import AppState
from .banner import Banner
from .counters import CountersPanel
from .eventlist import EventList
from .inspector import InspectorPanel
from .layerview import LayerView
from .legend import LegendWidget
from .lines import Lines
from ..paint.labels import size_text
from .plots import PlotsPanel
from .settingsdialog import (COMPARE, SettingsDialog, apply_settings_text, changes_html, counter_changes,
                             settings_changes)
from . import compare
from .timelinebar import TimelineBar
from . import help as H
from . import session as SE
from ..engine.chapters import Chapters
from ..engine.worker import AUTO, AUTO_MIN, Engine

ORG = "vmmemviz"
RECENT_MAX = 8
SPEEDS = (AUTO, 0.5, 1, 2, 4, 8, 16, 50, 200, 1000, 10000)    # events per second; AUTO: the run in ~2 min
PANELS_MIN_W = 560       # px: the esxtop VM table's main columns and the event list's narration
PANELS_EVERY_S = 0.2     # while playing, the panels follow at most this often (input stays quick)


class AfterPaint(QtCore.QObject):
    """Calls posted at low priority: after the paints (and keys) already waiting, each in its
    own pass of the event loop. The calls wait here, in order; Qt gets plain events (an event
    that Qt owns carries no Python attributes, so none can outlive its wrapper)."""

    TYPE = QtCore.QEvent.Type(QtCore.QEvent.registerEventType())

    def __init__(self, parent=None):
        super().__init__(parent)
        self._calls = collections.deque()

    def post(self, fn) -> None:
        self._calls.append(fn)
        QtCore.QCoreApplication.postEvent(self, QtCore.QEvent(self.TYPE),
                                          QtCore.Qt.EventPriority.LowEventPriority.value)

    def customEvent(self, ev):
        if ev.type() == self.TYPE and self._calls:
            self._calls.popleft()()


def chapter_parts(where: str, ch) -> tuple[str, str]:
    """(head, tail) of the chapter line: where it is and its title in bold, then its text."""
    return f"{html.escape(where)}<b>{html.escape(ch.title)}</b> — ", ch.text


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, scenario_name_or_path: str | S.Scenario = "default",
                 settings: QtCore.QSettings | None = None):
        super().__init__()
        self.qsettings = settings or QtCore.QSettings(ORG, ORG)
        theme = self.qsettings.value("theme", "dark")
        self.state = AppState(theme if theme in T.NAMES else "dark", self)
        self.scenario = scenario_name_or_path if isinstance(scenario_name_or_path, S.Scenario) \
            else S.load(scenario_name_or_path)
        self.playing = False
        self.anim_ms = int(self.qsettings.value("anim_ms", 300))
        self._last_step = 0.0
        self._panels_at = 0.0
        self._pending = None            # position a filtered step asked for, until it shows
        self._rerun = None              # (settings changed, counters before) of a settings re-run
        self._previous = None           # the scenario shown while another one loads
        self.comparison = None          # compare mode's run B (ui.compare.Comparison)
        self._after_paint = AfterPaint(self)
        self.setWindowIcon(app_icon())
        self._build()
        self._actions()
        self._menus()
        self._observe()
        self.engine = Engine(self.scenario, self)
        w = self.engine.worker
        # bound methods of this window only: a lambda would run in the simulation thread
        w.loaded.connect(self._loaded)
        w.logGrew.connect(self.state.set_log)
        w.frameReady.connect(self.show_frame)
        w.timelineChanged.connect(self.timeline_bar.set_summary)
        w.timelineChanged.connect(self._summary)
        w.inspected.connect(self._inspected)
        w.described.connect(self.layer_view.show_page_tip)
        w.failed.connect(self._failed)
        w.notice.connect(self.message)
        self.layer_view.aspectChanged.connect(w.set_aspect)
        self._loading(self.scenario)
        self.engine.start()                 # only now: no signal of the first load is missed
        speed = float(self.qsettings.value("speed", AUTO))
        self.set_speed_index(SPEEDS.index(speed) if speed in SPEEDS else 0)
        self._title()
        self.set_theme(self.state.theme)
        geo = self.qsettings.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:                     # 1500x950, or the screen when it is smaller (1280x800 laptops)
            room = self.screen().availableGeometry()
            self.resize(min(1500, room.width()), min(950, room.height()))
        st = self.qsettings.value("windowState")
        if st is not None:
            self.restoreState(st)
        else:
            QtCore.QTimer.singleShot(0, self._size_docks)
        self._remember(self.scenario)

    @property
    def frame(self):
        return self.state.frame

    # -- building --------------------------------------------------------------------------
    def _size_docks(self):
        """First start: the panels get what the event list and the counters need, at most 45%
        of the window, the picture the rest; the counters get the height that shows
        their VM table, at most 60% of it."""
        want = max(self.width() * 3 // 10, PANELS_MIN_W, self.events.minimumSizeHint().width() + 24)
        self.resizeDocks([self.docks["events"]], [min(want, self.width() * 45 // 100)],
                         QtCore.Qt.Orientation.Horizontal)
        tall = self.docks["events"].height() + self.docks["counters"].height()
        counters = min(self.counters.sizeHint().height() + 40, tall * 6 // 10)
        self.resizeDocks([self.docks["events"], self.docks["counters"]], [tall - counters, counters],
                         QtCore.Qt.Orientation.Vertical)

    def _build(self):
        central = QtWidgets.QWidget()
        central.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)    # where the keys go: the picture's
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        self.banner = Banner()
        self.chapter_label = Lines(2, "The tour chapter this part of the timeline belongs to "
                                      "(Page Down / Page Up: next / previous chapter)", most=6)
        self.chapter_label.hide()             # tours only
        self.caption = Lines(3, "What the current event did, in plain words (F1: more about this kind of event)")
        f = self.caption.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.caption.setFont(f)
        self.layer_view = LayerView(theme=self.state.theme)
        self.layer_view.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.layer_view.setToolTip("")
        self.layer_view.pageHovered.connect(self._hovered)
        self.layer_view.pageClicked.connect(self.state.select)
        self.legend = LegendWidget()
        self.timeline_bar = TimelineBar()
        self.timeline_bar.seekRequested.connect(self.seek)
        for wdg in (self.banner, self.chapter_label, self.caption):
            lay.addWidget(wdg)
        lay.addWidget(self.layer_view, 1)
        lay.addWidget(self.legend)
        lay.addWidget(self.timeline_bar)
        central.setMinimumWidth(640)          # the picture keeps its room however wide the panels get
        self.setCentralWidget(central)
        for wdg in (self.layer_view.viewport(), self.timeline_bar, self.legend):
            wdg.installEventFilter(self)      # a click there gives the keys back to the picture
        self.counters = CountersPanel()
        self.plots = PlotsPanel()
        self.inspector = InspectorPanel()
        self.events = EventList()
        self.inspector.seekRequested.connect(self.seek)
        self.inspector.referenceClicked.connect(self.state.select)
        self.events.seekRequested.connect(self.seek)
        self.events.filtersEdited.connect(self.state.set_filters)
        self.events.escaped.connect(self.focus_view)
        self.docks = {}
        for key, title, wdg, area in (
                ("events", "Events", self.events, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
                ("inspector", "Inspector", self.inspector, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
                ("counters", "Counters (esxtop)", self.counters, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
                ("plots", "Plots", self.plots, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)):
            d = QtWidgets.QDockWidget(title, self)
            d.setObjectName(f"dock_{key}")
            scroll = QtWidgets.QScrollArea()     # a panel wider than its dock scrolls, the picture keeps its room
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
            scroll.setWidget(wdg)
            d.setWidget(scroll)
            self.addDockWidget(area, d)
            self.docks[key] = d
        self.splitDockWidget(self.docks["events"], self.docks["counters"], QtCore.Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.docks["events"], self.docks["inspector"])
        self.tabifyDockWidget(self.docks["counters"], self.docks["plots"])
        self.docks["events"].raise_()
        self.docks["counters"].raise_()
        self.plots.set_shown(False)             # behind the counters' tab
        self.docks["plots"].visibilityChanged.connect(self.plots.set_shown)
        self.status_pos = QtWidgets.QLabel()
        self.status_pos.setToolTip("Position in the event log, simulated time and the host's memory state")
        self.statusBar().addPermanentWidget(self.status_pos)

    def _observe(self):
        """The panels follow the application state."""
        st = self.state
        st.sourceChanged.connect(self._source)
        st.logChanged.connect(self.events.set_log)
        st.logChanged.connect(self.inspector.set_log)
        st.filtersChanged.connect(self.events.set_filters)
        st.filtersChanged.connect(lambda _: setattr(self, "_pending", None))
        st.selectionChanged.connect(self._selected)
        st.themeChanged.connect(self._themed)

    def eventFilter(self, obj, ev):
        if ev.type() == QtCore.QEvent.Type.MouseButtonPress:
            self.focus_view()
        elif ev.type() == QtCore.QEvent.Type.Resize and obj is self.legend:
            self._fit_legend()
        return super().eventFilter(obj, ev)

    def _fit_legend(self):
        """Every row of the legend, however narrow the window (its layout asks no height for width)."""
        h = self.legend.heightForWidth(self.legend.width())
        if (self.legend.minimumHeight(), self.legend.maximumHeight()) != (h, h):   # set_vms sets the minimum alone
            self.legend.setFixedHeight(h)

    def search_events(self):
        self.docks["events"].show()
        self.docks["events"].raise_()
        self.events.search.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)
        self.events.search.selectAll()

    def focus_view(self):
        """Keys (Space, arrows, Home, End) go to the picture again, not to a text box."""
        self.centralWidget().setFocus(QtCore.Qt.FocusReason.OtherFocusReason)

    def _act(self, text, slot, keys=(), tip="", checkable=False, icon=None):
        a = QtGui.QAction(text, self)
        if keys:
            a.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            a.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        a.setToolTip(tip or text)
        a.setStatusTip(tip or text)
        a.setCheckable(checkable)
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon))
        a.triggered.connect(lambda checked=False: slot())     # never pass Qt's checked on as an argument
        self.addAction(a)
        return a

    def _actions(self):
        SP = QtWidgets.QStyle.StandardPixmap
        self.a_play = self._act("Play", self.toggle_play, ["Space"], "Play / pause the simulation (Space)",
                                icon=SP.SP_MediaPlay)
        self.a_step = self._act("Step forward", lambda: self.step(1), ["Right"],
                                "One event forward (Right); with filters on, the next event they show",
                                icon=SP.SP_MediaSeekForward)
        self.a_back = self._act("Step back", lambda: self.step(-1), ["Left"],
                                "One event back (Left); with filters on, the previous event they show",
                                icon=SP.SP_MediaSeekBackward)
        self.a_step10 = self._act("Ten forward", lambda: self.step(10), ["Shift+Right"], "Ten events forward (Shift+Right)")
        self.a_back10 = self._act("Ten back", lambda: self.step(-10), ["Shift+Left"], "Ten events back (Shift+Left)")
        self.a_faster = self._act("Faster", lambda: self.nudge_speed(1), ["]"], "Play faster: the next speed (])")
        self.a_slower = self._act("Slower", lambda: self.nudge_speed(-1), ["["], "Play slower: the speed before ([)")
        self.a_start = self._act("Jump to start", lambda: self.seek(0), ["Home"], "Back to the start (Home)",
                                 icon=SP.SP_MediaSkipBackward)
        self.a_end = self._act("Jump to end", self.to_end, ["End"], "Run to the end of the scenario (End)",
                               icon=SP.SP_MediaSkipForward)
        self.a_next_chapter = self._act("Next chapter", lambda: self.worker.find_chapter(1), ["PgDown"],
                                        "To the first event of the next chapter (Page Down)")
        self.a_prev_chapter = self._act("Previous chapter", lambda: self.worker.find_chapter(-1), ["PgUp"],
                                        "To the first event of this or the previous chapter (Page Up)")
        self.a_next_kind = self._act("Next of this kind", lambda: self.find_kind(1), ["Ctrl+Right"],
                                     "Next event of the current event's kind (Ctrl+Right)")
        self.a_prev_kind = self._act("Previous of this kind", lambda: self.find_kind(-1), ["Ctrl+Left"],
                                     "Previous event of the current event's kind (Ctrl+Left)")
        self.a_find = self._act("Search events", self.search_events, ["Ctrl+F"],
                                "Type in the event list's search box (Ctrl+F; Esc: back to the picture)")
        self.a_open = self._act("Open…", self.open_dialog, ["Ctrl+O"], "Open a scenario or a session file (Ctrl+O)")
        self.a_save_session = self._act("Save session…", lambda: SE.save_dialog(self), ["Ctrl+Shift+S"],
                                        "Save what the window shows (scenario, event, zoom, selection, "
                                        "filters) as a .vmmemviz session (Ctrl+Shift+S)")
        self.a_save = self._act("Save scenario as…", self.save_dialog, ["Ctrl+S"],
                                "Save the scenario, with changed settings, as TOML (Ctrl+S)")
        self.a_export = self._act("Export figure…", self.export, ["Ctrl+E"], "Export PNG, SVG, GIF or APNG (Ctrl+E)")
        self.a_settings = self._act("Settings…", self.settings_dialog, ["Ctrl+,"],
                                    "ESXi advanced settings of this scenario; changes re-run it from the start")
        self.a_help = self._act("Help on this event", self.help, ["F1"], "What the current kind of event is (F1)")
        self.a_fit = self._act("Zoom to fit", self.layer_view.fit, ["Ctrl+0"], "Show the whole picture (Ctrl+0)")
        self.a_zin = self._act("Zoom in", lambda: self.layer_view.zoom(1.25), ["Ctrl++", "Ctrl+="], "Zoom in (Ctrl++)")
        self.a_zout = self._act("Zoom out", lambda: self.layer_view.zoom(0.8), ["Ctrl+-"], "Zoom out (Ctrl+-)")
        self.a_dark = self._act("Dark theme", lambda: self.set_theme("dark"), tip="Dark theme", checkable=True)
        self.a_light = self._act("Light theme", lambda: self.set_theme("light"), tip="Light theme", checkable=True)
        grp = QtGui.QActionGroup(self)
        for a in (self.a_dark, self.a_light):
            grp.addAction(a)
        self.a_quit = self._act("Quit", self.close, ["Ctrl+Q"], "Quit (Ctrl+Q)")
        tb = self.addToolBar("Playback")
        tb.setObjectName("toolbar_playback")
        tb.setMovable(False)
        for a in (self.a_start, self.a_back, self.a_play, self.a_step, self.a_end):
            tb.addAction(a)
        tb.addSeparator()
        self.a_prev_chapter.setIconText("◀ Chapter")
        self.a_next_chapter.setIconText("Chapter ▶")
        self.a_prev_kind.setIconText("◀ Same kind")
        self.a_next_kind.setIconText("Same kind ▶")
        for a in (self.a_prev_chapter, self.a_next_chapter, self.a_prev_kind, self.a_next_kind):
            tb.addAction(a)
        tb.addSeparator()
        tb.addWidget(QtWidgets.QLabel(" Speed "))
        self.speed = QtWidgets.QComboBox()
        self.speed.addItems([f"{s:g} events/s" if s != AUTO else "auto" for s in SPEEDS])
        self.speed.setToolTip("Events per second while playing; fast speeds skip the animation. auto: "
                              "every simulated second in the same time, the whole run in about two minutes, at least "
                              f"{AUTO_MIN} events/s ([ slower, ] faster)")
        self.speed.currentIndexChanged.connect(self.set_speed_index)
        tb.addWidget(self.speed)
        tb.addWidget(QtWidgets.QLabel("  Animation "))
        self.anim = QtWidgets.QSpinBox()
        self.anim.setRange(0, 3000)
        self.anim.setSingleStep(100)
        self.anim.setSuffix(" ms")
        self.anim.setValue(self.anim_ms)
        self.anim.setToolTip("Length of an event's transition (arrows growing, dots flowing); 0 for none")
        self.anim.valueChanged.connect(self._set_anim)
        tb.addWidget(self.anim)
        tb.addSeparator()
        for a in (self.a_fit, self.a_settings):
            tb.addAction(a)
        for w in (self.speed, self.anim):
            w.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        for b in tb.findChildren(QtWidgets.QToolButton):
            b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.animation = QtCore.QVariantAnimation(self)
        self.animation.setStartValue(0.0)
        self.animation.setEndValue(1.0)
        self.animation.valueChanged.connect(self.layer_view.set_progress)

    def _menus(self):
        mb = self.menuBar()
        f = mb.addMenu("&File")
        f.addAction(self.a_open)
        self.recent_menu = f.addMenu("Open &recent")
        self.recent_menu.setToolTipsVisible(True)
        f.addAction(self.a_save)
        f.addAction(self.a_save_session)
        f.addAction(self.a_export)
        compare.add_menu(self, f)
        f.addAction(self._act("Export esxtop CSV…", self.export_esxtop,
                              tip="The run so far as an esxtop batch capture, one row per tick"))
        f.addSeparator()
        f.addAction(self._act("Snapshot a process…", lambda: R.snapshot_process(self),
                              tip="A live Linux process's pages, guest virtual -> physical, from /proc"))
        f.addAction(self._act("Open esxtop capture…", lambda: R.open_capture(self),
                              tip="An esxtop batch capture (esxtop -b) in the counters and plots"))
        f.addAction(self._act("Scenario from guest images…", lambda: R.images_scenario(self),
                              tip="A scenario with one VM per guest memory image (ELF core, raw, .vmem)"))
        f.addSeparator()
        f.addAction(self.a_quit)
        s = mb.addMenu("&Simulation")
        s.setToolTipsVisible(True)
        for a in (self.a_play, self.a_step, self.a_back, self.a_step10, self.a_back10, self.a_start, self.a_end,
                  self.a_faster, self.a_slower):
            s.addAction(a)
        s.addSeparator()
        for a in (self.a_next_chapter, self.a_prev_chapter, self.a_next_kind, self.a_prev_kind):
            s.addAction(a)
        s.addSeparator()
        s.addAction(self.a_find)
        s.addAction(self.a_settings)
        v = mb.addMenu("&View")
        for a in (self.a_fit, self.a_zin, self.a_zout):
            v.addAction(a)
        v.addSeparator()
        v.addAction(self.a_dark)
        v.addAction(self.a_light)
        v.addSeparator()
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        t = mb.addMenu("&Tours")
        t.setToolTipsVisible(True)
        groups = {"Guided tours (chapters)": [], "Two runs side by side": [], "Scenarios to explore": []}
        for name in S.builtin_names():
            try:
                sc = S.load(name)
            except InputError:
                continue
            kind = "Two runs side by side" if sc.compare_sets else \
                "Guided tours (chapters)" if sc.chapters else "Scenarios to explore"
            groups[kind].append((sc.name, name, sc.description.split("\n")[0] if sc.description else name))
        for section, entries in groups.items():
            if entries:
                t.addSection(section)
            for title, name, tip in sorted(entries):
                a = t.addAction(title)
                a.setToolTip(tip)
                a.triggered.connect(lambda _=False, n=name: self.open_scenario(n))
        if t.isEmpty():
            t.addAction("(no tours installed)").setEnabled(False)
        h = mb.addMenu("&Help")
        h.addAction(self.a_help)
        h.addAction(self._act("About vmmemviz", lambda: show_about(self)))
        self._fill_recent()

    # -- commands ---------------------------------------------------------------------------
    @property
    def worker(self):
        return self.engine.worker

    def message(self, rich: str, error: bool = False):
        """``rich`` (rich text) in the message strip and, plain, in the status bar."""
        self.banner.show_message(rich, error, self.state.theme)
        bar = self.statusBar()          # elided left of the position (and compare's run B): Qt cuts it mid-word
        room = bar.width() - sum(w.width() for w in bar.findChildren(
            QtWidgets.QWidget, options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly) if w.isVisible()) - 24
        plain = QtGui.QTextDocumentFragment.fromHtml(rich).toPlainText()
        bar.showMessage(bar.fontMetrics().elidedText(plain, QtCore.Qt.TextElideMode.ElideRight, max(room, 40)), 10000)

    def toggle_play(self):
        self.set_playing(not self.playing)

    def set_playing(self, on: bool):
        self.playing = on
        self.worker.set_playing(on)
        if not on and self.frame is not None:
            self._show_panels()          # they were throttled while playing
        SP = QtWidgets.QStyle.StandardPixmap
        self.a_play.setText("Pause" if on else "Play")
        self.a_play.setIcon(self.style().standardIcon(SP.SP_MediaPause if on else SP.SP_MediaPlay))

    def step(self, n: int):
        """``n`` events on; with filters on, ``n`` of the events they show (as the list does)."""
        if self.playing:
            self.set_playing(False)
        self._last_step = time.monotonic()
        if not self.state.filters.active() or self.frame is None:
            self.worker.step(n)
            return
        pos = self._pending if self._pending is not None else self.frame.pos
        i = self.events.model.step_from(pos - 1, n)
        if i is None:
            self.message(f"No {'later' if n > 0 else 'earlier'} event matches the event list's filters"
                         + (" yet." if n > 0 and not self.frame.finished else "."))
            return
        self._pending = i + 1
        self.worker.seek(i + 1)

    def seek(self, pos: int):
        self._pending = None
        self.worker.seek(int(pos))

    def to_end(self):
        self._pending = None
        self.worker.to_end()

    def find_kind(self, direction: int):
        """The next / previous event of the current event's kind."""
        f = self.frame
        if f is None or f.event is None:
            self.message("Step to an event first: then Ctrl+Right finds the next one of its kind.")
            return
        self._pending = None
        self.worker.find_kind(int(f.event["kind"]), direction)

    def nudge_speed(self, step: int):
        """The next speed up (+1) or down (-1) the box; from auto, the fixed speed next to
        the rate auto plays at (auto itself is chosen in the box)."""
        i = self.speed.currentIndex()
        if SPEEDS[i] == AUTO:
            rate = self.frame.rate if self.frame is not None and self.frame.rate else AUTO_MIN
            near = [k for k in range(1, len(SPEEDS)) if (SPEEDS[k] > rate if step > 0 else SPEEDS[k] < rate)]
            i = (near[0] if step > 0 else near[-1]) if near else (len(SPEEDS) - 1 if step > 0 else 1)
        else:
            i = max(1, i + step)
        self.set_speed_index(i)

    def set_speed_index(self, i: int):
        i = max(0, min(len(SPEEDS) - 1, int(i)))
        if self.speed.currentIndex() != i:
            self.speed.setCurrentIndex(i)
        self.worker.set_speed(SPEEDS[i])
        self.qsettings.setValue("speed", SPEEDS[i])

    def _set_anim(self, ms):
        self.anim_ms = int(ms)
        self.qsettings.setValue("anim_ms", self.anim_ms)

    def inspect(self, ref):
        self.state.select(ref)

    def _selected(self, ref):
        if ref is None:
            self.inspector.clear()
            self.layer_view.set_chain(())
        else:
            self.worker.inspect(ref)

    def _hovered(self, ref):
        if ref is not None:
            self.worker.describe(ref)

    def help(self):
        H.show_help(self.frame.kind if self.frame is not None else None, self)

    def export(self):
        if importlib.util.find_spec("vmmemviz.ui.exportdialog") is None:
            self.message("Export is not available in this build.")
            return
        from .exportdialog import ExportDialog
        ExportDialog(self).exec()

    @property
    def theme(self) -> str:
        return self.state.theme

    def set_theme(self, name: str):
        self.state.set_theme(name)
        self._themed(name)

    def _themed(self, name: str):
        self.qsettings.setValue("theme", name)
        T.apply(QtWidgets.QApplication.instance(), name)
        (self.a_dark if name == "dark" else self.a_light).setChecked(True)
        self.layer_view.set_theme(name)
        self.timeline_bar.set_theme(name)
        if self.frame is not None:
            self.legend.set_vms(self.frame.vm_names, name)
        t = P.THEMES[name]
        self.chapter_label.setStyleSheet(f"color: {t['muted']};")
        self.caption.setStyleSheet(f"color: {t['fg']};")

    # -- scenarios ---------------------------------------------------------------------------
    def open_dialog(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open scenario or session", str(Path.home()),
            f"Scenarios and sessions (*.toml *{SS.SUFFIX});;Scenarios (*.toml);;{SE.FILTER};;All files (*)")
        if path:
            self.open_scenario(path)

    def open_scenario(self, name_or_path: str):
        """Open a scenario, or a session (``.vmmemviz``)."""
        try:
            if SS.is_session(name_or_path):
                SE.restore(self, SS.load(name_or_path))
                return
            sc = S.load(name_or_path)
        except InputError as e:
            QtWidgets.QMessageBox.warning(self, "Cannot open file", str(e))
            return
        self.show_scenario(sc)

    def show_scenario(self, sc, pos: int = 0):
        """Run ``sc`` from the start and show it at event ``pos``."""
        self.set_playing(False)
        self._previous, self.scenario = self.scenario, sc
        self._rerun = None
        self.banner.hide()
        self.layer_view.fit()
        self._loading(sc)
        self.worker.load(sc, pos)
        compare.opened(self, sc)
        self._title()
        self._remember(sc)

    def export_esxtop(self):
        from .esxtopwindow import export_esxtop
        return export_esxtop(self, self.frame, self.scenario)

    def save_dialog(self):
        start = self.scenario.path if self.scenario.path and not self.scenario.path.startswith(str(S.BUILTIN_DIR)) \
            and not SS.is_session(self.scenario.path) \
            else str(Path.home() / f"{Path(self.scenario.path or 'scenario').stem}.toml")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save scenario", start, "Scenarios (*.toml)")
        if path:
            self.save_scenario(path)

    def save_scenario(self, path: str):
        Path(path).write_text(self.scenario.text, encoding="utf-8")
        self.scenario.path = path
        self._remember(self.scenario)
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def settings_dialog(self):
        dlg = SettingsDialog(self.scenario, self)
        result = dlg.exec()
        if result == COMPARE:
            compare.with_settings(self, *dlg.changed_settings())
        elif result:
            self.apply_settings(*dlg.changed_settings())

    def apply_settings(self, host: dict, vms: dict):
        """Make the open scenario's settings these (the dialog's: every setting that differs
        from its default; one the scenario set and these lack goes back to its default), and
        re-run it from the start, keeping the position; the message strip then shows what
        changed at that position."""
        sc = self.scenario
        if host == sc.settings and all(vms.get(vm.name, {}) == vm.settings for vm in sc.vms):
            return
        changed = settings_changes(sc, host, vms)
        host = {**{k: None for k in sc.settings}, **host}
        vms = {vm.name: {**{k: None for k in vm.settings}, **vms.get(vm.name, {})} for vm in sc.vms}
        src = self.scenario.path or "<scenario>"
        try:
            sc = S.parse(apply_settings_text(sc.text, host, vms, src), src)
        except InputError as e:
            self.message(f"Settings not applied: {e}", error=True)
            return
        sc.path = self.scenario.path
        self._previous, self.scenario = self.scenario, sc
        pos = self.frame.pos if self.frame is not None else 0
        self._rerun = (changed, self.frame.counters if self.frame is not None else {}, pos, self.state.log)
        self._loading(sc)
        self.worker.load(sc, pos)
        self.statusBar().showMessage("Settings applied: the scenario was run again from the start.", 5000)

    def _remember(self, sc):
        if not sc.path or sc.path.startswith(str(S.BUILTIN_DIR)):
            return
        recent = [p for p in (self.qsettings.value("recent") or []) if p != sc.path]
        self.qsettings.setValue("recent", [sc.path] + recent[:RECENT_MAX - 1])
        self._fill_recent()

    def _fill_recent(self):
        self.recent_menu.clear()
        recent = self.qsettings.value("recent") or []
        if isinstance(recent, str):
            recent = [recent]
        for p in recent:
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, p=p: self.open_scenario(p))
        self.recent_menu.setEnabled(bool(recent))

    def _title(self):
        self.setWindowTitle(f"{self.scenario.name} — vmmemviz")

    # -- from the worker ------------------------------------------------------------------------
    def _loaded(self, src):
        self._previous = None
        self.state.set_source(src, fresh=self._rerun is None)

    def _loading(self, sc) -> None:
        """Say over the picture what is being built until its first frame (seconds at host scale)."""
        n, guest = len(sc.vms), size_text(sum(vm.pages for vm in sc.vms))
        self.layer_view.set_loading(f"Building a {size_text(sc.host_pages)} host and {n} VM{'s' * (n != 1)} "
                                    f"({guest} of guest memory)…")

    def _failed(self, msg: str):
        self.layer_view.set_loading(None)
        if self._previous is None:
            self.message(f"Simulation error: {msg}", error=True)
            return
        failed, self.scenario, self._previous, self._rerun = self.scenario, self._previous, None, None
        self._title()                   # the window still shows the scenario it had
        self.message(f"Cannot run {html.escape(failed.name)}: {html.escape(msg)}", error=True)

    def _source(self, src):
        """A scenario was loaded: the panels start over (the state already dropped the
        selection and the filters of the last one), the chapter line makes room for the
        longest of its chapters."""
        self._pending = None
        self.chapter_label.reserve(chapter_parts("Chapter 88 of 88+: ", c) for c in Chapters.longest(src.scenario))
        for panel in (self.events, self.inspector):
            panel.set_source(src.log, src.vm_names)
        for panel in (self.counters, self.plots):
            panel.set_settings(dict(src.settings))

    def show_frame(self, frame):
        prev = self.frame
        if self._previous is None:          # a frame of the scenario loaded, not of the one left
            self.layer_view.set_loading(None)
        self.state.set_frame(frame)
        if self._pending == frame.pos:
            self._pending = None
        step = prev is not None and abs(frame.pos - prev.pos) == 1
        fast = (self.playing and 1000.0 / (frame.rate or AUTO_MIN) < self.anim_ms * 1.2) or \
            (not self.playing and time.monotonic() - self._last_step < self.anim_ms / 1000.0 * 0.5 and
             prev is not None and self.animation.state() == QtCore.QAbstractAnimation.State.Running)
        animate = step and not fast and self.anim_ms > 0 and bool(frame.arrows)
        self.animation.stop()
        self.layer_view.set_frame(frame, 0.0 if animate else 1.0)
        if animate:
            self.animation.setDuration(self.anim_ms)
            self.animation.start()
        self.legend.set_vms(frame.vm_names, self.theme)
        self._fit_legend()
        self.timeline_bar.set_position(frame.pos)
        self._caption(frame)
        self._status()
        if not self.playing or time.monotonic() - self._panels_at > PANELS_EVERY_S:
            self._show_panels()
        if self.state.selection is not None and (prev is None or prev.pos != frame.pos):
            self.worker.inspect(self.state.selection)     # keep the inspector on the shown position
        if self._rerun is not None and self._previous is None and frame.pos == self._rerun[2]:
            # the new run's frame (_loaded has come): an old run's frame of that position may
            # still have been queued, and compared the old run with itself
            changed, before, pos, old_log = self._rerun
            self._rerun = None
            self.message(changes_html(changed, counter_changes(before, frame.counters), pos,
                                      old_log, self.state.log, frame.vm_names))
        if self.playing and frame.finished and frame.pos >= frame.total:
            self.set_playing(False)
        self._after_paint.post(self.worker.ack)     # the next frame is built while nothing paints

    def _caption(self, frame):
        """The chapter (what this part of the tour is about) over the event (what just happened)."""
        self.caption.set_parts("", frame.narration)
        ch = frame.chapter
        self.chapter_label.setVisible(bool(self.scenario.chapters))    # its room kept through a tour
        if ch is None:
            self.chapter_label.set_parts("", "")
            return
        chapters = self.timeline_bar.summary["chapters"]
        k = sum(1 for at, _, _ in chapters if at <= max(frame.pos, 1))
        where = f"Chapter {k} of {len(chapters)}{'' if frame.finished else '+'}: " if chapters else ""
        self.chapter_label.set_parts(*chapter_parts(where, ch))
        if frame.kind:
            self.a_next_kind.setToolTip(f"Next {frame.kind} event (Ctrl+Right)")
            self.a_prev_kind.setToolTip(f"Previous {frame.kind} event (Ctrl+Left)")

    def _status(self):
        f = self.frame
        host = f.counters.get("host", {})
        then = f" (at event {f.counters_pos:,})" if f.counters_pos not in (None, f.pos) else ""
        self.status_pos.setText(f"event {f.pos:,} / {f.total:,}{'' if f.finished else '+'}  ·  "
                                f"t = {f.tick} s  ·  host state {host.get('state', '?')}  ·  "
                                f"free {host.get('free_mb', 0):,.1f} MB{then}")

    def _show_panels(self):
        """Each panel in its own pass of the event loop: a key pressed meanwhile waits for one."""
        self._panels_at = time.monotonic()
        for panel in (self.counters, self.plots, self.events):
            self._after_paint.post(lambda panel=panel, f=self.frame: panel.show_frame(f))

    def chapter_list(self) -> list:
        """The chapters as the timeline bar lists them: (position of its first event, title,
        text), the host states' too (the export dialog's chapter picker)."""
        return list(self.timeline_bar.summary.get("chapters", ()))

    def _summary(self, summary):
        """The log grew in the background: the event list, the status bar and the chapter line
        follow (its "chapter k of n" counts this summary's chapters, which may come after the
        frame: the last one at the end of a run did, and the line said 13 of 13 of 14)."""
        f = self.frame
        if f is None:
            return
        if (f.total, f.finished) != (summary["total"], summary["finished"]):
            self.state.frame = dataclasses.replace(f, total=summary["total"], finished=summary["finished"])
            self.events.show_frame(self.frame)
            self._status()
        self._caption(self.frame)

    def _inspected(self, info):
        if self.state.selection is None:
            return                       # answered after the selection was dropped (a new scenario)
        self.inspector.show_inspection(info)
        self.layer_view.set_chain(info.get("chain", ()))
        self.docks["inspector"].raise_()

    # -- window state ------------------------------------------------------------------------------
    def closeEvent(self, ev):
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("windowState", self.saveState())
        compare.close(self)
        self.engine.shutdown()
        super().closeEvent(ev)
