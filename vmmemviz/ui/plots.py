"""The plots panel: memory per VM over time and host free memory against the state thresholds.

``PlotsPanel.show_frame(frame)`` reads ``frame.history`` (one dict per tick). It keeps the
series in growing numpy arrays and only appends the ticks it has not seen, so a frame costs
the same with ten ticks or ten thousand; a plot appears when its counter first shows up
(SHRD once page sharing runs, MCTLSZ once ballooning runs, ...). The host plot names its
state thresholds on its right axis, outside the curves (thresholds closer than a line of
text share one label: "low…soft" for low, hard and soft); every plot keeps a right axis as
wide, so their time axes line up.
"""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from vmmemviz.model.config import settings as S
from ..scene import palette as P
from .counters import STATE_COLORS, STATE_HELP, threshold_lines, vm_counter_info

PLOT_HEIGHT = 110       # px, each plot at least; the panel scrolls when they do not fit
METRICS = (             # (title, VM counter), in the order the plots stack under the host's
    ("Consumed", "GRANT"),
    ("Shared", "SHRD"),
    ("Ballooned", "MCTLSZ"),
    ("Swapped", "SWCUR"),
    ("Compressed", "CACHEUSD"),
)


def vm_pen(i: int) -> QtGui.QPen:
    """VM ``i``'s pen: the colour of its pages in the layer view."""
    return pg.mkPen(P.vm_hue(i), width=2)


def cached(item) -> None:
    """Paint ``item`` once into a pixmap until it changes: moving the tick line then costs a blit
    instead of redrawing thousands of points and the axis labels."""
    item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


class Series:
    """A growing float array (amortised appends, views for plotting)."""

    def __init__(self):
        self.a = np.zeros(256)

    def set(self, i: int, v: float) -> None:
        if i >= len(self.a):
            self.a = np.concatenate([self.a, np.zeros(max(i + 1, len(self.a)))])
        self.a[i] = v

    def view(self, n: int) -> np.ndarray:
        return self.a[:n]


class PlotsPanel(QtWidgets.QWidget):
    """Stacked time plots with a shared x axis (seconds) and a line at the current tick."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.host_settings = S.defaults(S.HOST_SETTINGS)
        self.legend = QtWidgets.QLabel()
        self.legend.setToolTip("One colour per VM in every plot")
        self.view = pg.GraphicsLayoutWidget()
        self.view.setToolTip("Memory over simulated time (seconds); the vertical line is the current tick. "
                             "Drag to pan, wheel to zoom, right-click for options.")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.legend)
        self.readout = QtWidgets.QLabel(" ")
        self.readout.setToolTip("The values under the mouse pointer")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.readout)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(self.view)
        lay.addWidget(scroll, 1)
        self.frame = None
        self.other = None                   # run B of a comparison: (label, Frame), drawn dashed
        self.shown, self._stale = True, False     # in a hidden tab the curves wait (set_shown)
        self._reset(())
        self.view.scene().sigMouseMoved.connect(self._hover)

    def set_settings(self, host_settings: dict) -> None:
        """The scenario's host settings (state model, Mem.MemMinFreePct); defaults otherwise."""
        self.host_settings = {**S.defaults(S.HOST_SETTINGS), **host_settings}
        self._thresholds = None

    def changeEvent(self, event) -> None:
        """A theme change: draw again in the new palette's colours."""
        super().changeEvent(event)
        if event.type() == QtCore.QEvent.Type.PaletteChange and getattr(self, "frame", None) is not None:
            self._reset(self.vm_names)
            self.show_frame(self.frame)

    def _reset(self, vm_names) -> None:
        self.view.clear()
        self.n = 0
        self.first = None                                   # history[0]: tells scenarios apart
        self.vm_names = list(vm_names)
        self.ticks = Series()
        self.free = Series()
        self.values: dict[tuple[str, str], Series] = {}     # (metric title, vm) -> series
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.cursors: list[pg.InfiniteLine] = []
        self._thresholds = None
        self._threshold_items: list[pg.InfiniteLine] = []
        self.host_plot = self._add_plot("Host free memory", "free_mb",
                                        "Host free memory (MB) against the thresholds of the host states")
        self._host_top = 1.0
        self.host_plot.vb.sigResized.connect(lambda *_: self._label_thresholds(self._host_top))
        self.free_curve = self.host_plot.plot(pen=pg.mkPen(self._text_color(), width=2), name="free")
        cached(self.free_curve.curve)
        self.other_curves: dict[tuple[str, str], pg.PlotDataItem] = {}     # (title, vm or "") -> B's
        self._show_legend()

    def _text_color(self) -> QtGui.QColor:
        return self.palette().color(QtGui.QPalette.ColorRole.WindowText)

    def _add_plot(self, title: str, key: str, tip: str) -> pg.PlotItem:
        """A plot for ``title``, x linked to the host plot; the time axis shows under the last."""
        text = self._text_color()
        self.view.setBackground(self.palette().color(QtGui.QPalette.ColorRole.Base))
        p = pg.PlotItem()
        p.setTitle(f"{html.escape(title)} <span style='font-size:8pt'>({html.escape(key)}, MB)</span>",
                   color=text, size="9pt")
        p.setToolTip(tip)
        for side in ("left", "bottom"):
            ax = p.getAxis(side)
            ax.setPen(pg.mkPen(text))
            ax.setTextPen(pg.mkPen(text))
            cached(ax)
        p.setLabel("bottom", "simulated time (s)", color=text.name())
        p.showGrid(y=True, alpha=0.15)
        p.setClipToView(True)
        p.setDownsampling(auto=True, mode="peak")
        p.setMouseEnabled(x=True, y=False)
        p.setMinimumHeight(PLOT_HEIGHT)
        right = p.getAxis("right")          # the host plot's names its thresholds; the others line up
        right.setWidth(self._right_width())
        right.setStyle(showValues=not self.plots, tickLength=4 if not self.plots else 0,
                       hideOverlappingLabels=False)
        right.setPen(pg.mkPen(text))
        right.setTextPen(pg.mkPen(text))
        p.showAxis("right")
        if self.plots:
            p.setXLink(self.host_plot)
        cursor = pg.InfiniteLine(angle=90, movable=False,
                                 pen=pg.mkPen(text, width=1.5, style=Qt.PenStyle.DotLine))
        cursor.setToolTip("the current tick (the event shown in the other views)")
        p.addItem(cursor, ignoreBounds=True)
        self.cursors.append(cursor)
        # re-stack: the host plot first, then METRICS order
        self.plots[title] = p
        items = sorted(self.plots.values(), key=lambda q: self._order(q))
        for item in list(self.view.ci.items):
            self.view.ci.removeItem(item)
        for row, plot in enumerate(items):
            plot.showAxis("bottom", row == len(items) - 1)
            self.view.addItem(plot, row=row, col=0)
        self.view.setMinimumHeight(len(items) * (PLOT_HEIGHT + 10) + 30)
        return p

    def _order(self, plot) -> int:
        titles = [t for t, _ in METRICS]
        title = next(t for t, q in self.plots.items() if q is plot)
        return titles.index(title) if title in titles else -1

    def set_shown(self, shown: bool) -> None:
        """Whether the panel is on screen (not in a hidden tab): hidden, it keeps the history but
        draws no curves (at host scale a few hundred, 30 ms a seek); shown again, it draws them."""
        self.shown = shown
        if shown and self._stale:
            self._draw()

    def show_frame(self, frame) -> None:
        self.frame = frame
        hist = frame.history
        first = hist[0] if hist else None
        # the history of one timeline holds the same dicts from frame to frame: another first
        # dict is another run (another scenario, or the same re-run with other settings)
        if list(frame.vm_names) != self.vm_names or (first is not None and self.first is not None
                                                     and first is not self.first):
            self._reset(frame.vm_names)
        self.first = first if first is not None else self.first
        if len(hist) != self.n:
            if len(hist) > self.n:
                self._append(hist)
            else:                               # a seek back: the history ends at the frame's tick
                self.n = len(hist)
            if self._thresholds is None and hist:
                self._show_thresholds(hist[-1]["host"])
            if self.shown:
                self._draw()
            else:
                self._stale = True
        for c in self.cursors:
            c.setValue(frame.tick)
        if self.other is not None:
            self._draw_other()

    def show_other(self, label: str | None, frame=None) -> None:
        """Run B of a comparison (``label``: what it changes) dashed over this run's curves, up
        to its ``frame``; ``label`` None: no comparison any more."""
        if label != (self.other[0] if self.other else None):
            for (title, _), curve in self.other_curves.items():
                self.plots[title].removeItem(curve)
            self.other_curves = {}
        self.other = None if label is None else (label, frame)
        self._show_legend()
        if self.other is not None and self.frame is not None:
            self._draw_other()

    def _draw_other(self) -> None:
        """B's history as dashed curves in the plots A has (memory from 0 up to either's top)."""
        hist = self.other[1].history if self.other[1] is not None else ()
        x = np.array([h["tick"] for h in hist], float)
        series = {("Host free memory", ""): [h["host"]["free_mb"] for h in hist]}
        for title, key in METRICS:
            for vm in self.vm_names:
                if title in self.plots:
                    series[(title, vm)] = [h["vms"].get(vm, {}).get(key, 0.0) for h in hist]
        for (title, vm), y in series.items():
            curve = self.other_curves.get((title, vm))
            if curve is None:
                colour = vm_pen(self.vm_names.index(vm)).color() if vm else self._text_color()
                curve = self.plots[title].plot(pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine))
                curve.setToolTip(f"run B ({self.other[0]}): {vm or 'host'} {title.lower()}, dashed")
                self.other_curves[(title, vm)] = curve
            curve.setData(x, np.asarray(y, float))
            top = max(float(np.max(y)) if len(y) else 0.0, self.plots[title].vb.viewRange()[1][1] / 1.08)
            self.plots[title].setYRange(0, max(top, 0.01) * 1.08, padding=0)

    def _append(self, hist) -> None:
        for i in range(self.n, len(hist)):
            h = hist[i]
            self.ticks.set(i, h["tick"])
            self.free.set(i, h["host"]["free_mb"])
            for title, key in METRICS:
                for vi, vm in enumerate(self.vm_names):
                    c = h["vms"].get(vm, {})
                    if key not in c:
                        continue
                    if (title, vm) not in self.values:
                        if title not in self.plots and not c[key]:
                            continue            # a plot appears once there is something to show
                        self._add_series(title, key, vi, vm, i)
                    self.values[(title, vm)].set(i, c[key])
        self.n = len(hist)

    def _add_series(self, title: str, key: str, vi: int, vm: str, start: int) -> None:
        if title not in self.plots:
            self._add_plot(title, key, f"{title} memory per VM: {vm_counter_info(key)[2]}")
        self.values[(title, vm)] = s = Series()
        for j in range(start):          # a counter that appears late was 0 before
            s.set(j, 0.0)
        curve = self.plots[title].plot(pen=vm_pen(vi), name=vm)
        curve.setToolTip(f"{vm}: {title.lower()} ({key})")
        cached(curve.curve)
        self.curves[(title, vm)] = curve

    def _show_thresholds(self, host: dict) -> None:
        for item in self._threshold_items:
            self.host_plot.removeItem(item)
        self._thresholds = threshold_lines(host, self.host_settings)
        self._threshold_items = []
        for name, mb in self._thresholds:
            pen = pg.mkPen(STATE_COLORS[name], width=1.5, style=Qt.PenStyle.DashLine)
            line = pg.InfiniteLine(pos=mb, angle=0, movable=False, pen=pen)
            line.setToolTip(f"{name}: {mb:,.2f} MB — {STATE_HELP[name]}")
            self.host_plot.addItem(line, ignoreBounds=True)
            self._threshold_items.append(line)

    def _right_width(self) -> int:
        """Room for the widest threshold label ("clear…high")."""
        fm = QtGui.QFontMetrics(self.font())
        return 2 * max(fm.horizontalAdvance(n) for n in STATE_HELP) + fm.horizontalAdvance("…") + 12

    def _label_thresholds(self, top: float) -> None:
        """The threshold names as the right axis's ticks, merged where they would overlap."""
        self._host_top = top
        if not self._thresholds:
            return
        px_per_mb = self.host_plot.vb.height() / max(top, 1e-9)
        line = QtGui.QFontMetrics(self.font()).height()
        groups: list[list[tuple[str, float]]] = []
        for name, mb in sorted(self._thresholds, key=lambda t: t[1]):
            if groups and (mb - groups[-1][0][1]) * px_per_mb < line:
                groups[-1].append((name, mb))
            else:
                groups.append([(name, mb)])
        floor = line / 2 / px_per_mb            # the lowest label stays above the axis's end
        ticks = [(max(floor, sum(mb for _, mb in g) / len(g)), "…".join(dict.fromkeys((g[0][0], g[-1][0]))))
                 for g in groups]
        self.host_plot.getAxis("right").setTicks([ticks, []])

    def _draw(self) -> None:
        self._stale = False
        n = self.n
        x = self.ticks.view(n)
        self.free_curve.setData(x, self.free.view(n))
        tops = {"host": max([float(self.free.view(n).max()) if n else 0.0] + [mb for _, mb in self._thresholds or ()])}
        for (title, vm), curve in self.curves.items():
            y = self.values[(title, vm)].view(n)
            curve.setData(x, y)
            tops[title] = max(tops.get(title, 0.0), float(y.max()) if n else 0.0)
        for title, plot in self.plots.items():   # memory from 0: the height is the amount
            top = max(tops.get(title if plot is not self.host_plot else "host", 0.0), 0.01) * 1.08
            plot.setYRange(0, top, padding=0)
            if plot is self.host_plot:
                self._label_thresholds(top)

    def _hover(self, scene_pos) -> None:
        """Show the figures of the plot under the pointer at the tick under it."""
        plot = next((p for p in self.plots.values() if p.sceneBoundingRect().contains(scene_pos)), None)
        if plot is None or not self.n:
            self.readout.setText(" ")
            return
        t = plot.vb.mapSceneToView(scene_pos).x()
        i = int(np.abs(self.ticks.view(self.n) - t).argmin())       # the nearest tick
        title = next(k for k, p in self.plots.items() if p is plot)
        if plot is self.host_plot:
            figures = [f"free <b>{self.free.a[i]:,.2f}</b> MB"]
        else:
            figures = [f"<span style='color:{vm_pen(v).color().name()}'>&#9632;</span> {html.escape(vm)} "
                       f"<b>{self.values[(title, vm)].a[i]:,.2f}</b>"
                       for v, vm in enumerate(self.vm_names) if (title, vm) in self.values]
        self.readout.setText(f"t = {int(self.ticks.a[i])} s · {html.escape(title)}: " + ", ".join(figures)
                             + ("" if plot is self.host_plot else " MB"))

    def _show_legend(self) -> None:
        text = self._text_color().name()
        chips = [f"<span style='color:{vm_pen(i).color().name()}'>&#9632;&#9632;</span>"
                 f"&nbsp;<span style='color:{text}'>{html.escape(vm)}</span>"
                 for i, vm in enumerate(self.vm_names)]
        free = f"<span style='color:{text}'>&#9472;&#9472; host free memory</span>"
        runs = [] if self.other is None else [
            f"<span style='color:{text}'><b>&#9472;&#9472; A</b> (this run) &nbsp;<b>- - - B</b> "
            f"({html.escape(self.other[0])})</span>"]
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(chips + [free]) + "".join(f"<br>{r}" for r in runs))
