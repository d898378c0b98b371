"""The counters panel: an esxtop-like table per VM and the host's free memory against its states.

``CountersPanel.show_frame(frame)`` shows ``frame.counters``: every counter a VM has, in
esxtop's groups (MEM, TPS, MCTL, SWAP, ZIP, MMU) with units and tooltips as the model
declares them (model/views/counters.py), whatever keys the mechanisms add; the host
figures; and a gauge of free memory with the state thresholds (high / clear / soft / hard /
low) from :mod:`vmmemviz.model.reclaim.freestates`. No ESXi facts are kept here. The state
colours and threshold helpers here are shared by the plots.
"""
from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from vmmemviz.model.config import settings as S
from vmmemviz.model.core.counter import GROUPS as MODEL_GROUPS
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.views import counters as declared
from ..scene import palette as P
from .eventlist import mono_font, swatch

# Okabe-Ito, for the host states; events and VMs take their colours from scene.palette
GREEN, SKY, YELLOW, ORANGE, VERMILLION = "#009E73", "#56B4E9", "#F0E442", "#E69F00", "#D55E00"

# host states, from plenty of free memory to none
STATE_COLORS = {"high": GREEN, "clear": SKY, "soft": YELLOW, "hard": ORANGE, "low": VERMILLION}
STATE_HELP = {name: states.state_help(i) for i, name in enumerate(states.STATE_NAMES)}

# esxtop group -> (title, colour: that of the events behind it, tooltip)
GROUPS = {g: (title, P.GROUP_COLOURS[events] if events else P.THEMES["light"]["muted"], what)
          for g, (title, events, what) in MODEL_GROUPS.items()}
# esxtop name -> (group, unit, "NAME: meaning"), from the model's declarations
VM_COUNTERS = {n: (c.group, c.unit, f"{n}: {c.help}") for n, c in declared.VM.items()}


def vm_counter_info(name: str, value=None) -> tuple[str, str, str]:
    """(group, unit, tooltip) of a VM counter; one the model does not declare (from an
    esxtop capture) goes to "other" with the unit its name or value suggests."""
    if name in VM_COUNTERS:
        return VM_COUNTERS[name]
    if name.endswith("/s"):
        unit = "MB/s"
    elif name.startswith("%"):
        unit = "%"
    elif isinstance(value, float):
        unit = "MB"
    else:
        unit = ""
    return "other", unit, f"{name} ({GROUPS['other'][2].lower()})"


def host_counter_info(key: str) -> tuple[str, str, str]:
    """(block, label, tooltip) of a host counter; an undeclared one joins the block of the
    declared counters that share its prefix (``swap_rclmtgt_mb`` -> SWAP/MB)."""
    c = declared.HOST.get(key)
    if c is not None:
        return c.group, c.label, f"{c.group} {c.label}: {c.help}"
    label = key.removesuffix("_mb").replace("_", " ")
    prefix = key.split("_")[0] + "_"
    block = next((c.group for k, c in declared.HOST.items() if "_" in key and k.startswith(prefix)), "OTHER")
    if block != "OTHER":
        label = label.split(" ", 1)[-1]
    return block, label, f"{block} {label}"


def counter_name(who: str, key: str) -> str:
    """A counter as the panels name it: a host one by its esxtop block and label ("VMKMEM
    free", "PSHARE/MB shared"), a VM's by the VM and its esxtop column ("web01 SZTGT")."""
    if who == "host":
        block, label, _ = host_counter_info(key)
        return f"{block} {label}"
    return f"{who} {key}"


def fmt(value) -> str:
    """A counter as esxtop prints it: MB with two decimals, counts whole, flags Y/N."""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def mb_text(mb) -> str:
    """A host figure in MB: two decimals as esxtop prints them, whole from 1,000 MB up (a
    host's 262,144 MB, its minfree and its max side by side fit the panel)."""
    return f"{mb:,.0f}" if isinstance(mb, float) and mb >= 1_000 else fmt(mb)


def threshold_lines(host: dict, host_settings: dict) -> list[tuple[str, float]]:
    """(state, MB) of each threshold line, top down (``states.threshold_lines``)."""
    managed = float(host["managed_mb"])
    minfree = states.minfree_mb(managed, host_settings["Mem.MemMinFreePct"])
    return states.threshold_lines(host_settings["Sim.StateModel"], managed, minfree)


def state_pill(label: QtWidgets.QLabel, state: str) -> None:
    """Show a host state as a coloured pill with its meaning as tooltip."""
    c = QtGui.QColor(STATE_COLORS.get(state, VERMILLION))
    text = "black" if c.lightnessF() > 0.45 else "white"
    label.setText(f" {state} ")
    label.setStyleSheet(f"background:{c.name()}; color:{text}; border-radius:6px; padding:1px 6px; "
                        "font-weight:bold;")
    label.setToolTip(STATE_HELP.get(state, state))


class FreeGauge(QtWidgets.QWidget):
    """Free memory on a log scale, the zone of the host's state tinted, the thresholds marked
    and labelled.

    The thresholds are shares of minFree (16, 32, 64, 100, 400%), so on a log scale they
    are nearly evenly spaced, and both a small and a large free figure stay readable.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.free = 0.0
        self.managed = 1.0
        self.lines: list[tuple[str, float]] = []
        self.state = "high"
        self.setMinimumSize(320, 64)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

    def set_values(self, free: float, managed: float, lines, state: str) -> None:
        self.free, self.managed, self.lines, self.state = free, managed, lines, state
        tips = "\n".join(f"{n}: {mb:,.2f} MB — {STATE_HELP[n]}" for n, mb in lines)
        self.setToolTip(f"Free memory {free:,.2f} MB of {managed:,.2f} MB managed (log scale); "
                        f"host state {state}.\nThresholds:\n{tips}")
        self.update()

    def _range(self):
        lo = max(min(mb for _, mb in self.lines) / 2, 1e-3) if self.lines else 0.01
        return lo, max(self.managed, lo * 10)

    def x_of(self, mb: float) -> float:
        """x pixel of ``mb`` on the gauge's log scale."""
        lo, hi = self._range()
        r = self._bar()
        f = (math.log(max(mb, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return r.left() + min(max(f, 0.0), 1.0) * r.width()

    def _small(self) -> QtGui.QFont:
        font = QtGui.QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() - 1, 7))
        return font

    def values(self) -> list:
        """(state, text, left x) of the threshold values drawn under the gauge: MB, whole from
        100 MB up; where two would collide, clear's first (it is minFree, which every other
        threshold is a share of), then from the lowest up."""
        fm, out, taken = QtGui.QFontMetricsF(self._small()), [], []
        for name, mb in sorted(self.lines, key=lambda t: (t[0] != "clear", t[1])):
            value = f"{mb:,.0f}" if mb >= 100 else f"{mb:,.2f}"
            w, x = fm.horizontalAdvance(value), self.x_of(mb)
            if all(x + w / 2 + 4 < a or x - w / 2 > b + 4 for a, b in taken):
                out.append((name, value, x - w / 2))
                taken.append((x - w / 2, x + w / 2))
        return out

    def _bar(self) -> QtCore.QRectF:
        return QtCore.QRectF(8, 22, self.width() - 16, 20)

    def paintEvent(self, _):
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QtGui.QPalette.ColorRole.WindowText)
        bar = self._bar()
        lo, hi = self._range()
        # the zone of the host's state: from where the state below is entered up to where this
        # one is left upward (hysteresis: zones of neighbouring states overlap)
        if self.state in [n for n, _ in self.lines]:
            bottom, top = states.band(self.lines, self.state)
            c = QtGui.QColor(STATE_COLORS[self.state])
            c.setAlpha(90)
            x0, x1 = self.x_of(max(bottom, lo)), self.x_of(min(top, hi))
            p.fillRect(QtCore.QRectF(x0, bar.top(), x1 - x0, bar.height()), c)
        # free memory: a solid bar over the zones
        fill = QtGui.QColor(STATE_COLORS.get(self.state, VERMILLION))
        p.fillRect(QtCore.QRectF(bar.left(), bar.top() + 5, self.x_of(self.free) - bar.left(), bar.height() - 10),
                   fill)
        p.setPen(QtGui.QPen(text, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(bar)
        # threshold marks: state names above, their MB below
        p.setFont(self._small())
        fm = QtGui.QFontMetricsF(p.font())
        muted = QtGui.QColor(text)
        muted.setAlpha(170)
        name_right = -1e9
        for name, mb in sorted(self.lines, key=lambda t: t[1]):
            x = self.x_of(mb)
            p.setPen(QtGui.QPen(text, 1.5 if name == "high" else 1,
                                Qt.PenStyle.DashLine if name == "high" else Qt.PenStyle.SolidLine))
            p.drawLine(QtCore.QPointF(x, bar.top() - 3), QtCore.QPointF(x, bar.bottom() + 3))
            w = fm.horizontalAdvance(name)
            left = max(x - w / 2, name_right + 2)
            p.drawText(QtCore.QPointF(left, bar.top() - 6), name)
            name_right = left + w
        p.setPen(muted)
        for _, value, x0 in self.values():
            p.drawText(QtCore.QPointF(x0, bar.bottom() + fm.ascent() + 4), value)
        # the free figure in a box at the end of the free bar, inside the gauge
        marker = f"free {mb_text(self.free)} MB"
        w, h = fm.horizontalAdvance(marker) + 8, fm.height() + 2
        x = self.x_of(self.free) + 4
        if x + w > bar.right():
            x = self.x_of(self.free) - w - 4
        box = QtCore.QRectF(max(x, bar.left() + 2), bar.center().y() - h / 2, w, h)
        back = pal.color(QtGui.QPalette.ColorRole.Base)
        back.setAlpha(220)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(back)
        p.drawRoundedRect(box, 3, 3)
        p.setPen(text)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, marker)
        p.end()


class GroupHeader(QtWidgets.QHeaderView):
    """A horizontal header with a second row naming each column's esxtop group, in its colour."""

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.groups: list[str] = []
        self.setSectionsClickable(False)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter)

    def sizeHint(self):
        s = super().sizeHint()
        return QtCore.QSize(s.width(), s.height() + self.fontMetrics().height() + 6)

    def paintSection(self, painter, rect, index):
        band = self.fontMetrics().height() + 6
        painter.save()
        super().paintSection(painter, rect.adjusted(0, band, 0, 0), index)
        painter.restore()
        if index >= len(self.groups):
            return
        g = self.groups[index]
        title, color, _ = GROUPS[g]
        c = QtGui.QColor(color)
        top = QtCore.QRect(rect.left(), rect.top(), rect.width(), band)
        painter.fillRect(top.adjusted(0, 0, 0, -2), self.palette().color(QtGui.QPalette.ColorRole.Window))
        painter.fillRect(QtCore.QRect(top.left(), top.bottom() - 3, top.width(), 3), c)
        first = index == 0 or self.groups[index - 1] != g
        if first:  # the group's name once, over its first column, spilling right
            painter.setPen(self.palette().color(QtGui.QPalette.ColorRole.WindowText))
            f = painter.font()
            f.setBold(True)
            painter.setFont(f)
            painter.setClipping(False)
            painter.drawText(top.adjusted(4, 0, 200, -3), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             title)


class VMCountersModel(QtCore.QAbstractTableModel):
    """Rows = VMs, columns = every counter the VMs have, in group order."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.vms: dict = {}
        self.names: list[str] = []
        self.columns: list[str] = []
        self.info: list[tuple[str, str, str]] = []

    def set_counters(self, vms: dict) -> bool:
        """Take new values; returns True when the columns changed (the header needs a repaint)."""
        keys = []
        for c in vms.values():
            keys += [k for k in c if k not in keys]
        order = list(GROUPS)
        known = list(VM_COUNTERS)
        first = next(iter(vms.values()), {})
        info = {k: vm_counter_info(k, first.get(k)) for k in keys}
        keys.sort(key=lambda k: (order.index(info[k][0]), known.index(k) if k in known else len(known)))
        names = list(vms)
        if keys != self.columns or names != self.names:
            self.beginResetModel()
            self.vms, self.names, self.columns = vms, names, keys
            self.info = [info[k] for k in keys]
            self.endResetModel()
            return True
        self.vms = vms
        if names and keys:
            self.dataChanged.emit(self.index(0, 0), self.index(len(names) - 1, len(keys) - 1))
        return False

    def rowCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(self.names)

    def columnCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        name, key = self.names[index.row()], self.columns[index.column()]
        value = self.vms[name].get(key)
        if role == Qt.ItemDataRole.DisplayRole:
            return "–" if value is None else fmt(value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            unit = self.info[index.column()][1]
            return f"{name}: {key} = {fmt(value)} {unit}\n{self.info[index.column()][2]}"
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if section >= len(self.columns):
                return None
            if role == Qt.ItemDataRole.DisplayRole:
                unit = self.info[section][1]
                return f"{self.columns[section]}\n{unit}" if unit else self.columns[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.info[section][2] + (f" ({self.info[section][1]})" if self.info[section][1] else "")
        elif role == Qt.ItemDataRole.DisplayRole and section < len(self.names):
            return self.names[section]
        elif role == Qt.ItemDataRole.DecorationRole and section < len(self.names):
            return swatch(P.vm_hue(section))     # the VM's colour in the layer view and the plots
        elif role == Qt.ItemDataRole.ToolTipRole and section < len(self.names):
            return f"Virtual machine {self.names[section]} (its colour in the layer view and the plots)"
        return None


class CountersPanel(QtWidgets.QWidget):
    """esxtop's memory view for the current position: host block, free-memory gauge, VM table."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.host_settings = S.defaults(S.HOST_SETTINGS)
        self.lines: list[tuple[str, float]] = []
        self.chars: list[int] = []          # per column, the longest figure shown so far
        mono = mono_font()

        host_box = QtWidgets.QGroupBox("Host (esxtop VMKMEM)")
        host_box.setToolTip("The host's machine memory as esxtop's memory view shows it")
        hl = QtWidgets.QVBoxLayout(host_box)
        top = QtWidgets.QHBoxLayout()
        self.state_label = QtWidgets.QLabel()
        top.addWidget(QtWidgets.QLabel("State:"))
        top.addWidget(self.state_label)
        top.addStretch(1)
        hl.addLayout(top)
        self.gauge = FreeGauge()
        hl.addWidget(self.gauge)
        self.host_grid = QtWidgets.QGridLayout()
        self.host_grid.setHorizontalSpacing(8)
        hl.addLayout(self.host_grid)
        self.host_values: dict[str, QtWidgets.QLabel] = {}

        self.model = VMCountersModel(self)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.model)
        self.header = GroupHeader(self.table)
        self.table.setHorizontalHeader(self.header)
        self.table.setFont(mono)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().setDefaultSectionSize(QtGui.QFontMetrics(mono).height() + 6)
        self.table.setToolTip("Per-VM counters, named as esxtop's memory view names them")
        vm_box = QtWidgets.QGroupBox("Virtual machines (esxtop GID rows)")
        vl = QtWidgets.QVBoxLayout(vm_box)
        vl.addWidget(self.table)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(host_box)
        lay.addWidget(vm_box, 1)

    def set_settings(self, host_settings: dict) -> None:
        """The scenario's host settings (state model, Mem.MemMinFreePct); defaults otherwise."""
        self.host_settings = {**S.defaults(S.HOST_SETTINGS), **host_settings}

    def show_frame(self, frame) -> None:
        host = frame.counters["host"]
        self.lines = threshold_lines(host, self.host_settings)
        state = str(host.get("state", "high"))
        state_pill(self.state_label, state)
        self.gauge.set_values(float(host["free_mb"]), float(host["managed_mb"]), self.lines, state)
        self._show_host(host)
        if self.model.set_counters(frame.counters["vms"]):
            self.header.groups = [i[0] for i in self.model.info]
            self.table.resizeColumnsToContents()
            self.header.viewport().update()
            self.chars = [0] * len(self.model.columns)
            rows = min(len(self.model.names), 6)      # always room for a few VM rows
            row_h = self.table.verticalHeader().defaultSectionSize()
            self.table.setMinimumHeight(self.header.sizeHint().height() + rows * row_h
                                        + self.table.horizontalScrollBar().sizeHint().height() + 4)

        self._widen_columns()

    def _widen_columns(self) -> None:
        """Widen a column whose figures got longer (12.50 -> 112.50), never narrow one: no jitter."""
        m = self.model
        for c, key in enumerate(m.columns):
            longest = max(len(fmt(m.vms[vm].get(key, ""))) for vm in m.names)
            if longest > self.chars[c]:
                self.chars[c] = longest
                self.table.resizeColumnToContents(c)

    def _show_host(self, host: dict) -> None:
        keys = [k for k in host if k != "state"]
        if set(keys) != set(self.host_values):
            self._build_host_grid(keys)
        for k in keys:
            v = host[k]
            self.host_values[k].setText(mb_text(v) + " MB" if k.endswith("_mb") else fmt(v))

    def _build_host_grid(self, keys) -> None:
        while self.host_grid.count():
            self.host_grid.takeAt(0).widget().deleteLater()
        self.host_values = {}
        blocks: dict[str, list[str]] = {}
        for k in keys:
            blocks.setdefault(host_counter_info(k)[0], []).append(k)
        mono = mono_font()
        for row, (block, ks) in enumerate(blocks.items()):
            title = QtWidgets.QLabel(f"<b>{block}</b>")
            self.host_grid.addWidget(title, row, 0)
            for j, k in enumerate(ks):
                _, label, tip = host_counter_info(k)
                name = QtWidgets.QLabel(label)
                value = QtWidgets.QLabel()
                value.setFont(mono)
                value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                for w in (name, value):
                    w.setToolTip(tip)
                self.host_grid.addWidget(name, row, 1 + 2 * j)
                self.host_grid.addWidget(value, row, 2 + 2 * j)
                self.host_values[k] = value
        self.host_grid.setColumnStretch(self.host_grid.columnCount(), 1)
