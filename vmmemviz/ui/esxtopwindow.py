"""The esxtop capture window (File -> Open esxtop capture) and File -> Export esxtop CSV.

One sample at a time (slider, real UTC timestamps): the host's counters once each with
their units, its Kernel State as esxtop reported it (pill, with the raw number and the
ESXi numbering it was read with) over a free-memory gauge whose zones use the same
reading; a table of the VMs, then ESXi's own groups, greyed; plots of the host and of one
counter per VM against the capture's time, each series marked with its own symbol at
its samples, or at MARKS of them on a long capture (one sample is a point, not an empty
plot); and Calibrate, which searches a scenario that reproduces the
sample (model.config.calibrate) in a thread and shows capture against simulated.
"""
from __future__ import annotations

import math
import os
import threading

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ..errors import InputError
from ..importers.esxtop import host_label, threshold_lines, unit
from ..outputfile import check_out, out_file
from ..scene import palette as P
from .counters import FreeGauge, state_pill

SAVE_CALIBRATED = "Save calibrated scenario"

HOST_PLOT = (("free_mb", "free", "#56B4E9", "o"), ("memctl_curr_mb", "Memctl", P.GROUP_COLOURS["balloon"], "t"),
             ("swap_curr_mb", "Swap", P.GROUP_COLOURS["swap"], "s"), ("zip_zipped_mb", "Zip", P.GROUP_COLOURS["zip"], "d"),
             ("pshare_saving_mb", "PShare saving", P.GROUP_COLOURS["tps"], "star"))   # the mechanisms' colours
MARKS = 40          # a series shows its symbol at most this many times (at every sample up to it)
VM_PLOT = ("GRANT", "TCHD", "MCTLSZ", "SWCUR", "CACHEUSD", "SHRD", "ZERO", "SZTGT", "%ACTV")
TABLE = ("MEMSZ", "GRANT", "TCHD", "%ACTV", "MCTL?", "MCTLSZ", "SWCUR", "CACHEUSD", "ZERO",
         "SHRD", "COWH", "OVHD", "RESV", "LIMIT", "SHARES", "MEMBERS")


def _fmt(v, key: str = "") -> str:
    if v is None:
        return "-"
    if key == "LIMIT" and v == -1:
        return "unlimited"
    if isinstance(v, float):
        return f"{v:,.0f}" if unit("vm", key) == "%" else f"{v:,.2f}"
    return str(v)


class _Calibrator(QtCore.QObject):
    """Runs a calibration off the GUI thread; reports by signals."""

    progress = QtCore.Signal(str)
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def run(self, sample, source, name, rounds, scale, swap_mbps):
        from vmmemviz.model.config.calibrate import calibrate

        def work():
            try:
                self.done.emit(calibrate(sample, source=source, name=name, rounds=rounds, scale=scale,
                                         progress=self.progress.emit, swap_mbps=swap_mbps))
            except Exception as e:          # shown in the window, never a crash
                self.failed.emit(f"{type(e).__name__}: {e}")
        t = threading.Thread(target=work, daemon=True)
        t.start()
        return t


def plot_series(plot, t, y, colour: str, symbol: str, width: float, name: str | None = None, size: int = 6) -> None:
    """A counter against time: a line through every sample, and ``symbol`` at each sample, or
    at MARKS of them evenly spread on a long capture (150 samples' symbols were one thick
    smear, in which Memctl's amber read as PShare's yellow: shapes tell them apart)."""
    pen = pg.mkPen(colour, width=width)
    marks = dict(symbol=symbol, symbolSize=size, symbolBrush=colour, symbolPen=colour)
    if len(t) <= MARKS:
        plot.plot(t, y, pen=pen, name=name, **marks)
        return
    plot.plot(t, y, pen=pen)
    k = math.ceil(len(t) / MARKS)
    plot.plot(t[::k], y[::k], pen=None, **marks)
    if name is not None:                # the legend shows the line with its symbol
        plot.plotItem.legend.addItem(pg.PlotDataItem(pen=pen, **marks), name)


class CaptureWindow(QtWidgets.QMainWindow):
    """An esxtop batch capture, sample by sample."""

    def __init__(self, cap, parent=None, theme: str = "dark"):
        super().__init__(parent)
        self.cap, self.theme = cap, theme
        self.names = list(cap.vms) + list(cap.system)
        self.setWindowTitle(f"esxtop capture {os.path.basename(cap.path)} — {cap.host_name}: "
                            f"{len(cap.vms)} VMs, {len(cap.system)} system groups, {cap.samples} samples")
        # controls
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(0, cap.samples - 1))
        self.slider.setValue(max(0, cap.samples - 1))
        self.slider.setToolTip("Sample of the capture (esxtop -b writes one row per interval)")
        self.slider.valueChanged.connect(self.show_sample)
        self.when = QtWidgets.QLabel()
        self.calibrate_button = QtWidgets.QPushButton("Calibrate scenario…")
        self.calibrate_button.setToolTip("Search a scenario that reproduces this sample (sizes, "
                                         "workloads, pressure history) and save it")
        self.calibrate_button.clicked.connect(lambda: self.calibrate())
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Sample"))
        top.addWidget(self.slider, 1)
        top.addWidget(self.when)
        top.addWidget(self.calibrate_button)
        # host: state pill, gauge, values
        self.state_label = QtWidgets.QLabel()
        self.state_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Fixed, QtWidgets.QSizePolicy.Policy.Fixed)
        self.raw_label = QtWidgets.QLabel()
        self.gauge = FreeGauge()
        self.host_grid = QtWidgets.QGridLayout()
        self.host_grid.setHorizontalSpacing(14)
        self.host_values: dict[str, QtWidgets.QLabel] = {}
        keys = [k for k in cap.host if k != "state"] + (["system_mb"] if cap.system else [])
        for i, k in enumerate(keys):
            name = QtWidgets.QLabel(host_label(k) if k != "system_mb" else "system groups")
            name.setToolTip(f"{k}: " + cap.columns.get(("host", k), "ESXi's own groups (hostd, vpxa, ...): "
                                                       "granted + overhead MB, memory the VMs cannot have"))
            val = QtWidgets.QLabel()
            val.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            self.host_grid.addWidget(name, i // 4, (i % 4) * 2)
            self.host_grid.addWidget(val, i // 4, (i % 4) * 2 + 1)
            self.host_values[k] = val
        state_row = QtWidgets.QHBoxLayout()
        state_row.addWidget(QtWidgets.QLabel("Kernel State"))
        state_row.addWidget(self.state_label)
        state_row.addWidget(self.raw_label)
        state_row.addWidget(self.gauge, 1)
        host_box = QtWidgets.QGroupBox(f"Host {cap.host_name}")
        hl = QtWidgets.QVBoxLayout(host_box)
        hl.addLayout(state_row)
        hl.addLayout(self.host_grid)
        # groups table: VMs first, then ESXi's own groups
        cols = [c for c in TABLE if any(c in g for g in (*cap.vms.values(), *cap.system.values()))]
        self.table_cols = cols
        self.table = QtWidgets.QTableWidget(len(self.names), len(cols) + 1)
        self.table.setHorizontalHeaderLabels(
            ["group"] + [f"{c}\n{unit('vm', c)}" for c in cols])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setToolTip(f"VMs ({cap.why_vm}) first, then ESXi's own groups (greyed), "
                              "which the host's system_mb sums")
        # VM legend: a list with colour chips and check boxes (which VMs the plot shows)
        self.vm_list = QtWidgets.QListWidget()
        self.vm_list.setToolTip("VMs in the per-VM plot (tick to show); system groups at the end")
        for i, n in enumerate(self.names):
            it = QtWidgets.QListWidgetItem(n if n in cap.vms else f"{n} (system)")
            pm = QtGui.QPixmap(12, 12)
            pm.fill(QtGui.QColor(self._colour(i)))
            it.setIcon(QtGui.QIcon(pm))
            it.setFlags(it.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(QtCore.Qt.CheckState.Checked if n in cap.vms else QtCore.Qt.CheckState.Unchecked)
            self.vm_list.addItem(it)
        self.vm_list.itemChanged.connect(lambda _: self.draw_vm_plot())
        # plots against the capture's own time
        self.host_plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.host_plot.setLabel("left", "MB")
        self.host_plot.setLabel("bottom", "time (UTC)")
        self.host_plot.addLegend(offset=(-4, 4), colCount=3)
        self.host_plot.showGrid(x=True, y=True, alpha=0.2)
        self.vm_plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.vm_plot.setLabel("bottom", "time (UTC)")
        self.vm_plot.showGrid(x=True, y=True, alpha=0.2)
        self.vm_counter = QtWidgets.QComboBox()
        self.vm_counter.addItems([c for c in VM_PLOT if any(c in g for g in cap.vms.values())] or ["GRANT"])
        self.vm_counter.currentTextChanged.connect(lambda _: self.draw_vm_plot())
        self.t = cap.times.astype("datetime64[s]").astype(np.int64).astype(float)
        for key, label, colour, symbol in HOST_PLOT:
            if key in cap.host:
                plot_series(self.host_plot, self.t, cap.host[key], colour, symbol, 2, label)
        if "minfree_mb" in cap.host:
            self.host_plot.plot(self.t, cap.host["minfree_mb"], name="minFree",
                                pen=pg.mkPen("#9AA3AD", width=1, style=QtCore.Qt.PenStyle.DashLine))
        if cap.samples == 1:            # one sample: a point in the middle of a minute
            for plot in (self.host_plot, self.vm_plot):
                plot.setXRange(self.t[0] - 30, self.t[0] + 30)
        self.cursor = [pg.InfiniteLine(angle=90, pen=pg.mkPen("#D55E00")) for _ in range(2)]
        self.host_plot.addItem(self.cursor[0])
        self.vm_plot.addItem(self.cursor[1])
        vm_side = QtWidgets.QWidget()
        vl = QtWidgets.QVBoxLayout(vm_side)
        vl.setContentsMargins(0, 0, 0, 0)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Per VM:"))
        row.addWidget(self.vm_counter)
        row.addStretch(1)
        vl.addLayout(row)
        vl.addWidget(self.vm_plot, 1)
        plots = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        plots.addWidget(self.host_plot)
        plots.addWidget(vm_side)
        lower = QtWidgets.QSplitter()
        lower.addWidget(self.table)
        lower.addWidget(plots)
        lower.addWidget(self.vm_list)
        lower.setSizes([560, 520, 180])
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.addLayout(top)
        lay.addWidget(host_box)
        lay.addWidget(lower, 1)
        lay.addWidget(self.status)
        self.setCentralWidget(central)
        self.resize(1280, 800)
        self._worker = _Calibrator()
        self._worker.progress.connect(self.status.setText)
        self._worker.done.connect(self._calibrated)
        self._worker.failed.connect(lambda m: self._finish(f"Calibration failed: {m}"))
        self.calibration = None
        self._out = None
        self.draw_vm_plot()
        self.show_sample(self.slider.value())

    def _colour(self, i: int) -> str:
        if i >= len(self.cap.vms):
            return "#8A8F98"
        return P.colour(P.vm_code(i), self.theme)

    def draw_vm_plot(self) -> None:
        key = self.vm_counter.currentText()
        self.vm_plot.setLabel("left", f"{key} ({unit('vm', key)})")
        for item in [i for i in self.vm_plot.listDataItems()]:
            self.vm_plot.removeItem(item)
        groups = {**self.cap.vms, **self.cap.system}
        for i, n in enumerate(self.names):
            if self.vm_list.item(i).checkState() != QtCore.Qt.CheckState.Checked or key not in groups[n]:
                continue
            c = self._colour(i)
            plot_series(self.vm_plot, self.t, groups[n][key], c, "o", 1.5, size=5)

    def sample_dict(self) -> dict:
        return self.cap.sample(self.slider.value())

    def show_sample(self, i: int) -> None:
        if not self.cap.samples:
            self.when.setText("no samples in this capture")
            return
        s = self.cap.sample(i)
        h = s["host"]
        self.when.setText(f"{np.datetime_as_string(self.cap.times[i], unit='s')} UTC  ({i + 1}/{self.cap.samples})")
        for k, lab in self.host_values.items():
            u = unit("host", k) if k != "system_mb" else "MB"
            lab.setText(f"{_fmt(h.get(k))} {u if u in ('MB', 'MB/s') else ''}".rstrip())
        state = h.get("state")
        if isinstance(state, str):
            state_pill(self.state_label, state)
            self.raw_label.setText(f"raw {h.get('state_raw', '?')}, read as ESXi {self.cap.esxi}")
        free, minfree = h.get("free_mb"), h.get("minfree_mb")
        if isinstance(free, float) and isinstance(minfree, float) and minfree > 0:
            lines = threshold_lines(self.cap.esxi, minfree)
            managed = h.get("managed_mb") or h.get("pmem_mb") or free * 8
            self.gauge.set_values(free, managed, lines, state if isinstance(state, str) else "high")
        groups = {**s["vms"], **s["system"]}
        grey = QtGui.QBrush(QtGui.QColor("#8A8F98"))
        for r, n in enumerate(self.names):
            row = [n] + [_fmt(groups[n].get(c), c) for c in self.table_cols]
            for col, text in enumerate(row):
                it = self.table.item(r, col)
                if it is None:
                    it = QtWidgets.QTableWidgetItem()
                    if col:
                        it.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                    if n in self.cap.system:
                        it.setForeground(grey)
                    self.table.setItem(r, col, it)
                it.setText(text)
        if i == self.slider.value() and self.table.columnWidth(0) < 40:
            self.table.resizeColumnsToContents()
        for c in self.cursor:
            c.setValue(self.t[i])

    # -- calibrate ---------------------------------------------------------------------
    def calibrate(self, path: str | None = None, rounds: int = 8, scale: float | None = None):
        """Ask where to save, then search in a thread; the result is saved and shown."""
        if not path:
            path = self._ask_path()
        if not path:
            return None
        try:
            check_out(path, SAVE_CALIBRATED, (self.cap.path,))
        except InputError as e:
            self.status.setText(str(e))
            return None
        i = self.slider.value()
        s = self.cap.sample(i)
        managed = s["host"].get("managed_mb") or 0
        if scale is None:   # a real-sized host runs slowly: simulate it at most 512 MB large
            scale = max(1.0, float(managed) / 512) if isinstance(managed, float) else 1.0
        self._out = path
        self.calibrate_button.setEnabled(False)
        self.status.setText("Calibrating: running the simulator…")
        return self._worker.run(s, f"{os.path.basename(self.cap.path)} sample {i} "
                                   f"({self.cap.times[i]} UTC)",
                                f"calibrated from {self.cap.host_name or 'an esxtop capture'}", rounds, scale,
                                self.cap.swap_out_mbps(i))

    def _calibrated(self, cal) -> None:
        from vmmemviz.model.config.calibrate import compare_table

        self.calibration = cal
        self.save_calibrated(self._out)
        box = QtWidgets.QDialog(self)
        box.setWindowTitle("Calibration: capture against simulated")
        text = QtWidgets.QPlainTextEdit(compare_table(cal))
        text.setReadOnly(True)
        text.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        save = QtWidgets.QPushButton("Save scenario as…")
        save.setToolTip("Save the calibrated scenario (TOML) under another name")
        save.clicked.connect(self._save_as)
        lay = QtWidgets.QVBoxLayout(box)
        lay.addWidget(text)
        lay.addWidget(save, 0, QtCore.Qt.AlignmentFlag.AlignRight)
        box.resize(760, 360)
        box.show()
        self.compare_dialog, self.compare_text = box, text

    def save_calibrated(self, path: str) -> bool:
        """The last calibration's scenario to ``path``; a path that cannot be written is one
        line in the status bar, and the calibration stays to be saved elsewhere."""
        bounds = "Within the bounds." if self.calibration.ok else "Not within every bound: see the table."
        try:
            with out_file(path, SAVE_CALIBRATED, (self.cap.path,)) as tmp:
                tmp.write_text(self.calibration.text, encoding="utf-8")
        except InputError as e:
            self._finish(f"{e}. {bounds} Save it with Save scenario as….")
            return False
        self._finish(f"Saved {path}. {bounds}")
        return True

    def _ask_path(self) -> str:
        """Where to save the calibrated scenario ("" when cancelled)."""
        return QtWidgets.QFileDialog.getSaveFileName(self, SAVE_CALIBRATED, "calibrated.vmmemviz.toml",
                                                     "Scenarios (*.toml)")[0]

    def _save_as(self) -> None:
        path = self._ask_path()
        if path:
            self.save_calibrated(path)

    def _finish(self, msg: str) -> None:
        self.status.setText(msg)
        self.calibrate_button.setEnabled(True)


def export_esxtop(parent, frame, scenario=None) -> str | None:
    """File -> Export esxtop CSV…: the run so far, one row per tick."""
    from ..importers.esxtop_out import alloc_columns, write_esxtop

    if frame is None or not frame.history:
        QtWidgets.QMessageBox.information(parent, "Export esxtop CSV", "Run the simulation first: "
                                          "there is no tick to write yet.")
        return None
    path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, "Export esxtop CSV", "run.esxtop.csv",
                                                    "esxtop batch output (*.csv)")
    if not path:
        return None
    try:
        write_esxtop(path, list(frame.history), alloc=alloc_columns(scenario) if scenario else None)
    except InputError as e:
        QtWidgets.QMessageBox.warning(parent, "Cannot write the file", str(e))
        return None
    return path
