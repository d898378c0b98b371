"""The main window: caption, layer view, legend and timeline; panels docked around them.

The model runs in the simulation thread (engine.worker); this window only sends commands
(play, step, seek, inspect) and paints the Frames that come back. Keys: Space play/pause,
Right/Left step, Shift+Right/Left ten steps, Home/End, Ctrl+O open, Ctrl+S save,
Ctrl+E export, F1 help on the current event's kind.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ..errors import InputError
from vmmemviz.model.config import scenario as S
from ..scene import palette as P
from . import theme as T
from .about import app_icon, show_about
from .counters import CountersPanel
from .eventlist import EventList
from .inspector import InspectorPanel
from .layerview import LayerView
from .legend import LegendWidget
from .plots import PlotsPanel
from .settingsdialog import SettingsDialog
from .timelinebar import TimelineBar
from . import help as H
from ..engine.worker import Engine

ORG = "vmmemviz"
RECENT_MAX = 8
SPEEDS = (0.5, 1, 2, 4, 8, 16, 50, 200, 1000, 10000)
PANELS_EVERY_S = 0.2     # while playing, the panels follow at most this often (input stays quick)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))


def apply_settings_text(text: str, host: dict, vms: dict) -> str:
    """The scenario text with settings set: host ones in ``[settings]``, VM ones in the VM's
    ``[vm.settings]``; existing lines of those keys are replaced (a value of None removes
    the line: back to the default), everything else is kept as written."""
    lines = text.splitlines()

    def header(ln):
        s = ln.strip()
        return s[1:-1].strip() if s.startswith("[") and s.endswith("]") else None

    def set_in(start, end, table, values):
        """Set ``values`` in ``table`` within lines[start:end]; returns the new lines slice."""
        block = lines[start:end]
        at = next((i for i, ln in enumerate(block) if header(ln) == table), None)
        new = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in values.items() if v is not None]
        if at is None:
            if not new:
                return block
            while block and not block[-1].strip():
                block.pop()
            return block + ["", f"[{table}]"] + new + [""]
        stop = next((i for i in range(at + 1, len(block)) if header(block[i]) is not None), len(block))
        keep = [ln for ln in block[at + 1:stop]
                if ln.split("=", 1)[0].strip().strip('"') not in values or "=" not in ln]
        return block[:at + 1] + new + keep + block[stop:]

    for name, values in vms.items():
        if not values:
            continue
        starts = [i for i, ln in enumerate(lines) if header(ln) == "[vm]"]
        for s in starts:
            end = next((i for i in range(s + 1, len(lines)) if (h := header(lines[i])) is not None
                        and not h.startswith("vm.") and not h.startswith("[vm.")), len(lines))
            if any(ln.split("=", 1)[0].strip() == "name" and ln.split("=", 1)[1].strip().strip('"') == name
                   for ln in lines[s:end] if "=" in ln):
                lines[s:end] = set_in(s, end, "vm.settings", values)
                break
    if host:
        first_array = next((i for i, ln in enumerate(lines) if (h := header(ln)) and h.startswith("[")), len(lines))
        lines[:first_array] = set_in(0, first_array, "settings", host)
    out = "\n".join(lines) + "\n"
    sc = S.parse(out)            # the result must still be a valid scenario with those values
    for k, v in host.items():
        assert sc.settings.get(k) == v, k
    for vm in sc.vms:
        for k, v in vms.get(vm.name, {}).items():
            assert vm.settings.get(k) == v, (vm.name, k)
    return out


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, scenario_name_or_path: str = "default", settings: QtCore.QSettings | None = None):
        super().__init__()
        self.qsettings = settings or QtCore.QSettings(ORG, ORG)
        self.theme = self.qsettings.value("theme", "dark")
        if self.theme not in T.NAMES:
            self.theme = "dark"
        self.scenario = S.load(scenario_name_or_path)
        self.frame = None
        self.timeline = None            # the worker's Timeline (read only here: event list)
        self.playing = False
        self.anim_ms = int(self.qsettings.value("anim_ms", 300))
        self._last_step = 0.0
        self._inspected_ref = None
        self._panels_at = 0.0
        self.setWindowIcon(app_icon())
        self._build()
        self._actions()
        self._menus()
        self.engine = Engine(self.scenario, self)
        w = self.engine.worker
        w.frameReady.connect(self.show_frame)
        w.timelineChanged.connect(self.timeline_bar.set_summary)
        w.timelineChanged.connect(self._summary)
        w.inspected.connect(self._inspected)
        w.described.connect(self.layer_view.show_page_tip)
        w.loaded.connect(self._loaded)
        self.layer_view.aspectChanged.connect(w.set_aspect)
        w.failed.connect(lambda msg: self.statusBar().showMessage(f"Simulation error: {msg}", 10000))
        self.engine.start()                 # only now: no signal of the first load is missed
        self.set_speed_index(int(self.qsettings.value("speed_index", 3)))
        self._title()
        self.set_theme(self.theme)
        geo = self.qsettings.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1500, 950)
        st = self.qsettings.value("windowState")
        if st is not None:
            self.restoreState(st)
        else:
            QtCore.QTimer.singleShot(0, self._size_docks)
        self._remember(self.scenario)

    # -- building --------------------------------------------------------------------------
    def _size_docks(self):
        """First start: the panels get what the event list needs (its filters and search),
        at most 45% of the window; the picture gets the rest."""
        want = max(self.width() * 3 // 10, self.events.minimumSizeHint().width() + 24)
        self.resizeDocks([self.docks["events"]], [min(want, self.width() * 45 // 100)],
                         QtCore.Qt.Orientation.Horizontal)

    def _build(self):
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        self.chapter_label = QtWidgets.QLabel()
        self.chapter_label.setToolTip("The tour chapter this part of the timeline belongs to")
        self.chapter_label.setWordWrap(True)
        self.caption = QtWidgets.QLabel()
        self.caption.setWordWrap(True)
        self.caption.setToolTip("What the current event did, in plain words (F1: more about this kind of event)")
        f = self.caption.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.caption.setFont(f)
        self.caption.setMinimumHeight(int(QtGui.QFontMetrics(f).height() * 2.3))
        self.caption.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.layer_view = LayerView(theme=self.theme)
        self.layer_view.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.layer_view.setToolTip("")
        self.layer_view.pageHovered.connect(self._hovered)
        self.layer_view.pageClicked.connect(self.inspect)
        self.legend = LegendWidget()
        self.timeline_bar = TimelineBar()
        self.timeline_bar.seekRequested.connect(self.seek)
        for wdg in (self.chapter_label, self.caption):
            lay.addWidget(wdg)
        lay.addWidget(self.layer_view, 1)
        lay.addWidget(self.legend)
        lay.addWidget(self.timeline_bar)
        central.setMinimumWidth(640)          # the picture keeps its room however wide the panels get
        self.setCentralWidget(central)
        self.counters = CountersPanel()
        self.plots = PlotsPanel()
        self.inspector = InspectorPanel()
        self.events = EventList()
        self.inspector.seekRequested.connect(self.seek)
        self.inspector.referenceClicked.connect(self.inspect)
        self.events.seekRequested.connect(self.seek)
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
        self.status_pos = QtWidgets.QLabel()
        self.status_pos.setToolTip("Position in the event log, simulated time and the host's memory state")
        self.statusBar().addPermanentWidget(self.status_pos)

    def _act(self, text, slot, keys=(), tip="", checkable=False):
        a = QtGui.QAction(text, self)
        if keys:
            a.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            a.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        a.setToolTip(tip or text)
        a.setStatusTip(tip or text)
        a.setCheckable(checkable)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _actions(self):
        st = self.style()
        SP = QtWidgets.QStyle.StandardPixmap
        self.a_play = self._act("Play", self.toggle_play, ["Space"], "Play / pause the simulation (Space)")
        self.a_play.setIcon(st.standardIcon(SP.SP_MediaPlay))
        self.a_step = self._act("Step forward", lambda: self.step(1), ["Right"], "One event forward (Right)")
        self.a_step.setIcon(st.standardIcon(SP.SP_MediaSeekForward))
        self.a_back = self._act("Step back", lambda: self.step(-1), ["Left"], "One event back (Left)")
        self.a_back.setIcon(st.standardIcon(SP.SP_MediaSeekBackward))
        self.a_step10 = self._act("Ten forward", lambda: self.step(10), ["Shift+Right"], "Ten events forward (Shift+Right)")
        self.a_back10 = self._act("Ten back", lambda: self.step(-10), ["Shift+Left"], "Ten events back (Shift+Left)")
        self.a_start = self._act("Jump to start", lambda: self.seek(0), ["Home"], "Back to the start (Home)")
        self.a_start.setIcon(st.standardIcon(SP.SP_MediaSkipBackward))
        self.a_end = self._act("Jump to end", self.to_end, ["End"], "Run to the end of the scenario (End)")
        self.a_end.setIcon(st.standardIcon(SP.SP_MediaSkipForward))
        self.a_open = self._act("Open scenario…", self.open_dialog, ["Ctrl+O"], "Open a scenario file (Ctrl+O)")
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
        tb.addWidget(QtWidgets.QLabel(" Speed "))
        self.speed = QtWidgets.QComboBox()
        self.speed.addItems([f"{s:g} events/s" for s in SPEEDS])
        self.speed.setToolTip("Events per second while playing; fast speeds skip the animation")
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
        f.addAction(self.a_export)
        f.addAction(self._act("Export esxtop CSV…", self.export_esxtop,
                              tip="The run so far as an esxtop batch capture, one row per tick"))
        f.addSeparator()
        f.addAction(self._act("Snapshot a process…", self.snapshot_process,
                              tip="A live Linux process's pages, guest virtual -> physical, from /proc"))
        f.addAction(self._act("Open esxtop capture…", self.open_capture,
                              tip="An esxtop batch capture (esxtop -b) in the counters and plots"))
        f.addAction(self._act("Scenario from guest images…", self.images_scenario,
                              tip="A scenario with one VM per guest memory image (ELF core, raw, .vmem)"))
        f.addSeparator()
        f.addAction(self.a_quit)
        s = mb.addMenu("&Simulation")
        for a in (self.a_play, self.a_step, self.a_back, self.a_step10, self.a_back10, self.a_start, self.a_end):
            s.addAction(a)
        s.addSeparator()
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
        for name in S.builtin_names():
            try:
                sc = S.load(name)
            except InputError:
                continue
            if sc.chapters:
                a = t.addAction(f"{sc.name}")
                a.setToolTip(sc.description.split("\n")[0] if sc.description else name)
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
        if self.playing:
            self.set_playing(False)
        self._last_step = time.monotonic()
        self.worker.step(n)

    def seek(self, pos: int):
        self.worker.seek(int(pos))

    def to_end(self):
        self.worker.to_end()

    def set_speed_index(self, i: int):
        i = max(0, min(len(SPEEDS) - 1, int(i)))
        if self.speed.currentIndex() != i:
            self.speed.setCurrentIndex(i)
        self.worker.set_speed(SPEEDS[i])
        self.qsettings.setValue("speed_index", i)

    def _set_anim(self, ms):
        self.anim_ms = int(ms)
        self.qsettings.setValue("anim_ms", self.anim_ms)

    def inspect(self, ref):
        self._inspected_ref = tuple(ref)
        self.worker.inspect(self._inspected_ref)

    def _hovered(self, ref):
        if ref is not None:
            self.worker.describe(ref)

    def help(self):
        H.show_help(self.frame.kind if self.frame is not None else None, self)

    def export(self):
        if importlib.util.find_spec("vmmemviz.ui.exportdialog") is None:
            self.statusBar().showMessage("Export is not available in this build.", 5000)
            return
        from .exportdialog import ExportDialog
        ExportDialog(self).exec()

    def set_theme(self, name: str):
        self.theme = name
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
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open scenario", str(Path.home()),
                                                        "Scenarios (*.toml);;All files (*)")
        if path:
            self.open_scenario(path)

    def open_scenario(self, name_or_path: str):
        try:
            sc = S.load(name_or_path)
        except InputError as e:
            QtWidgets.QMessageBox.warning(self, "Cannot open scenario", str(e))
            return
        self.set_playing(False)
        self.scenario = sc
        self._inspected_ref = None
        self.layer_view.set_chain(())
        self.layer_view._fit = True
        self.worker.load(sc, 0)
        self._title()
        self._remember(sc)

    # -- real data (vmmemviz.ui.realdata) ----------------------------------------------------
    def snapshot_process(self, pid: int | None = None):
        from ..importers.procsnap import snapshot
        from .realdata import ProcessWindow
        if pid is None:
            pid, ok = QtWidgets.QInputDialog.getInt(self, "Snapshot a process", "Process ID:", 1, 1, 1 << 22)
            if not ok:
                return None
        try:
            snap = snapshot(pid)
        except InputError as e:
            QtWidgets.QMessageBox.warning(self, "Cannot read that process", str(e))
            return None
        win = ProcessWindow(snap, Path(f"/proc/{pid}/comm").read_text().strip()
                            if Path(f"/proc/{pid}/comm").exists() else "", self.theme, self)
        win.show()
        return win

    def export_esxtop(self):
        from .esxtopwindow import export_esxtop
        return export_esxtop(self, self.frame, self.scenario)

    def open_capture(self):
        from ..importers.esxtop import read_esxtop
        from .esxtopwindow import CaptureWindow
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open esxtop capture", str(Path.home()),
                                                        "esxtop batch output (*.csv);;All files (*)")
        if path:
            try:
                CaptureWindow(read_esxtop(path), self, self.theme).show()
            except InputError as e:
                QtWidgets.QMessageBox.warning(self, "Cannot read the capture", str(e))

    def images_scenario(self):
        import tempfile
        from .realdata import image_scenario
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Guest memory images", str(Path.home()),
                                                          "Memory images (*.elf *.core *.raw *.vmem *.img);;All files (*)")
        if paths:
            try:
                self.open_scenario(image_scenario(paths, tempfile.mkdtemp(prefix="vmmemviz-")))
            except InputError as e:
                QtWidgets.QMessageBox.warning(self, "Cannot read the images", str(e))

    def save_dialog(self):
        start = self.scenario.path if self.scenario.path and not self.scenario.path.startswith(str(S.BUILTIN_DIR)) \
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
        if dlg.exec():
            self.apply_settings(*dlg.changed_settings())

    def apply_settings(self, host: dict, vms: dict):
        """Make the open scenario's settings these (the dialog's: every setting that differs
        from its default; one the scenario set and these lack goes back to its default), and
        re-run it from the start, keeping the position."""
        sc = self.scenario
        if host == sc.settings and all(vms.get(vm.name, {}) == vm.settings for vm in sc.vms):
            return
        host = {**{k: None for k in sc.settings}, **host}
        vms = {vm.name: {**{k: None for k in vm.settings}, **vms.get(vm.name, {})} for vm in sc.vms}
        text = apply_settings_text(sc.text, host, vms)
        sc = S.parse(text, self.scenario.path or "<scenario>")
        sc.path = self.scenario.path
        self.scenario = sc
        self.worker.load(sc, self.frame.pos if self.frame is not None else 0)
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
    def _loaded(self, timeline):
        self.timeline = timeline
        for panel in (self.events, self.inspector):
            panel.set_source(timeline.log, [vm.name for vm in timeline.view.vms])
        for panel in (self.counters, self.plots):
            panel.set_settings(timeline.sim.settings)

    def show_frame(self, frame):
        prev = self.frame
        self.frame = frame
        step = prev is not None and abs(frame.pos - prev.pos) == 1
        fast = (self.playing and 1000.0 / self.worker.speed < self.anim_ms * 1.2) or \
            (not self.playing and time.monotonic() - self._last_step < self.anim_ms / 1000.0 * 0.5 and
             prev is not None and self.animation.state() == QtCore.QAbstractAnimation.State.Running)
        animate = step and not fast and self.anim_ms > 0 and bool(frame.arrows)
        self.animation.stop()
        self.layer_view.set_frame(frame, 0.0 if animate else 1.0)
        if animate:
            self.animation.setDuration(self.anim_ms)
            self.animation.start()
        self.legend.set_vms(frame.vm_names, self.theme)
        self.timeline_bar.set_position(frame.pos)
        self.caption.setText(frame.narration)
        ch = frame.chapter
        self.chapter_label.setText(f"<b>{ch.title}</b> — {ch.text}" if ch is not None else "")
        self.chapter_label.setVisible(ch is not None)
        self._status()
        if not self.playing or time.monotonic() - self._panels_at > PANELS_EVERY_S:
            self._show_panels()
        if self._inspected_ref is not None and (prev is None or prev.pos != frame.pos):
            self.worker.inspect(self._inspected_ref)     # keep the inspector on the shown position
        if self.playing and frame.finished and frame.pos >= frame.total:
            self.set_playing(False)
        QtCore.QTimer.singleShot(0, self.worker.ack)

    def _status(self):
        f = self.frame
        host = f.counters.get("host", {})
        self.status_pos.setText(f"event {f.pos:,} / {f.total:,}{'' if f.finished else '+'}  ·  "
                                f"t = {f.tick} s  ·  host state {host.get('state', '?')}  ·  "
                                f"free {host.get('free_mb', 0):,.1f} MB")

    def _show_panels(self):
        self._panels_at = time.monotonic()
        for panel in (self.counters, self.plots, self.events):
            panel.show_frame(self.frame)

    def _summary(self, summary):
        """The log grew in the background: the event list and the status bar follow."""
        f = self.frame
        if f is None or (f.total, f.finished) == (summary["total"], summary["finished"]):
            return
        self.frame = dataclasses.replace(f, total=summary["total"], finished=summary["finished"])
        self.events.show_frame(self.frame)
        self._status()

    def _inspected(self, info):
        self.inspector.show_inspection(info)
        self.layer_view.set_chain(info.get("chain", ()))
        self.docks["inspector"].raise_()

    # -- window state ------------------------------------------------------------------------------
    def closeEvent(self, ev):
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("windowState", self.saveState())
        self.engine.shutdown()
        super().closeEvent(ev)
