"""Windows for real data: a live Linux process's memory (the esxtop capture window is in
esxtopwindow.py).

* :class:`ProcessWindow` (File -> Snapshot process): the process's guest virtual pages,
  mapping by mapping, coloured by what ``/proc/PID/pagemap`` and ``/proc/kpageflags`` say
  (present, file or anonymous, the shared zero page, THP, KSM-merged, mapped more than once,
  swapped), and where they lie in guest physical memory (PFN order): the guide's point
  that a contiguous virtual space is not contiguous underneath.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ..scene import palette as P

ROW = 512                      # pages per grid row: 2 MiB of address space

# palette codes of the snapshot grid, with their legend text
ANON, FILE, ZERO, THP, SHARED_, SWAPPED, ABSENT = (P.vm_code(0), P.vm_code(4), P.vm_code(0, True),
                                                     P.vm_code(3), P.SHARED, P.GSWAP, P.UNMAPPED)
SNAP_LEGEND = ((ANON, "anonymous, private"), (FILE, "file-backed"), (ZERO, "the shared zero page"),
               (THP, "transparent huge page"), (SHARED_, "mapped more than once / KSM-merged"),
               (SWAPPED, "swapped out by the guest"), (ABSENT, "not present"))


def snapshot_codes(snap) -> tuple[np.ndarray, list]:
    """Palette codes of the snapshot's pages, mapping after mapping in address order, and
    [(first cell, mapping)] to name them."""
    cells, where = [], []
    at = 0
    for m in snap.mappings:
        if m.skipped or not m.pages:
            continue
        c = np.full(m.pages, ABSENT, np.uint8)
        c[m.present & ~m.has("ANON")] = FILE
        c[m.has("ANON")] = ANON
        c[m.has("THP")] = THP
        c[(m.mapcount > 1) | m.has("KSM")] = SHARED_
        c[m.has("ZERO_PAGE")] = ZERO
        c[m.swapped] = SWAPPED
        cells.append(c)
        where.append((at, m))
        at += m.pages
    return (np.concatenate(cells) if cells else np.zeros(ROW, np.uint8)), where


def _grid_item(codes: np.ndarray, width: int, theme: str) -> pg.ImageItem:
    rows = -(-len(codes) // width)
    img = np.full(rows * width, P.BG, np.uint8)
    img[:len(codes)] = codes
    item = pg.ImageItem(img.reshape(rows, width).T, levels=(0, 255))
    item.setLookupTable(P.lut(theme))
    return item


def _grid_plot(view, col: int, title: str, item) -> pg.PlotItem:
    plot = view.addPlot(row=0, col=col, title=title)
    plot.addItem(item)
    plot.invertY(True)
    plot.hideAxis("bottom")
    plot.setAspectLocked(True)
    plot.getAxis("left").setLabel("row (2 MiB)")
    return plot


class ProcessWindow(QtWidgets.QMainWindow):
    """A live process: guest virtual -> guest physical, as the guest kernel reports it."""

    def __init__(self, snap, name: str = "", theme: str = "dark", parent=None):
        super().__init__(parent)
        self.snap, self.theme = snap, theme
        self.setWindowTitle(f"Process {snap.pid} {name} — guest virtual and guest physical memory")
        self.codes, self.where = snapshot_codes(snap)
        t = snap.totals()
        view = pg.GraphicsLayoutWidget()
        view.setBackground(P.THEMES[theme]["bg"])
        self.gv_item = _grid_item(self.codes, ROW, theme)
        self.gv = _grid_plot(view, 0, f"guest virtual: {t['pages']:,} pages, mapping after mapping", self.gv_item)
        # guest physical: where the present pages lie among the guest's frames (PFN order)
        pfns = np.concatenate([m.pfn[m.present] for _, m in self.where]) if self.where else np.zeros(0)
        self.pfn_max = int(pfns.max()) + 1 if len(pfns) else 1
        self.pfn_bin = max(1, -(-self.pfn_max // (ROW * 512)))   # at most 512 rows
        phys = np.full(-(-self.pfn_max // self.pfn_bin), P.FREE, np.uint8)
        phys[(pfns // self.pfn_bin).astype(np.int64)] = ANON
        self.gp = _grid_plot(view, 1, f"guest physical: where those pages lie (1 cell = {self.pfn_bin} PFNs)",
                             _grid_item(phys, ROW, theme))
        self.gv_item.setAcceptHoverEvents(True)
        self.gv_item.hoverEvent = self._hover
        # the mappings, largest first: choosing one shows it in the grid
        self.table = QtWidgets.QTableWidget(len(self.where), 4)
        self.table.setHorizontalHeaderLabels(["mapping", "perms", "pages", "present"])
        order = sorted(range(len(self.where)), key=lambda i: -self.where[i][1].pages)
        for row, i in enumerate(order):
            at, m = self.where[i]
            for col, v in enumerate((Path(m.path).name or "[anonymous]", m.perms, m.pages, int(m.present.sum()))):
                it = QtWidgets.QTableWidgetItem(f"{v:,}" if isinstance(v, int) else v)
                it.setData(QtCore.Qt.ItemDataRole.UserRole, i)
                it.setToolTip(m.path or "anonymous memory")
                self.table.setItem(row, col, it)
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(0, 170)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.itemSelectionChanged.connect(self._show_mapping)
        split = QtWidgets.QSplitter()
        split.addWidget(self.table)
        split.addWidget(view)
        split.setSizes([360, 840])
        self.gv.autoRange()
        self.gp.autoRange()
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        summary = QtWidgets.QLabel(
            f"{len(self.where)} mappings; {t['present']:,} pages present, {t['anon']:,} anonymous, "
            f"{t['zero_page']:,} on the zero page, {t['thp']:,} in transparent huge pages, {t['ksm']:,} "
            f"KSM-merged, {t['shared']:,} mapped more than once, {t['swapped']:,} swapped. "
            f"Contiguous virtual memory, scattered physical frames.")
        summary.setWordWrap(True)
        lay.addWidget(summary)
        lay.addWidget(split, 1)
        legend = QtWidgets.QHBoxLayout()
        for code, text in SNAP_LEGEND:
            chip = QtWidgets.QLabel()
            pm = QtGui.QPixmap(12, 12)
            pm.fill(QtGui.QColor(P.colour(code, theme)))
            chip.setPixmap(pm)
            legend.addWidget(chip)
            legend.addWidget(QtWidgets.QLabel(text))
        legend.addStretch(1)
        lay.addLayout(legend)
        self.setCentralWidget(central)
        self.resize(1200, 800)

    def _show_mapping(self) -> None:
        items = self.table.selectedItems()
        if not items:
            return
        at, m = self.where[items[0].data(QtCore.Qt.ItemDataRole.UserRole)]
        r0, r1 = at // ROW, (at + m.pages) // ROW + 1
        self.gv.setYRange(r0 - 1, max(r1, r0 + 8) + 1)

    def page_at(self, cell: int):
        """(mapping, page index) of a grid cell, or None past the end."""
        for at, m in reversed(self.where):
            if cell >= at:
                return (m, cell - at) if cell - at < m.pages else None
        return None

    def describe(self, cell: int) -> str:
        hit = self.page_at(cell)
        if hit is None:
            return ""
        m, i = hit
        flags = [f for f in ("ANON", "ZERO_PAGE", "THP", "KSM", "HUGE") if m.has(f)[i]]
        where = f"PFN {int(m.pfn[i]):#x}" if m.present[i] else ("swapped" if m.swapped[i] else "not present")
        return (f"{m.path or '[anonymous]'} {m.perms}\nGVPN {int(m.gvpn[i]):#x} -> {where}\n"
                f"mapped {int(m.mapcount[i])}x {' '.join(flags)}")

    def _hover(self, ev):
        if ev.isExit():
            self.gv_item.setToolTip("")
            return
        p = ev.pos()
        self.gv_item.setToolTip(self.describe(int(p.y()) * ROW + int(p.x())))


def image_scenario(paths: list[str], out_dir: str) -> str:
    """Write a scenario with one VM per guest memory image (salting 0, so sharing between
    the images shows); returns its path."""
    from ..importers.images import open_image

    text = ['name = "Guest memory images"', "duration = 600", "[host]"]
    vms, total = [], 0.0
    for i, p in enumerate(paths):
        img = open_image(p)
        g = img.page_numbers()
        mb = max(1.0, np.ceil((int(g.max()) + 1 if len(g) else 256) / 256))
        total += mb
        vms.append(f'[[vm]]\nname = "{Path(p).stem[:24]}-{i}"\nmemory_mb = {mb:g}\nimage = "{Path(p).resolve()}"\n')
    text.append(f"memory_mb = {np.ceil(total * 1.25 + 64):g}")
    text.append('[settings]\n"Mem.ShareForceSalting" = 0\n"Mem.ShareScanTime" = 10')
    out = Path(out_dir) / "images.vmmemviz.toml"
    out.write_text("\n".join(text + vms))
    return str(out)


# -- the File menu's real-data actions (the main window only puts them in its menu) --------
def snapshot_process(win, pid: int | None = None):
    """File > Snapshot a process: ask for a PID (unless given), open its window; None if cancelled
    or unreadable (then a message says why)."""
    from ..errors import InputError
    from ..importers.procsnap import snapshot

    if pid is None or isinstance(pid, bool):       # a menu's triggered(checked) is no PID
        pid, ok = QtWidgets.QInputDialog.getInt(win, "Snapshot a process", "Process ID:",
                                                os.getpid(), 1, 1 << 22)
        if not ok:
            return None
    try:
        snap = snapshot(pid)
    except InputError as e:
        QtWidgets.QMessageBox.warning(win, "Cannot read that process", str(e))
        return None
    comm = Path(f"/proc/{pid}/comm")
    try:
        name = comm.read_text().strip()
    except OSError:                  # it exited meanwhile: the snapshot is still worth showing
        name = ""
    pw = ProcessWindow(snap, name, win.state.theme, win)
    pw.show()
    return pw


def open_capture(win, path: str | None = None):
    """File > Open esxtop capture: its counters and plots in a window of their own."""
    from ..errors import InputError
    from ..importers.esxtop import read_esxtop
    from .esxtopwindow import CaptureWindow

    if not path:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(win, "Open esxtop capture", str(Path.home()),
                                                        "esxtop batch output (*.csv);;All files (*)")
    if not path:
        return None
    try:
        cw = CaptureWindow(read_esxtop(path), win, win.theme)
    except InputError as e:
        QtWidgets.QMessageBox.warning(win, "Cannot read the capture", str(e))
        return None
    cw.show()
    return cw


def images_scenario(win, paths: list[str] | None = None) -> None:
    """File > Scenario from guest images: one VM per image, opened in the main window (an image
    the simulation cannot read is reported in the window's message strip)."""
    import tempfile

    from ..errors import InputError

    if not paths:
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            win, "Guest memory images", str(Path.home()), "Memory images (*.elf *.core *.raw *.vmem *.img);;All files (*)")
    if not paths:
        return
    try:
        win.open_scenario(image_scenario(paths, tempfile.mkdtemp(prefix="vmmemviz-")))
    except InputError as e:
        QtWidgets.QMessageBox.warning(win, "Cannot read the images", str(e))
