"""The legend on screen (``paint.legend`` draws it)."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ..paint.legend import PAD, Legend
from ..scene.palette import MEANING

__all__ = ["Legend", "LegendWidget"]


class LegendWidget(QtWidgets.QWidget):
    """The legend on screen: always visible under the layer view."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.legend = Legend(font=self.font(), note=True, compact=True)
        self.marks = False          # compare mode: a row for the pages that differ from the other run
        self.setToolTip("What every colour of the page grids means. Zoomed out, where a pixel covers "
                        "many pages, it shows a reclaimed one (swapped, compressed, ballooned) if it "
                        "covers any, else the first page it covers. Past 24 VMs the VM hues repeat: the column "
                        "labels name each VM, and a swatch's tooltip the VMs of its hue")
        sp = QtWidgets.QSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)

    def set_marks(self, on: bool):
        self.marks = on
        self.set_vms(self.legend.vm_names, self.legend.theme)

    def set_vms(self, vm_names, theme: str):
        if (tuple(vm_names), theme, self.marks) != (self.legend.vm_names, self.legend.theme, self.legend.marks):
            self.legend = Legend(vm_names, theme, self.font(), marks=self.marks, note=True, compact=True)
            self.setMinimumHeight(self.heightForWidth(self.width()))
            self.updateGeometry()
            self.update()

    def event(self, ev):
        """A swatch's tooltip names its VMs, or says what its pages are (``palette.MEANING``);
        elsewhere the legend's own tooltip."""
        if ev.type() == QtCore.QEvent.Type.ToolTip:
            p = ev.position() if hasattr(ev, "position") else ev.pos()
            label = self.legend.label_at(self.width() - 2 * PAD, p.x() - PAD, p.y() - PAD / 2)
            if label in MEANING:
                label = f"{label}: {MEANING[label]}"
            QtWidgets.QToolTip.showText(ev.globalPos(), label or self.toolTip(), self)
            return True
        return super().event(ev)

    def hasHeightForWidth(self):
        return True

    def heightForWidth(self, w):
        return int(self.legend.height_for(w - 2 * PAD) + PAD)

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        # layouts in docks and splitters ignore height-for-width: ask for the rows outright
        self.setMinimumHeight(self.heightForWidth(self.width()))

    def sizeHint(self):
        return QtCore.QSize(600, self.heightForWidth(max(self.width(), 600)))

    def paintEvent(self, ev):
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self.legend.paint(p, QtCore.QRectF(PAD, PAD / 2, self.width() - 2 * PAD, self.height()))
        p.end()
