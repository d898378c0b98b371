"""Arrows of the layer view as a scene item over the grids; ``paint.arrows`` draws them."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ..paint.arrows import ArrowPainter


class ArrowItem(QtWidgets.QGraphicsObject):
    """Shows one ``ArrowPainter`` (the picture's event arrows or its chain) at ``progress``."""

    def __init__(self, art: ArrowPainter, z: float = 10):
        super().__init__()
        self.art = art
        self.progress = 1.0
        self._rect = QtCore.QRectF()
        self.setZValue(z)

    @property
    def arrows(self):
        return self.art.arrows

    def refresh(self, rect: QtCore.QRectF) -> None:
        """The arrows changed; ``rect`` is the picture's scene rect."""
        self.prepareGeometryChange()
        self._rect = QtCore.QRectF(rect)
        self.update()

    def set_progress(self, p: float) -> None:
        self.progress = min(1.0, max(0.0, p))
        self.update()

    def boundingRect(self):
        return self._rect.adjusted(-50, -50, 50, 50)

    def paint(self, painter, option, widget=None):
        dev = painter.device()
        self.art.paint(painter, self.progress, QtCore.QRectF(0, 0, dev.width(), dev.height()))
