"""The legend: what every colour means, painted into any QPainter (screen or export)."""
from __future__ import annotations

from PySide6 import QtCore, QtGui

from ..scene import palette as P

SWATCH, PAD, GAP, TIGHT = 12, 6, 16, 3      # TIGHT: between swatches without text


class Legend:
    """Entries flow left to right and wrap; ``height_for(width)`` says how tall that is.
    ``used`` / ``outlines`` limit it to what a picture shows, ``marks`` adds a compare's
    "differs from the other run", ``note`` what a zoomed-out pixel shows, ``compact`` a swatch
    per VM hue when hues repeat (``palette.legend_entries``)."""

    def __init__(self, vm_names=(), theme: str = "dark", font: QtGui.QFont | None = None, used=None,
                 outlines: bool = True, marks: bool = False, note: bool = False, compact: bool = False):
        self.vm_names, self.theme = tuple(vm_names), theme
        self.font = font or QtGui.QFont()
        self.used, self.outlines, self.marks, self.note, self.compact = used, outlines, marks, note, compact

    def entries(self):
        return P.legend_entries(self.vm_names, self.theme, self.used, self.outlines, self.marks, self.note,
                                self.compact)

    def _places(self, width: float):
        fm = QtGui.QFontMetricsF(self.font)
        line = max(SWATCH, fm.height()) + PAD
        x = y = 0.0
        out = []
        for label, col, style in self.entries():
            w = SWATCH if style == "swatch" else fm.horizontalAdvance(label) + (0 if style == "note" else SWATCH + 5)
            if x > 0 and x + w > width:
                x, y = 0.0, y + line
            out.append((x, y, w, label, col, style))
            x += w + (TIGHT if style == "swatch" else GAP)
        return out, y + line

    def label_at(self, width: float, x: float, y: float) -> str | None:
        """The label of the entry at (x, y) of a legend ``width`` wide (a swatch's VMs)."""
        line = max(SWATCH, QtGui.QFontMetricsF(self.font).height()) + PAD
        for ex, ey, w, label, _, _ in self._places(width)[0]:
            if ex <= x < ex + w and ey <= y < ey + line:
                return label
        return None

    def height_for(self, width: float) -> float:
        return self._places(width)[1]

    def paint(self, painter: QtGui.QPainter, rect: QtCore.QRectF, background: bool = False) -> None:
        t = P.THEMES[self.theme]
        painter.save()
        if background:
            painter.fillRect(rect, QtGui.QColor(t["bg"]))
        painter.setFont(self.font)
        fm = QtGui.QFontMetricsF(self.font)
        places, _ = self._places(rect.width())
        line = max(SWATCH, fm.height())
        for x, y, _, label, col, style in places:
            sw = QtCore.QRectF(rect.x() + x, rect.y() + y + (line - SWATCH) / 2, SWATCH, SWATCH)
            if style == "note":               # text alone, muted
                sw = QtCore.QRectF(rect.x() + x - 5, sw.y(), 0, SWATCH)
            elif style == "outline":
                painter.setPen(QtGui.QPen(QtGui.QColor(col), 2))
                painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                painter.drawRect(sw.adjusted(1, 1, -1, -1))
            else:
                painter.setPen(QtGui.QPen(QtGui.QColor(t["grid"]), 1))
                painter.setBrush(QtGui.QColor(col))
                painter.drawRect(sw)
                if style == "hatch":
                    painter.setBrush(QtGui.QBrush(QtGui.QColor(0, 0, 0, 150), QtCore.Qt.BrushStyle.BDiagPattern))
                    painter.drawRect(sw)
            if style == "swatch":
                continue
            painter.setPen(QtGui.QColor(col if style == "note" else t["fg"]))
            painter.drawText(QtCore.QPointF(sw.right() + 5, rect.y() + y + (line + fm.ascent() - fm.descent()) / 2),
                             label)
        painter.restore()
