"""Compare mode: run B beside the window's run A, aligned by simulated time.

One timeline and one set of playback controls drive both: every frame of run A (play, step,
seek, chapter, find) asks run B's own simulation thread for its state at A's moment
(``SimWorker.seek_tick``): the same simulated second, the same share of that second's events
applied. So stepping moves run A one event and shows run B at the same tick; at the last
event of a second both runs have done that second, and an unchanged copy shows the same
position. Run B's engine follows the window's rule: only
immutable Frames and snapshots cross the thread boundary.

The two layer views share zoom and pan; pages whose state differs (``scene.compare``) are
outlined in both (``Picture.set_marks``, as exports draw them); a counters table shows A, B and B − A (``compare.delta``); the plots draw
B dashed over A. Clicking a page of run B inspects it in run B (the inspector says "Run B"),
as a click in run A's view does in A. ``start(window, CompareState)`` opens it, ``close(window)`` goes back to
one run. The state is kept as one :class:`~vmmemviz.ui.comparestate.CompareState`. Keys:
Ctrl+Shift+O compare with a scenario file, Ctrl+Shift+L stacked / side by side,
Ctrl+Shift+W close the comparison.
"""
from __future__ import annotations

import dataclasses
import gc
import html
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from vmmemviz.errors import InputError
from vmmemviz.model.config import compare as C
from vmmemviz.model.config import scenario as S
from ..engine.worker import Engine
from ..scene import palette as P
from ..scene.compare import diff_frames, grid_mask
from .comparestate import CompareState
from .counters import counter_name, fmt
from .layerview import LayerView
from .settingsdialog import changed_from

HALO_PX = 6             # pages smaller than this on screen get a ring round them
HALO_MAX = 20000        # more differing pages than this: the picture's outline alone
STEP_TIP = ("Compare: Right / Left step run A one event; run B goes to the same point of the same "
            "simulated second (the same share of that second's events applied: at a second's last "
            "event, both runs have done that second). Seek, play and chapters move both.")


class Halo(QtWidgets.QGraphicsItem):
    """Rings just outside the differing pages while they are too small on screen for the
    picture's own outline (``Picture.set_marks``, inside the cell) to be seen: far out, a
    page of two pixels still shows. Zoomed in to HALO_PX a page, the outline alone."""

    def __init__(self):
        super().__init__()
        self.setZValue(9)                 # over the grids, under the arrows
        self.cells: list[tuple] = []      # per band: (x, y, column and row arrays of marked pages)
        self.colour = QtGui.QColor(P.THEMES["dark"]["diff"])
        self._rect = QtCore.QRectF()

    def set_masks(self, bands, masks: dict, theme: str) -> None:
        self.prepareGeometryChange()
        self.colour = QtGui.QColor(P.THEMES[theme]["diff"])
        self.cells, rect = [], QtCore.QRectF()
        for b in bands:
            if b.key in masks:
                ys, xs = np.nonzero(grid_mask(b, masks[b.key]))
                self.cells.append((b.x, b.y, xs, ys))
                rect = rect.united(QtCore.QRectF(b.x, b.y, b.cols, b.rows))
        self._rect = rect.adjusted(-2, -2, 2, 2)
        self.update()

    def boundingRect(self):
        return self._rect

    def paint(self, painter, option, widget=None):
        px = painter.worldTransform().m11()          # screen pixels per page
        if px >= HALO_PX or sum(len(c[2]) for c in self.cells) > HALO_MAX:
            return
        pen = QtGui.QPen(self.colour, 1.5)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        e = 1.5 / px                                 # 1.5 screen pixels outside the page
        for x, y, xs, ys in self.cells:
            painter.drawRects([QtCore.QRectF(x + c - e, y + r - e, 1 + 2 * e, 1 + 2 * e)
                               for c, r in zip(xs.tolist(), ys.tolist())])


class CompareCounters(QtWidgets.QWidget):
    """Every counter of the position shown in A, in B and B − A (``compare.delta``)."""

    COLUMNS = ("Counter", "A", "B", "Δ B − A")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.only = QtWidgets.QCheckBox("Only counters that differ")
        self.only.setChecked(True)
        self.only.setToolTip("Hide the counters that are the same in both runs")
        self.only.toggled.connect(lambda _: self._fill())
        self.table = QtWidgets.QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setToolTip("esxtop counters of the position shown: run A, run B at the same simulated "
                              "second, and B minus A (MB for sizes)")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.only)
        lay.addWidget(self.table, 1)
        self.rows: list[tuple] = []       # (who, counter, a, b, delta or None)
        self.delta: dict = {"host": {}, "vms": {}}

    def show_counters(self, a: dict, b: dict) -> None:
        self.delta = C.delta(a, b)
        rows = [("host", k, v, b["host"].get(k), self.delta["host"].get(k)) for k, v in a["host"].items()]
        for vm, ca in a["vms"].items():
            cb = b["vms"].get(vm, {})
            rows += [(vm, k, v, cb.get(k), self.delta["vms"].get(vm, {}).get(k)) for k, v in ca.items()]
        rows += [(vm, k, None, v, None) for vm, cb in b["vms"].items() if vm not in a["vms"] for k, v in cb.items()]
        self.rows = rows
        self._fill()

    def _fill(self) -> None:
        shown = [r for r in self.rows if not self.only.isChecked() or r[2] != r[3]]
        self.table.setRowCount(len(shown))
        bold = self.font()
        bold.setBold(True)
        for i, (who, k, a, b, d) in enumerate(shown):
            cells = (counter_name(who, k), "–" if a is None else fmt(a), "–" if b is None else fmt(b),
                     "" if d is None else f"{d:+,.2f}" if isinstance(d, float) else f"{d:+,}")
            for j, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if a != b:
                    item.setFont(bold)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()


def mark(view: LayerView, masks: dict) -> None:
    """Outline ``masks``' pages (band key -> flat mask) in ``view``'s picture; {} clears."""
    view.picture.set_marks(masks)
    view.picture_item.update()


def moment(log, frame) -> tuple[int, float]:
    """(simulated second, share of its events applied) of ``frame`` in its run's ``log``;
    (-1, 1.0) before the first event."""
    if not frame.pos:
        return -1, 1.0
    ticks = log.column("tick", 0, max(frame.pos, len(log)))
    lo, hi = (int(np.searchsorted(ticks, frame.tick, side=s)) for s in ("left", "right"))
    return frame.tick, (frame.pos - lo) / max(1, hi - lo)


class Comparison(QtCore.QObject):
    """Run B of a window in compare mode: its engine, view, header, counters and plot curves."""

    def __init__(self, win, state: CompareState):
        super().__init__(win)
        self.win, self.state = win, state
        self.frame_b = None
        self.want = None                  # (simulated second, share of its events) asked of run B
        self.sought = None                # (tick, position) run B's worker last went to
        self.selection_b = None           # the inspected page of run B (run A's is win.state's)
        self.log_b = None                 # run B's LogSnapshot: its inspected page's history
        self.view_b = LayerView(theme=win.theme)
        self.view_b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.diff = None                  # scene.compare.FrameDiff of the two frames shown
        self.halos = {win.layer_view: Halo(), self.view_b: Halo()}
        self.view_b.scene().setItemIndexMethod(QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex)
        for view, halo in self.halos.items():
            view.scene().addItem(halo)
        self.head_a, self.head_b = QtWidgets.QLabel(), QtWidgets.QLabel()
        for head in (self.head_a, self.head_b):
            head.setToolTip(STEP_TIP)
            head.setTextFormat(Qt.TextFormat.RichText)
            head.setWordWrap(True)
        self._layout()
        self.counters = CompareCounters()
        self.dock = QtWidgets.QDockWidget("Compare: A | B | Δ", win)
        self.dock.setObjectName("dock_compare")
        self.dock.setWidget(self.counters)
        win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        win.tabifyDockWidget(win.docks["counters"], self.dock)
        self.dock.show()
        self.dock.raise_()
        self.status_b = QtWidgets.QLabel()
        self.status_b.setToolTip(STEP_TIP)
        win.statusBar().addPermanentWidget(self.status_b)
        self._links = []
        self._link(win.layer_view, self.view_b)
        self._link(self.view_b, win.layer_view)
        self.view_b.viewport().installEventFilter(win)
        self.view_b.pageHovered.connect(lambda ref: ref is not None and self.worker.describe(ref))
        self.view_b.pageClicked.connect(self.select_b)
        win.inspector.otherClicked.connect(self.select_b)
        win.state.selectionChanged.connect(self._selected_a)
        win.state.frameChanged.connect(self._follow)
        win.state.themeChanged.connect(self._themed)
        win.state.sourceChanged.connect(self._source_a)
        self.scenario_b = state.scenario_b()
        self.labels = C.run_labels(win.scenario, self.scenario_b, state.label)    # what A and B are
        self.engine = Engine(self.scenario_b, win)
        w = self.worker
        w.tickSought.connect(self._sought)
        w.frameReady.connect(self._show_b)
        w.described.connect(self.view_b.show_page_tip)
        w.inspected.connect(self._inspected_b)
        w.loaded.connect(self._loaded_b)
        w.logGrew.connect(self._log_b)
        w.failed.connect(self._failed)
        w.set_aspect(win.layer_view.viewport().width() / max(1, win.layer_view.viewport().height()))
        win.layer_view.aspectChanged.connect(w.set_aspect)    # B laid out as A is: the same layout
        self.engine.start()
        if win.frame is not None:
            self._follow(win.frame)
        for a in (win.a_step, win.a_back):
            a.setToolTip(f"{a.toolTip()}. {STEP_TIP}")
        self._themed(win.theme)
        win.legend.set_marks(True)

    @property
    def worker(self):
        return self.engine.worker


    # -- layout ---------------------------------------------------------------------------
    def _pane(self, head, view) -> QtWidgets.QWidget:
        pane = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(pane)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(head)
        lay.addWidget(view, 1)
        return pane

    def _layout(self) -> None:
        """The central picture becomes two panes, A and B, in a splitter: side by side (File > Compare
        with > Compare stacked, Ctrl+Shift+L, puts A over B)."""
        win = self.win
        self.central = win.layer_view.parentWidget().layout()
        self.split = QtWidgets.QSplitter()
        self.split.setChildrenCollapsible(False)
        self.central.replaceWidget(win.layer_view, self.split)
        self.split.addWidget(self._pane(self.head_a, win.layer_view))
        self.split.addWidget(self._pane(self.head_b, self.view_b))
        self.split.setOrientation(Qt.Orientation.Vertical if win.a_compare_stacked.isChecked()
                                  else Qt.Orientation.Horizontal)
        self.split.setSizes([1, 1])          # two equal panes
        self.split.show()

    def stack(self, on: bool) -> None:
        self.split.setOrientation(Qt.Orientation.Vertical if on else Qt.Orientation.Horizontal)

    def _link(self, src: LayerView, dst: LayerView) -> None:
        """Zoom and pan of ``src`` follow on ``dst`` (the same layout shows the same pages)."""
        def sync(*_):
            if getattr(self, "_syncing", False):
                return
            self._syncing = True
            try:
                if src._fit:
                    dst.fit()
                else:
                    dst._fit, dst._held = False, None
                    dst.setTransform(src.transform())
                    dst.centerOn(src.visible_rect().center())
            finally:
                self._syncing = False
        for bar in (src.horizontalScrollBar(), src.verticalScrollBar()):
            for sig in (bar.valueChanged, bar.rangeChanged):
                sig.connect(sync)
                self._links.append((sig, sync))

    def _themed(self, theme: str) -> None:
        self.view_b.set_theme(theme)
        if self.diff is not None:
            self._marks()
        self._heads()

    # -- the two runs ------------------------------------------------------------------------
    def _follow(self, frame_a) -> None:
        """Run A moved: run B goes to the same point of the same simulated second (the same
        share of that second's events applied)."""
        self.want = moment(self.win.state.log, frame_a)
        self.worker.seek_tick(*self.want)
        self._heads()

    def _source_a(self, src) -> None:
        """Run A was loaded again (its settings changed in place): the state says so."""
        sc = src.scenario
        self.state = dataclasses.replace(self.state, text_a=sc.text, src_a=sc.path or "<scenario>")
        self.labels = C.run_labels(sc, self.scenario_b, self.state.label)
        self._heads()

    def _sought(self, tick: int, pos: int) -> None:
        self.sought = (tick, pos)

    def aligned(self) -> bool:
        """Run B shows the simulated second run A does (its worker's answer to the last ask)."""
        return self.frame_b is not None and self.sought == (self.want, self.frame_b.pos)

    def _loaded_b(self, src) -> None:
        self.log_b = src.log

    def _log_b(self, log) -> None:
        self.log_b = log

    # -- inspecting run B ------------------------------------------------------------------------
    def select_b(self, ref) -> None:
        """Inspect run B's page ``ref``: run A's selection is dropped (one inspector)."""
        self.win.state.select(None)
        self.selection_b = ref
        self.worker.inspect(ref)

    def _selected_a(self, ref) -> None:
        if ref is not None and self.selection_b is not None:     # a page of run A: B's goes
            self.selection_b = None
            self.view_b.set_chain(())

    def _inspected_b(self, info) -> None:
        if self.selection_b is None:
            return                       # answered after run A's page was chosen
        win = self.win
        names = self.frame_b.vm_names if self.frame_b is not None else ()
        win.inspector.show_inspection(info, (self.log_b, names))
        self.view_b.set_chain(info.get("chain", ()))
        win.docks["inspector"].raise_()

    def _show_b(self, frame) -> None:
        self.frame_b = frame
        self.view_b.set_frame(frame, 1.0)
        if self.selection_b is not None:
            self.worker.inspect(self.selection_b)      # the inspector follows run B's position
        fa = self.win.frame
        if fa is not None and self.aligned():
            self.win.plots.show_other(self.state.label, frame)
            self.counters.show_counters(fa.counters, frame.counters)
            self._marks()
        self._heads()
        QtCore.QTimer.singleShot(0, self.worker.ack)

    def _marks(self) -> None:
        fa, fb = self.win.frame, self.frame_b
        if fa is None or fb is None:
            return
        self.diff = diff_frames(fa, fb)
        for (view, halo), (f, masks) in zip(self.halos.items(), ((fa, self.diff.a), (fb, self.diff.b))):
            masks = {k: d.mask for k, d in masks.items() if d.count}
            mark(view, masks)
            halo.set_masks(f.bands, masks, self.win.theme)
            view.viewport().update()

    def _heads(self) -> None:
        t = P.THEMES[self.win.theme]
        fa, fb = self.win.frame, self.frame_b
        n = self.diff.pages if self.diff is not None else 0

        def where(f):
            if f is None:
                return "loading…"
            host = f.counters.get("host", {})
            return (f"event {f.pos:,} / {f.total:,}{'' if f.finished else '+'} · t = {f.tick} s · "
                    f"{host.get('state', '?')} · free {host.get('free_mb', 0):,.1f} MB")
        a_name, b_name = (html.escape(x) for x in self.labels)
        t_a = f" · t = {fa.tick} s" if fa is not None else ""
        t_b = f" · t = {fb.tick} s" if fb is not None else " · loading…"
        self.head_a.setText(f"<span style='color:{t['fg']}'><b>━━ A</b> {a_name}{t_a}</span> · "
                            f"<b style='color:{t['diff']}'>▢ {n:,}</b> pages differ")
        self.head_b.setText(f"<span style='color:{t['fg']}'><b>┅┅ B</b> {b_name}{t_b}</span>")
        self.head_a.setToolTip(f"Run A: {where(fa)}\n{STEP_TIP}")
        self.head_b.setToolTip(f"Run B: {where(fb)}\n{STEP_TIP}" + (f"\nIts event: {fb.narration}" if fb else ""))
        self.status_b.setText(f"B: {where(fb)}")

    def _failed(self, msg: str) -> None:
        self.win.message(f"Run B ({html.escape(self.state.label)}): {html.escape(msg)}", error=True)

    # -- leaving ---------------------------------------------------------------------------------
    def close(self) -> None:
        win = self.win
        self.engine.shutdown()
        win.state.frameChanged.disconnect(self._follow)
        win.state.themeChanged.disconnect(self._themed)
        win.state.sourceChanged.disconnect(self._source_a)
        win.state.selectionChanged.disconnect(self._selected_a)
        win.inspector.otherClicked.disconnect(self.select_b)
        if self.selection_b is not None:
            win.inspector.clear()
        win.layer_view.aspectChanged.disconnect(self.worker.set_aspect)
        for sig, slot in self._links:
            sig.disconnect(slot)
        mark(win.layer_view, {})
        win.layer_view.scene().removeItem(self.halos[win.layer_view])
        win.legend.set_marks(False)
        win.layer_view.setParent(None)
        self.central.replaceWidget(self.split, win.layer_view)
        self.split.deleteLater()
        win.layer_view.show()
        win.removeDockWidget(self.dock)
        self.dock.deleteLater()
        win.statusBar().removeWidget(self.status_b)
        self.status_b.deleteLater()
        win.plots.show_other(None)
        for a in (win.a_step, win.a_back):
            a.setToolTip(a.toolTip().replace(f". {STEP_TIP}", ""))
        win.layer_view.fit()
        self.deleteLater()


# -- what the window calls ------------------------------------------------------------------------
def start(win, state: CompareState) -> Comparison:
    """Open compare mode with ``state`` (a running one closes first)."""
    close(win)
    win.comparison = Comparison(win, state)
    a, b = (html.escape(x) for x in win.comparison.labels)
    win.message(f"Comparing <b>A</b>: {a} (this run, solid) with <b>B</b>: {b} (dashed). "
                "Pages that differ are outlined in both; stepping moves A and B follows to the same "
                "simulated second. File &gt; Close comparison (Ctrl+Shift+W) goes back to one run.")
    return win.comparison


def close(win) -> None:
    """Back to one run (nothing when not comparing). Run B's objects are garbage now: they
    are collected here, in the GUI thread; left to Python's automatic collection, a cycle
    among them could be collected by an allocation of run A's simulation thread, deleting Qt
    objects from the wrong thread (docs/architecture.md, the worker)."""
    cmp = getattr(win, "comparison", None)
    if cmp is not None:
        win.comparison = None
        cmp.close()
        del cmp
        gc.collect()


def opened(win, sc) -> None:
    """The window opened scenario ``sc``: a comparison of the last one closes; a compare tour
    (a ``[compare]`` table) opens compare mode with its run B."""
    close(win)
    if sc.compare_sets:
        try:
            start(win, CompareState.pair(sc))
        except InputError as e:
            win.message(f"Cannot compare: {html.escape(str(e))}", error=True)


def with_settings(win, host: dict, vms: dict) -> None:
    """Run B = the current scenario with the Settings dialog's values (the ones that differ)."""
    sc = win.scenario
    changes = changed_from(sc, host, vms)
    if not changes:
        win.message("Change a setting first: run B is the current scenario with the settings changed.")
        return
    try:
        b = C.apply(sc.text, changes, sc.path or sc.name)
        S.pair_fits_machine(sc.path or sc.name, sc, b)
    except InputError as e:
        win.message(f"Cannot compare: {html.escape(str(e))}", error=True)
        return
    start(win, CompareState.of(sc, b, C.label(changes)))


def with_scenario(win, name_or_path: str) -> None:
    """Run B = another scenario file or built-in."""
    try:
        start(win, CompareState.pair(win.scenario, other=name_or_path))
    except InputError as e:
        QtWidgets.QMessageBox.warning(win, "Cannot compare", str(e))


def choose_file(win) -> None:
    path, _ = QtWidgets.QFileDialog.getOpenFileName(win, "Compare with scenario", str(Path.home()),
                                                    "Scenarios (*.toml);;All files (*)")
    if path:
        with_scenario(win, path)


def add_menu(win, menu: QtWidgets.QMenu) -> None:
    """File > Compare with… (a scenario file, a built-in, changed settings) and Close comparison."""
    sub = menu.addMenu("Compare &with")
    sub.setToolTipsVisible(True)
    sub.setToolTip("Run another scenario, or this one with other settings, beside this run")
    sub.addAction(win._act("Scenario file…", lambda: choose_file(win), ["Ctrl+Shift+O"],
                           "Run B = another scenario file, beside this run (Ctrl+Shift+O)"))
    sub.addAction(win._act("Changed settings…", win.settings_dialog, ["Ctrl+Shift+,"],
                           "The Settings dialog: change settings, then 'Compare with the current run'"))
    sub.addSeparator()
    for name in S.builtin_names():
        sub.addAction(win._act(name, lambda n=name: with_scenario(win, n),
                               tip=f"Run B = the built-in scenario {name!r}"))
    win.a_close_compare = win._act("Close comparison", lambda: close(win), ["Ctrl+Shift+W"],
                                   "Back to one run: drop run B (Ctrl+Shift+W)")
    menu.addAction(win.a_close_compare)
    win.a_compare_stacked = win._act("Compare stacked", lambda: win.comparison and win.comparison.stack(
        win.a_compare_stacked.isChecked()), ["Ctrl+Shift+L"], "Compare mode: run A over run B rather than "
        "side by side (Ctrl+Shift+L)", checkable=True)
    sub.addAction(win.a_compare_stacked)
