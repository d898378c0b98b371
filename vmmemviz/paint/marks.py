"""Compare marks: the outline of a band's pages that differ from the other run.

A band's differing pages (a flat mask, ``scene.compare``) become one ARGB image, SUB
pixels per cell each way, holding the outline of every marked region, one sub-pixel
thick inside its edge: a lone page is a ring around its own colour, a block of pages a
frame around the block, so the cells' colours stay readable. The image covers the band's
cells (band-local unit squares), scaled smoothly to whatever the painter's zoom is.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

from ..scene import palette as P
from ..scene.compare import grid_mask

SUB = 3                      # image pixels per cell, each way
MAX_PIXELS = 1 << 24         # a larger band's marks get one pixel per cell (then a tint)


def outline(grid: np.ndarray, sub: int = SUB) -> np.ndarray:
    """(rows*sub, cols*sub) bool: the edge pixels of the True regions of ``grid``."""
    up = np.repeat(np.repeat(grid, sub, 0), sub, 1)
    pad = np.pad(up, 1)
    inner = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    return up & ~inner


class MarkPainter:
    """Paints one band's marks in band-local cell coordinates."""

    def __init__(self, band, mask: np.ndarray, theme: str):
        grid = grid_mask(band, mask)
        self.count = int(grid.sum())
        sub = SUB if grid.size * SUB * SUB <= MAX_PIXELS else 1
        edge = outline(grid, sub) if sub > 1 else grid
        argb = np.zeros(edge.shape, np.uint32)
        r, g, b, _ = P.hex_rgba(P.THEMES[theme]["diff"])
        argb[edge] = 0xFF000000 | (r << 16) | (g << 8) | b
        self._argb = np.ascontiguousarray(argb)          # the image reads this buffer
        h, w = argb.shape
        self.image = QtGui.QImage(self._argb.data, w, h, 4 * w, QtGui.QImage.Format.Format_ARGB32)
        self.cells = QtCore.QRectF(0, 0, band.cols, band.rows)

    def paint(self, painter: QtGui.QPainter) -> None:
        if not self.count:
            return
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(self.cells, self.image)
        painter.restore()
