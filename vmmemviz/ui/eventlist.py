"""The event list: every logged event as # / tick / kind / narration, virtual and filterable.

The list reads frozen LogSnapshots (``set_log``), never the live log the simulation appends
to. The log may hold millions of rows, so nothing is made per row in advance: the model maps
view rows to log indices (all rows, or a numpy array of the ones that pass the filters)
and narrates a row only when the view paints it. The kind-group filter is vectorised; the
text search has to narrate, so it scans in slices between paints and the list fills in as
it goes. ``show_frame`` grows the list to ``frame.total`` and selects the current event;
choosing a row emits ``seekRequested(index + 1)``. The filters are the application state's
(:class:`~vmmemviz.ui.appstate.Filters`): the bar shows them (``set_filters``) and reports
edits (``filtersEdited``); Esc in the search box emits ``escaped`` (focus back to the view).
"""
from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from vmmemviz.model.core import events as E
from ..scene import palette as P
from .appstate import SEARCH_MIN, Filters, groups

SCAN_SLICE_S = 0.02          # text search: narrate this long, then let the UI breathe
COLUMNS = ("#", "tick", "kind", "event")
COLUMN_TIPS = ("Event number: choosing event n shows the state after it (position n)",
               "Simulated second the event happened in", "Event kind; its colour is its group's",
               "What happened, in words")


def group_colour(group: str) -> str:
    return P.GROUP_COLOURS.get(group, P.THEMES["light"]["muted"])


@lru_cache(maxsize=None)
def swatch(colour: str, size: int = 10) -> QtGui.QIcon:
    """A square of ``colour`` with a thin dark frame (visible on light and dark)."""
    pm = QtGui.QPixmap(size, size)
    pm.fill(QtGui.QColor(colour))
    p = QtGui.QPainter(pm)
    p.setPen(QtGui.QColor(0, 0, 0, 110))
    p.drawRect(0, 0, size - 1, size - 1)
    p.end()
    return QtGui.QIcon(pm)


def chip(group: str) -> QtGui.QIcon:
    """The swatch of an event group's colour."""
    return swatch(group_colour(group))


def mono_font() -> QtGui.QFont:
    """The system's fixed-width font: page numbers and figures line up."""
    return QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)


class EventModel(QtCore.QAbstractTableModel):
    """Rows of the log (< total) that pass the filters; narration made on demand."""

    scanProgress = QtCore.Signal(int, int)     # rows scanned, rows to scan (text search)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.log = None
        self.names: list[str] = []
        self.total = 0
        self.wanted = 0                         # rows the frames know of (the log may lag)
        self.filters = Filters()
        self.shown: np.ndarray | None = None    # log indices shown, None = all < total
        self.scanned = 0                        # log rows the filters have looked at
        self._kind_ok = np.ones(256, bool)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._scan)
        self._cells: dict[int, tuple] = {}
        self.mono = mono_font()

    # -- source and filters --------------------------------------------------------------
    @property
    def text(self) -> str:
        return self.filters.search

    def set_source(self, log, vm_names) -> None:
        """Another scenario: ``log`` is its LogSnapshot."""
        self.beginResetModel()
        self.log, self.names, self.total, self.wanted = log, list(vm_names), 0, 0
        self._restart()
        self.endResetModel()

    def set_log(self, log) -> None:
        """A newer snapshot of the same log: rows the frames asked for may show now."""
        self.log = log
        self.set_total(self.wanted)

    def set_filter(self, filters: Filters) -> None:
        self.beginResetModel()
        self.filters = filters
        self._restart()
        self.endResetModel()
        self._scan()

    def filtered(self) -> bool:
        return self.filters.active()

    def _restart(self) -> None:
        self._cells.clear()
        self._kind_ok = np.zeros(256, bool)
        for code, k in E.KINDS.items():
            self._kind_ok[code] = k.group in self.filters.groups
        self._buf = np.zeros(0, np.int64)
        self.shown = self._buf if self.filtered() else None
        self.scanned = 0

    def set_total(self, total: int) -> None:
        """The log has ``total`` rows now (it only grows while a source is set)."""
        self.wanted = max(self.wanted, total)
        total = min(total, len(self.log)) if self.log is not None else 0
        if total <= self.total:
            return
        old = self.total
        self.total = total
        if self.shown is None:
            self.beginInsertRows(QtCore.QModelIndex(), old, total - 1)
            self.endInsertRows()
        else:
            self._scan()

    def _scan(self) -> None:
        """Filter log rows [scanned, total): all at once by group, in time slices by text."""
        if self.shown is None or self.scanned >= self.total:
            return
        deadline = time.perf_counter() + SCAN_SLICE_S
        found = []
        while self.scanned < self.total:
            a = self.scanned
            b = min(self.total, a + (4096 if self.text else 1 << 20))
            rows = self.log.rows(a, b)
            idx = np.flatnonzero(self._kind_ok[rows["kind"]]) + a
            if self.text:
                idx = np.array([i for i in idx if self._matches(rows[i - a])], np.int64)
            found.append(idx)
            self.scanned = b
            if time.perf_counter() > deadline:
                break
        new = np.concatenate(found) if found else np.zeros(0, np.int64)
        if len(new):
            n = len(self.shown)
            if n + len(new) > len(self._buf):        # amortised growth: frames add a few rows each
                self._buf = np.concatenate([self._buf[:n], np.zeros(max(n, len(new), 1024), np.int64)])
            self._buf[n:n + len(new)] = new
            self.beginInsertRows(QtCore.QModelIndex(), n, n + len(new) - 1)
            self.shown = self._buf[:n + len(new)]
            self.endInsertRows()
        self.scanProgress.emit(self.scanned, self.total)
        if self.scanned < self.total:
            self._timer.start(0)

    def _matches(self, row) -> bool:
        """The search text is in the row's kind name or narration (made here, not cached)."""
        return self.text in E.KINDS[int(row["kind"])].name.lower() or self.text in E.narrate(row, self.names).lower()

    # -- rows <-> log indices ------------------------------------------------------------
    def log_index(self, row: int) -> int:
        return row if self.shown is None else int(self.shown[row])

    def step_from(self, index: int, n: int) -> int | None:
        """The log index ``n`` shown rows after (before, n < 0) log index ``index``; None when the
        filters show no such row (yet)."""
        if self.shown is None:
            return None
        k = int(np.searchsorted(self.shown, index, side="right" if n > 0 else "left")) + n - (n > 0)
        return int(self.shown[k]) if 0 <= k < len(self.shown) else None

    def row_of(self, index: int) -> int:
        """The row showing log index ``index``, else the nearest shown before it (-1: none)."""
        if self.shown is None:
            return min(index, self.total - 1)
        return int(np.searchsorted(self.shown, index, side="right")) - 1

    def narration(self, i: int) -> str:
        return self._cell(i)[2]

    def _cell(self, i: int) -> tuple:
        """(tick, kind, narration) of log row ``i``: a view asks for each of its cells apart."""
        s = self._cells.get(i)
        if s is None:
            if len(self._cells) > 20000:
                self._cells.clear()
            row = self.log[i]
            s = self._cells[i] = (int(row["tick"]), E.KINDS[int(row["kind"])], E.narrate(row, self.names))
        return s

    # -- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent=QtCore.QModelIndex()):
        if parent.isValid():
            return 0
        return self.total if self.shown is None else len(self.shown)

    def columnCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        i = self.log_index(index.row())
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return f"{i + 1:,}"
            tick, kind, text = self._cell(i)
            return str(tick) if col == 1 else kind.name if col == 2 else text
        if role == Qt.ItemDataRole.DecorationRole and col == 2:
            return chip(self._cell(i)[1].group)
        if role == Qt.ItemDataRole.ToolTipRole:
            k = self._cell(i)[1]
            if col == 2:
                return f"{k.name} ({k.group}): {k.help}\nF1: the guide on this kind of event."
            return f"#{i + 1:,}: {self.narration(i)}\nClick to show the state after this event."
        if role == Qt.ItemDataRole.TextAlignmentRole and col < 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and col < 2:
            return self.mono
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section]
        return None


class FlowLayout(QtWidgets.QLayout):
    """Widgets left to right, wrapping onto more lines when the panel is narrow."""

    def __init__(self, parent=None, spacing: int = 4):
        super().__init__(parent)
        self.items: list[QtWidgets.QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item):
        self.items.append(item)

    def count(self):
        return len(self.items)

    def itemAt(self, i):
        return self.items[i] if 0 <= i < len(self.items) else None

    def takeAt(self, i):
        return self.items.pop(i) if 0 <= i < len(self.items) else None

    def expandingDirections(self):
        return Qt.Orientation(0)

    def hasHeightForWidth(self):
        return True

    def heightForWidth(self, width):
        return self._place(QtCore.QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect):
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self):
        return self.minimumSize()

    def minimumSize(self):
        size = QtCore.QSize()
        for it in self.items:
            size = size.expandedTo(it.minimumSize())
        return size

    def _place(self, rect, move: bool) -> int:
        x, y, line = rect.x(), rect.y(), 0
        for it in self.items:
            hint = it.sizeHint()
            if x > rect.x() and x + hint.width() > rect.right() + 1:
                x, y, line = rect.x(), y + line + self.spacing(), 0
            if move:
                it.setGeometry(QtCore.QRect(QtCore.QPoint(x, y), hint))
            x += hint.width() + self.spacing()
            line = max(line, hint.height())
        return y + line - rect.y()


class EventTable(QtWidgets.QTableView):
    """The table asks for a few rows only: its dock scrolls the whole panel by its height for
    the width (the filter buttons wrap), so a tall wish would push the list's end out of view."""

    ROWS_WANTED = 4

    def sizeHint(self):
        hint = super().sizeHint()
        rows = self.verticalHeader().defaultSectionSize() * self.ROWS_WANTED
        return QtCore.QSize(hint.width(), self.horizontalHeader().sizeHint().height() + rows + 2 * self.frameWidth())


class EventList(QtWidgets.QWidget):
    """Search box and kind-group filters over a virtual table of the event log."""

    seekRequested = QtCore.Signal(int)
    filtersEdited = QtCore.Signal(object)      # Filters, as the user set them
    escaped = QtCore.Signal()                  # Esc in the search box

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = EventModel(self)
        self.current = -1
        self._selecting = False

        self.search = QtWidgets.QLineEdit()
        self.search.setPlaceholderText("Search events…  (Esc: back to the picture)")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip(f"Show only events whose kind or narration contains this text, {SEARCH_MIN} "
                               "characters at least (a VM name, GPPN 0x1a, MPN, shared, …). "
                               "Esc gives the keys back to the picture.")
        self.search.installEventFilter(self)
        self._search_timer = QtCore.QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)
        self._search_timer.timeout.connect(self._filter_changed)
        self.search.textChanged.connect(self._search_timer.start)

        self.buttons: dict[str, QtWidgets.QToolButton] = {}
        bar = FlowLayout(spacing=2)
        for g in groups():
            b = QtWidgets.QToolButton()
            b.setText(g)
            b.setIcon(chip(g))
            b.setCheckable(True)
            b.setChecked(True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setAutoRaise(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setToolTip(f"Show {g} events: {E.GROUP_TITLES.get(g, g)}")
            b.toggled.connect(lambda on, b=b: self._mark_button(b, on))
            b.toggled.connect(self._filter_changed)
            bar.addWidget(b)
            self.buttons[g] = b

        self.view = EventTable()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.verticalHeader().hide()
        vh = self.view.verticalHeader()
        vh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)   # uniform rows: no measuring
        vh.setDefaultSectionSize(self.fontMetrics().height() + 6)
        hh = self.view.horizontalHeader()
        hh.setStretchLastSection(True)
        digits = QtGui.QFontMetrics(mono_font()).horizontalAdvance("0")
        longest = max((k.name for k in E.KINDS.values()), key=self.view.fontMetrics().horizontalAdvance, default="")
        widths = (digits * 11 + 16, digits * 6 + 16, self.view.fontMetrics().horizontalAdvance(longest) + 40)
        for col, width in enumerate(widths):
            hh.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.Interactive)
            self.view.setColumnWidth(col, width)
        self.view.selectionModel().currentRowChanged.connect(self._row_chosen)
        self.view.clicked.connect(lambda ix: self._row_chosen(ix, None))

        self.status = QtWidgets.QLabel()
        self.status.setToolTip("Events shown / events logged so far")
        self.model.scanProgress.connect(self._show_status)
        self.model.rowsInserted.connect(self._show_status)
        self.model.modelReset.connect(self._show_status)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.search)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.status)

    def set_source(self, log, vm_names) -> None:
        self.current = -1
        self.model.set_source(log, vm_names)

    def set_log(self, log) -> None:
        self.model.set_log(log)
        self._select_current()

    def set_filters(self, filters: Filters) -> None:
        """Show ``filters`` (the application state's) in the bar and the list."""
        for g, b in self.buttons.items():
            if b.isChecked() != (g in filters.groups):
                b.blockSignals(True)
                b.setChecked(g in filters.groups)
                b.blockSignals(False)
                self._mark_button(b, g in filters.groups)
        if self.search.text() != filters.text:
            self.search.blockSignals(True)
            self.search.setText(filters.text)
            self.search.blockSignals(False)
        if filters != self.model.filters:
            self.model.set_filter(filters)
            self._select_current()

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.search and ev.type() == QtCore.QEvent.Type.KeyPress and ev.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return True
        return super().eventFilter(obj, ev)

    def show_frame(self, frame) -> None:
        self.model.set_total(frame.total)
        self.current = frame.pos - 1
        self._select_current()

    def _select_current(self) -> None:
        row = self.model.row_of(self.current) if self.current >= 0 else -1
        self._selecting = True
        try:
            if row < 0:
                self.view.clearSelection()
                self.view.scrollToTop()
            else:
                ix = self.model.index(row, 0)
                self.view.selectionModel().setCurrentIndex(
                    ix, QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QtCore.QItemSelectionModel.SelectionFlag.Rows)
                self.view.scrollTo(ix, QtWidgets.QAbstractItemView.ScrollHint.EnsureVisible)
        finally:
            self._selecting = False

    def _row_chosen(self, ix, _prev) -> None:
        if self._selecting or not ix.isValid():
            return
        i = self.model.log_index(ix.row())
        if i != self.current:
            self.current = i
            self.seekRequested.emit(i + 1)

    @staticmethod
    def _mark_button(b: QtWidgets.QToolButton, on: bool) -> None:
        """A hidden group reads as struck out, its chip hollow."""
        f = b.font()
        f.setStrikeOut(not on)
        b.setFont(f)
        b.setIcon(chip(b.text()) if on else swatch("transparent"))

    def _filter_changed(self) -> None:
        f = Filters(frozenset(g for g, b in self.buttons.items() if b.isChecked()), self.search.text())
        self.set_filters(f)
        self.filtersEdited.emit(f)

    def _show_status(self, *_) -> None:
        m = self.model
        text = f"{m.rowCount():,} of {m.total:,} events"
        if 0 < len(self.search.text().strip()) < SEARCH_MIN:
            text += f" — type {SEARCH_MIN} characters to search"
        if m.shown is not None and m.scanned < m.total:
            text += f" — searching… {100 * m.scanned // max(m.total, 1)}%"
        self.status.setText(text)
